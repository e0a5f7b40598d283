import { z } from 'zod'

/** Activity settings of a group. */
export const ActivityRuleSchema = z.strictObject({
  /** Keep message text in the message log for the retention period; false keeps only metadata. */
  logText: z.boolean().default(true),
})

/** Validated activity settings. */
export type ActivityRule = z.infer<typeof ActivityRuleSchema>
