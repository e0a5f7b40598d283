import { z } from 'zod'
import { And, In, MoreThan, type FindOperator } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import { defineRoute, groupNotFound, HttpError, RawJson, type RouteDefinition } from '../../kernel/routes'
import type { GroupInfo } from '../../kernel/context'
import { GroupEntity } from './groups.entity'
import { toGroupInfo } from './groups.directory'
import { isTimezone } from '../../config/config.schema'

/** Labels owners put on groups (e.g. 读书会, VIP) to target rules and shares. */
export const Label = z.string().trim().min(1).max(32).regex(/^[^,\s][^,]*$/, 'no commas')

/** Body of PATCH /api/v1/groups/:id. */
export const PatchGroupBody = z.strictObject({
  timezone: z.string().max(64).refine(isTimezone, 'unknown IANA timezone').optional(),
  labels: z.array(Label).max(20).refine((l) => new Set(l).size === l.length, 'labels must be unique').optional(),
}).refine((b) => b.timezone !== undefined || b.labels !== undefined, 'give timezone and/or labels')

/** Path parameter of a group id (WeCom room ids contain '@'). */
export const GroupIdParams = z.strictObject({ id: z.string().min(1).max(191) })

/** List query: page by opaque cursor, at most 100 a page. */
export const ListGroupsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(400).optional(),
  active: z.enum(['true', 'false']).optional(),
})

/** A group as the API shows it. */
function view(row: GroupEntity): Record<string, unknown> {
  return {
    id: row.id, name: row.name, botId: row.botId, memberCount: row.memberCount, active: row.active,
    timezone: row.timezone, labels: row.labels ?? [], joinedAt: new Date(row.joinedAt).toISOString(),
    leftAt: row.leftAt === null ? null : new Date(row.leftAt).toISOString(),
  }
}

const encodeCursor = (id: string): string => Buffer.from(id, 'utf8').toString('base64url')
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!id || encodeCursor(id) !== cursor) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', [{ path: 'query.cursor', message: 'invalid cursor' }])
  return id
}

/** Admin routes of the groups feature. */
/**
 * Group details cached for at most one activity flush interval: the 7-day activity cannot be fresher
 * than the last flush anyway, and dashboards poll. Changes through the API drop the entry at once.
 */
export class DetailCache {
  private readonly entries = new Map<string, { value: RawJson; until: number }>()
  private readonly loading = new Map<string, Promise<RawJson | null>>()
  constructor(private readonly now: () => number, private readonly ttlMs: number) {}

  /** The cached value, or one shared load for every concurrent caller (no stampede when an entry expires). */
  async through(id: string, load: () => Promise<Record<string, unknown> | null>): Promise<RawJson | null> {
    const hit = this.get(id)
    if (hit) return hit
    let pending = this.loading.get(id)
    if (!pending) {
      // Stored serialised: a hit is sent as it is, without JSON.stringify.
      pending = load().then((value) => {
        if (!value) return null
        const raw = new RawJson(JSON.stringify(value))
        this.set(id, raw)
        return raw
      }).finally(() => this.loading.delete(id))
      this.loading.set(id, pending)
    }
    return pending
  }
  get(id: string): RawJson | undefined {
    const e = this.entries.get(id)
    if (!e) return undefined
    if (e.until <= this.now()) { this.entries.delete(id); return undefined }
    return e.value
  }
  set(id: string, value: RawJson): void {
    if (this.entries.size > 10_000) this.entries.clear()
    this.entries.set(id, { value, until: this.now() + this.ttlMs })
  }
  drop(id: string): void { this.entries.delete(id) }
}

export function groupsRoutes(db: FeatureTables, summaries: (group: GroupInfo) => Promise<Record<string, unknown>>, changed: (group: GroupInfo) => Promise<void>, cache: DetailCache): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups', summary: 'List groups the bots are or were in',
      query: ListGroupsQuery, access: { roles: ['admin', 'owner', 'operator'], mutates: false },
      async handler({ query, auth }) {
        const where: Record<string, unknown> = {}
        const idFilters: FindOperator<string>[] = []
        if (query.cursor) idFilters.push(MoreThan(decodeCursor(query.cursor)))
        // Every list filters by the caller's scope: owners (and scoped operators) see only granted groups.
        if (auth && !auth.scope.all) {
          if (auth.scope.groupIds.size === 0) return { items: [], nextCursor: null }
          idFilters.push(In([...auth.scope.groupIds]))
        }
        if (idFilters.length === 1) where.id = idFilters[0]
        else if (idFilters.length > 1) where.id = And(...idFilters)
        if (query.active) where.active = query.active === 'true'
        const rows = await db.repo(GroupEntity).find({ where, order: { id: 'ASC' }, take: query.limit + 1 })
        const page = rows.slice(0, query.limit)
        const last = page[page.length - 1]
        return { items: page.map(view), nextCursor: rows.length > query.limit && last ? encodeCursor(last.id) : null }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id', summary: 'One group with its activity of the last 7 days',
      params: GroupIdParams, access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params }) {
        const detail = await cache.through(params.id, async () => {
          const row = await db.repo(GroupEntity).findOneBy({ id: params.id })
          return row ? { ...view(row), ...(await summaries(toGroupInfo(row))) } : null
        })
        if (!detail) throw groupNotFound()
        return detail
      },
    }),
    defineRoute({
      method: 'PATCH', path: '/api/v1/groups/:id', summary: "Change a group's timezone (days are counted in it) or labels",
      params: GroupIdParams, body: PatchGroupBody, access: { roles: ['admin', 'owner'], groupParam: 'id', mutates: true },
      async handler({ params, body, audit }) {
        const repo = db.repo(GroupEntity)
        const row = await repo.findOneBy({ id: params.id })
        if (!row) throw groupNotFound()
        const before = { timezone: row.timezone, labels: row.labels }
        if (body.timezone !== undefined) row.timezone = body.timezone
        if (body.labels !== undefined) row.labels = body.labels
        await repo.update({ id: row.id }, { timezone: row.timezone, labels: row.labels })
        cache.drop(row.id)
        await changed(toGroupInfo(row))
        audit({ groupId: row.id, target: `group:${row.id}`, before, after: { timezone: row.timezone, labels: row.labels } })
        return view(row)
      },
    }),
  ]
}
