import { And, In, MoreThan, type FindOperator } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import { defineRoute, GroupParams, groupNotFound, HttpError, type RouteDefinition } from '../../kernel/routes'
import { csvDocument, csvOptions, withPseudonymise } from '../../kernel/csv'
import type { z } from 'zod'
import type { GroupInfo } from '../../kernel/context'
import type { DetailCache } from './groups.cache'
import { GroupEntity, MemberEntity } from './groups.entity'
import { toGroupInfo } from './groups.directory'
import { ListGroupsQuery, ListMembersQuery, PatchGroupBody } from './groups.schema'

/** A group as the API shows it. */
function view(row: GroupEntity): Record<string, unknown> {
  return {
    id: row.id, name: row.name, botId: row.botId, memberCount: row.memberCount, active: row.active,
    timezone: row.timezone, labels: row.labels ?? [], joinedAt: new Date(row.joinedAt).toISOString(),
    leftAt: row.leftAt === null ? null : new Date(row.leftAt).toISOString(),
  }
}

/** A member as the API shows it. */
function memberView(row: MemberEntity): Record<string, unknown> {
  return {
    memberId: row.memberId, name: row.name, role: row.role, active: row.active,
    joinedAt: row.joinedAt === null ? null : new Date(row.joinedAt).toISOString(),
    leftAt: row.leftAt === null ? null : new Date(row.leftAt).toISOString(),
  }
}

/** Column of each sort key of the members list. */
const MEMBER_SORT = { name: 'm.name', joinedAt: 'm.joinedAt', memberId: 'm.memberId' } as const

/** A LIKE pattern matching `text` anywhere, with its wildcards taken literally ('!' escapes, on SQLite and MySQL). */
const containsPattern = (text: string): string => `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`

const encodeCursor = (id: string): string => Buffer.from(id, 'utf8').toString('base64url')
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8')
  if (!id || encodeCursor(id) !== cursor) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', [{ path: 'query.cursor', message: 'invalid cursor' }])
  return id
}

/** Admin routes of the groups feature: the list, one group with its summaries, owners' changes. */
export function groupsRoutes(db: FeatureTables, summaries: (group: GroupInfo) => Promise<Record<string, unknown>>, changed: (group: GroupInfo) => Promise<void>, cache: DetailCache, pseudonym: (memberId: string) => string): RouteDefinition[] {
  /** One page of a group's members (the list and its CSV twin). */
  async function members(groupId: string, query: z.infer<typeof ListMembersQuery>): Promise<{ rows: MemberEntity[]; total: number }> {
    if (!(await db.repo(GroupEntity).existsBy({ id: groupId }))) throw groupNotFound()
    const qb = db.repo(MemberEntity).createQueryBuilder('m').where('m.group_id = :groupId', { groupId })
    if (query.active !== 'all') qb.andWhere('m.active = :active', { active: query.active === 'true' })
    if (query.q) qb.andWhere("(LOWER(m.name) LIKE :q ESCAPE '!' OR LOWER(m.member_id) LIKE :q ESCAPE '!')", { q: containsPattern(query.q) })
    const descending = query.sort.startsWith('-')
    const key = (descending ? query.sort.slice(1) : query.sort) as keyof typeof MEMBER_SORT
    qb.orderBy(MEMBER_SORT[key], descending ? 'DESC' : 'ASC').addOrderBy('m.memberId', 'ASC').skip(query.offset).take(query.limit)
    const [rows, total] = await qb.getManyAndCount()
    return { rows, total }
  }
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
      params: GroupParams, access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
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
      method: 'GET', path: '/api/v1/groups/:id/members', summary: "A group's members: search by name or id, sort, page (total included)",
      params: GroupParams, query: ListMembersQuery, access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, query }) {
        const { rows, total } = await members(params.id, query)
        return { groupId: params.id, total, offset: query.offset, limit: query.limit, items: rows.map(memberView) }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/members.csv', summary: "A group's members as CSV, the same page as the list (?pseudonymise=1 writes member ids as pseudonyms, without names)",
      params: GroupParams, query: withPseudonymise(ListMembersQuery), access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false }, contentType: 'text/csv; charset=utf-8',
      async handler({ params, query }) {
        const { rows } = await members(params.id, query)
        return csvDocument(['member_id', 'name', 'role', 'active', 'joined_at', 'left_at'], rows.map((r) => [r.memberId, r.name, r.role, r.active ? 1 : 0, r.joinedAt === null ? null : new Date(r.joinedAt).toISOString(), r.leftAt === null ? null : new Date(r.leftAt).toISOString()]), csvOptions(query, pseudonym))
      },
    }),
    defineRoute({
      method: 'PATCH', path: '/api/v1/groups/:id', summary: "Change a group's timezone (days are counted in it) or labels",
      params: GroupParams, body: PatchGroupBody, access: { roles: ['admin', 'owner'], groupParam: 'id', mutates: true },
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
