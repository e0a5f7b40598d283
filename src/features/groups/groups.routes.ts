import { z } from 'zod'
import { MoreThan, type DataSource } from 'typeorm'
import { defineRoute, HttpError, type RouteDefinition } from '../../kernel/routes'
import type { GroupInfo } from '../../kernel/context'
import { GroupEntity } from './groups.entity'
import { toGroupInfo } from './groups.directory'

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
export function groupsRoutes(db: DataSource, summaries: (group: GroupInfo) => Promise<Record<string, unknown>>): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups', summary: 'List groups the bots are or were in',
      query: ListGroupsQuery, access: { scope: 'read' },
      async handler({ query }) {
        const where: Record<string, unknown> = {}
        if (query.cursor) where.id = MoreThan(decodeCursor(query.cursor))
        if (query.active) where.active = query.active === 'true'
        const rows = await db.getRepository(GroupEntity).find({ where, order: { id: 'ASC' }, take: query.limit + 1 })
        const page = rows.slice(0, query.limit)
        const last = page[page.length - 1]
        return { items: page.map(view), nextCursor: rows.length > query.limit && last ? encodeCursor(last.id) : null }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id', summary: 'One group with its activity of the last 7 days',
      params: GroupIdParams, access: { scope: 'read', groupParam: 'id' },
      async handler({ params }) {
        const row = await db.getRepository(GroupEntity).findOneBy({ id: params.id })
        if (!row) throw new HttpError(404, 'not_found', 'no such group')
        return { ...view(row), ...(await summaries(toGroupInfo(row))) }
      },
    }),
  ]
}
