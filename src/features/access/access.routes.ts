import { z } from 'zod'
import { defineRoute, HttpError, type RouteDefinition } from '../../kernel/routes'
import { ROLES, type Role } from '../../kernel/auth'
import type { AuditLog } from './access.audit'
import { AuditLogQuery, CreateTokenBody, GrantGroupsBody, ListTokensQuery, TokenIdParams, TokenView } from './access.schema'
import type { TokenStore } from './access.tokens'

const encodeId = (id: number): string => Buffer.from(String(id)).toString('base64url')
function decodeId(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined
  const id = Number(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (!Number.isInteger(id) || id <= 0) throw new HttpError(400, 'invalid_cursor', 'cursor is not one this API returned', [{ path: 'query.cursor', message: 'invalid cursor' }])
  return id
}

/** Admin routes of access: the caller, tokens and their grants, the audit log. */
export function accessRoutes(tokens: TokenStore, audit: AuditLog): RouteDefinition[] {
  const ADMIN = { roles: ['admin'] as Role[], mutates: false }
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/me', summary: 'The calling token: role and group scope',
      access: { roles: ROLES, mutates: false },
      async handler({ auth }) {
        if (!auth) throw new HttpError(401, 'unauthenticated', 'no caller')
        return { tokenId: auth.tokenId, name: auth.name, role: auth.role, allGroups: auth.scope.all, groupIds: [...auth.scope.groupIds].sort() }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/tokens', summary: 'Create a token (the secret is in this response only)',
      body: CreateTokenBody, response: TokenView.extend({ token: z.string() }),
      access: { roles: ['admin'], mutates: true, strict: true },
      async handler({ body, auth, audit: record }) {
        const { token, view } = await tokens.create({ ...body, createdBy: auth ? `token:${auth.tokenId}` : null })
        record({ target: `token:${view.id}`, after: { ...view } })
        return { ...view, token }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/tokens', summary: 'List tokens (newest first)',
      query: ListTokensQuery,
      access: ADMIN,
      async handler({ query }) {
        const items = await tokens.list({ includeRevoked: query.includeRevoked === 'true', limit: query.limit + 1, beforeId: decodeId(query.cursor) })
        const page = items.slice(0, query.limit)
        const last = page[page.length - 1]
        return { items: page, nextCursor: items.length > query.limit && last ? encodeId(last.id) : null }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/tokens/:tokenId', summary: 'One token', params: TokenIdParams, response: TokenView, access: ADMIN,
      async handler({ params }) {
        const view = await tokens.get(params.tokenId)
        if (!view) throw new HttpError(404, 'not_found', 'no such token')
        return view
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/api/v1/tokens/:tokenId', summary: 'Revoke a token (takes effect on every replica at once)',
      params: TokenIdParams, response: TokenView, access: { roles: ['admin'], mutates: true },
      async handler({ params, audit: record }) {
        const before = await tokens.get(params.tokenId)
        if (!before) throw new HttpError(404, 'not_found', 'no such token')
        const after = await tokens.revoke(params.tokenId)
        record({ target: `token:${params.tokenId}`, before, after })
        return after
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/tokens/:tokenId/groups', summary: 'Replace the groups granted to an owner or operator token',
      params: TokenIdParams, body: GrantGroupsBody, response: TokenView,
      access: { roles: ['admin'], mutates: true },
      async handler({ params, body, audit: record }) {
        const before = await tokens.get(params.tokenId)
        if (!before) throw new HttpError(404, 'not_found', 'no such token')
        if (before.role === 'admin') throw new HttpError(400, 'invalid_input', 'admins see every group', [{ path: 'params.tokenId', message: 'an admin token has no grants' }])
        const after = await tokens.setGroups(params.tokenId, body.groupIds)
        record({ target: `token:${params.tokenId}`, before: { groupIds: before.groupIds }, after: { groupIds: after?.groupIds } })
        return after
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/audit-log', summary: 'Changes made through the API (admins: all; owners and operators: their groups)',
      query: AuditLogQuery,
      access: { roles: ROLES, mutates: false },
      async handler({ query, auth }) {
        if (!auth) throw new HttpError(401, 'unauthenticated', 'no caller')
        const items = await audit.list({
          scope: auth.scope, groupId: query.groupId, tokenId: query.tokenId, route: query.route,
          since: query.since ? Date.parse(query.since) : undefined, until: query.until ? Date.parse(query.until) : undefined,
          beforeId: decodeId(query.cursor), limit: query.limit + 1,
        })
        const page = items.slice(0, query.limit)
        const last = page[page.length - 1]
        return { items: page, nextCursor: items.length > query.limit && last ? encodeId(last.id) : null }
      },
    }),
  ]
}
