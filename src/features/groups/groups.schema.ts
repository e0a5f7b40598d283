import { z } from 'zod'
import { isTimezone } from '../../config/config.schema'

/** Labels owners put on groups (e.g. 读书会, VIP) to target rules and shares. */
export const Label = z.string().trim().min(1).max(32).regex(/^[^,\s][^,]*$/, 'no commas')

/** Body of PATCH /api/v1/groups/:id. */
export const PatchGroupBody = z.strictObject({
  timezone: z.string().max(64).refine(isTimezone, 'unknown IANA timezone').optional(),
  labels: z.array(Label).max(20).refine((l) => new Set(l).size === l.length, 'labels must be unique').optional(),
}).refine((b) => b.timezone !== undefined || b.labels !== undefined, 'give timezone and/or labels')

/** List query: page by opaque cursor, at most 100 a page. */
export const ListGroupsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(400).optional(),
  active: z.enum(['true', 'false']).optional(),
})

/** Members list query: search by name or id, current or past members, one sort key, offset paging. */
export const ListMembersQuery = z.strictObject({
  q: z.string().trim().max(64).optional(),
  active: z.enum(['true', 'false', 'all']).default('true'),
  sort: z.enum(['name', '-name', 'joinedAt', '-joinedAt', 'memberId', '-memberId']).default('name'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
})
