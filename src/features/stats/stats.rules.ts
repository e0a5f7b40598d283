import { z } from 'zod'

/** Question resolution settings of a group. */
export const StatsQuestionsSchema = z.strictObject({
  /** A question counts as resolved when another member or an auto-reply answers it within this many minutes. */
  answerWithinMinutes: z.number().int().min(1).max(1440).default(30),
})

/** Stats settings of a group. */
export const StatsRuleSchema = z.strictObject({
  /** Count this group's messages in the report rollups (false: the group's messages leave no figures from now on). */
  record: z.boolean().default(true),
  /** Count hot-topic terms of this group's text messages (terms only, never whole messages). */
  topics: z.boolean().default(true),
  questions: StatsQuestionsSchema.default({ answerWithinMinutes: 30 }),
})

/** Validated stats settings. */
export type StatsRule = z.infer<typeof StatsRuleSchema>
