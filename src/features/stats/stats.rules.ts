import { z } from 'zod'

/** Stats settings of a group. */
export const StatsRuleSchema = z.strictObject({
  /** Count this group's messages in the report rollups (false: the group's messages leave no figures from now on). */
  record: z.boolean().default(true),
})

/** Validated stats settings. */
export type StatsRule = z.infer<typeof StatsRuleSchema>
