import { z } from 'zod'
import { GroupId } from '../../kernel/routes'
import { ScopeSchema } from './auto-reply.rules'

/** Path parameter naming one auto-reply rule. */
export const RuleParams = z.strictObject({ ruleId: z.coerce.number().int().positive().max(2 ** 31) })

/** Query of the rule list: only rules serving one group, only enabled or disabled ones. */
export const ListRulesQuery = z.strictObject({ groupId: GroupId.optional(), enabled: z.enum(['true', 'false']).optional() })

/** Body of PATCH /auto-replies/:ruleId. */
export const EnableBody = z.strictObject({ enabled: z.boolean() })

/** Body of the reorder route: every id once, in the order wanted. */
export const ReorderBody = z.strictObject({ ruleIds: z.array(z.int().positive()).min(1).max(5000).refine((ids) => new Set(ids).size === ids.length, 'ids must be unique') })

/** Body of the CSV import. */
export const ImportBody = z.strictObject({
  csv: z.string().min(1).max(512 * 1024),
  scope: ScopeSchema.default({ type: 'all' }),
  mode: z.enum(['append', 'replace']).default('append'),
})

/** Body of a group's dry run: a text as a member would send it. */
export const DryRunBody = z.strictObject({
  text: z.string().min(1).max(2000),
  senderName: z.string().min(1).max(100).default('群友'),
  senderId: z.string().min(1).max(191).default('dry-run'),
  mentionsBot: z.boolean().default(false),
  at: z.iso.datetime({ offset: true }).optional(),
  memberJoinedAt: z.iso.datetime({ offset: true }).optional(),
})

/** Query of a group's hit stats. */
export const StatsQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(7) })
