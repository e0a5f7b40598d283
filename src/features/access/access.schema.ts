import { z } from 'zod'
import { ROLES, type Role } from '../../kernel/auth'
import { GroupId } from '../../kernel/routes'

/** Path parameter naming one token. */
export const TokenIdParams = z.strictObject({ tokenId: z.coerce.number().int().positive().max(2 ** 31) })
const Limit = z.coerce.number().int().min(1).max(100).default(20)
/** Cursor of id-ordered lists: the last id seen, opaque to clients. */
const Cursor = z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, 'a cursor returned by this API').optional()

/** Body of POST /api/v1/tokens. */
export const CreateTokenBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: z.enum(ROLES as [Role, ...Role[]]),
  groupIds: z.array(GroupId).max(1000).default([]),
  /** Operators only: read every group instead of a granted set. */
  allGroups: z.boolean().default(false),
}).superRefine((b, ctx) => {
  if (b.role === 'owner' && b.allGroups) ctx.addIssue({ code: 'custom', path: ['allGroups'], message: 'owners are scoped to granted groups' })
  if (b.role === 'admin' && b.groupIds.length > 0) ctx.addIssue({ code: 'custom', path: ['groupIds'], message: 'admins see every group; grant groups to owners and operators' })
})

/** A token as the API shows it (never its secret). */
export const TokenView = z.object({
  id: z.number(), name: z.string(), role: z.enum(ROLES as [Role, ...Role[]]), hint: z.string(), allGroups: z.boolean(), groupIds: z.array(z.string()),
  createdBy: z.string().nullable(), createdAt: z.string(), lastUsedAt: z.string().nullable(), revokedAt: z.string().nullable(),
})

/** Query of the token list. */
export const ListTokensQuery = z.strictObject({ limit: Limit, cursor: Cursor, includeRevoked: z.enum(['true', 'false']).default('false') })

/** Body replacing a token's granted groups. */
export const GrantGroupsBody = z.strictObject({ groupIds: z.array(GroupId).max(1000) })

/** Query of the audit log. */
export const AuditLogQuery = z.strictObject({
  limit: Limit, cursor: Cursor, groupId: GroupId.optional(), tokenId: z.coerce.number().int().positive().optional(),
  route: z.string().max(200).optional(), since: z.iso.datetime({ offset: true }).optional(), until: z.iso.datetime({ offset: true }).optional(),
})
