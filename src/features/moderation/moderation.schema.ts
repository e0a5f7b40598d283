import { z } from 'zod'
import { GroupId } from '../../kernel/routes'

// Group and member path parameters are the kernel's, the same for every feature's routes.
export { GroupParams, MemberParams } from '../../kernel/routes'
/** Path parameters of `/groups/:id/moderation/events/:eventId/…` routes. */
export const EventParams = z.strictObject({ id: GroupId, eventId: z.coerce.number().int().positive().max(2 ** 31) })
/** Path parameter naming an uploaded word list. */
export const ListParams = z.strictObject({ listId: z.coerce.number().int().positive().max(2 ** 31) })

/** Body of PUT /groups/:id/moderation (the rules plus a note for the version history). */
export const PutRulesBody = z.strictObject({ rules: z.record(z.string(), z.unknown()), note: z.string().max(200).optional() })
/** Query of the diff route. */
export const DiffQuery = z.strictObject({ from: z.coerce.number().int().min(0), to: z.coerce.number().int().min(0) })
/** Body of the rollback route. */
export const RollbackBody = z.strictObject({ version: z.int().min(1) })
/** Body of the word-list attach route. */
export const AttachListsBody = z.strictObject({ lists: z.array(z.string()).max(20) })

/** Body of a dry run: a message as it would arrive, optionally judged by draft rules. */
export const DryRunBody = z.strictObject({
  text: z.string().max(5000).default(''),
  type: z.enum(['text', 'image', 'url', 'miniprogram', 'contact', 'file']).default('text'),
  url: z.string().max(2000).optional(),
  imageBase64: z.string().max(6_000_000).optional(),
  senderId: z.string().min(1).max(191).optional(),
  role: z.enum(['owner', 'admin', 'member']).default('member'),
  joinedAt: z.iso.datetime({ offset: true }).optional(),
  rules: z.record(z.string(), z.unknown()).optional(),
})
/** A parsed dry-run body. */
export type DryRunInput = z.infer<typeof DryRunBody>

/** Query of the events route. */
export const EventsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50), cursor: z.coerce.number().int().positive().optional(),
  detector: z.enum(['words', 'regex', 'links', 'types', 'qr', 'flood', 'duplicates']).optional(), memberId: z.string().max(191).optional(),
  result: z.enum(['done', 'pending', 'failed', 'shadow', 'recorded', 'also', 'exempt']).optional(),
  since: z.iso.datetime({ offset: true }).optional(), until: z.iso.datetime({ offset: true }).optional(),
})
/** Query of the stats route. */
export const StatsQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(7) })

/** Body of a new word list. */
export const CreateListBody = z.strictObject({ name: z.string().trim().min(1).max(100), text: z.string().max(1_000_000) })
/** Body replacing a word list's terms. */
export const ReplaceListBody = z.strictObject({ text: z.string().max(1_000_000) })
