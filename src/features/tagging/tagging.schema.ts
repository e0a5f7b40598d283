import { z } from 'zod'
import { LIFECYCLE_STATES, type LifecycleState } from '../../contracts/tagging'
import { GroupId } from '../../kernel/routes'
import { SEGMENTS, TagRuleSchema } from './tagging.rules'

const Tag = z.string().trim().min(1).max(30)

/** Query of the member list. */
export const MembersQuery = z.strictObject({
  state: z.enum(LIFECYCLE_STATES as [LifecycleState, ...LifecycleState[]]).optional(),
  segment: z.enum(SEGMENTS).optional(),
  tag: Tag.optional(),
  sort: z.enum(['score', 'lastActive', 'joined', 'stateSince']).default('score'),
  order: z.enum(['asc', 'desc']).default('desc'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  /** Keyset paging: the `nextCursor` of the previous page (same sort and order; offset must stay 0). */
  cursor: z.string().regex(/^[A-Za-z0-9_-]{1,600}$/, 'a nextCursor of this list').optional(),
})

const SORTS = ['score', 'lastActive', 'joined', 'stateSince'] as const

/** What an opaque member-list cursor holds: the sort and order it belongs to, and the last row's sort value and member id. */
export const MembersCursor = z.strictObject({
  s: z.enum(SORTS),
  o: z.enum(['asc', 'desc']),
  v: z.union([z.number().finite(), z.string().regex(/^\d{4}-\d{2}-\d{2}$/), z.null()]),
  m: z.string().min(1).max(191),
}).refine((c) => c.v === null ? c.s === 'lastActive' || c.s === 'joined' : typeof c.v === 'string' ? c.s === 'lastActive' : c.s !== 'lastActive', 'sort value of the wrong kind')
export type MembersCursor = z.infer<typeof MembersCursor>

/** The opaque form of a cursor (base64url of its JSON). */
export const encodeMembersCursor = (c: MembersCursor): string => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url')

/** A cursor back from its opaque form, or null when it is not one this list made. */
export function decodeMembersCursor(text: string): MembersCursor | null {
  try {
    const parsed = MembersCursor.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')))
    return parsed.success ? parsed.data : null
  } catch {
    return null
  }
}

/** Query of a member's timeline. */
export const TimelineQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(100) })

/** Body of a manual tag. */
export const ManualTagBody = z.strictObject({ tag: Tag })

/** Path of one manual tag. */
export const TagParams = z.strictObject({ id: GroupId, memberId: z.string().min(1).max(191), tag: Tag })

/** Query of the stats. */
export const StatsQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(30) })

/** Body of the rules dry run: one of the draft's tag rules by id, or a tag rule not saved yet. */
export const DryRunBody = z.union([
  z.strictObject({ tagRuleId: z.string().min(1).max(40), limit: z.int().min(1).max(500).default(50) }),
  z.strictObject({ tagRule: TagRuleSchema, limit: z.int().min(1).max(500).default(50) }),
])

/** Query of the cleanup preview. */
export const CleanupQuery = z.strictObject({
  state: z.enum(['dormant', 'churned']).default('churned'),
  /** Only members silent at least this many days (default: every member in the state). */
  silentDays: z.coerce.number().int().min(1).max(3650).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
})

/** Body of a confirmed cleanup: exactly the members of a preview, and its confirmation. */
export const CleanupBody = z.strictObject({
  memberIds: z.array(z.string().min(1).max(191)).min(1).max(500),
  confirmation: z.string().regex(/^[0-9a-f]{64}$/, 'the confirmation of a preview'),
  reason: z.string().trim().min(1).max(200).default('长期未活跃'),
})
