import { z } from 'zod'

const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time like 22:00')
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day like 2026-10-01').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a date')

/**
 * A group's share settings (its slice of the group rules, written through the one rules path): quiet
 * hours and a skip calendar, in the group's timezone. A run inside quiet hours is skipped or moved to
 * their end (`onQuiet`); a run on a calendar day is skipped. The delivery log says which.
 */
export const ScheduledShareRuleSchema = z.strictObject({
  /** Whether scheduled shares post in this group at all (off: every run is logged as skipped). */
  enabled: z.boolean().default(true),
  /** No shares between `from` and `to` (may cross midnight: 22:00–08:00). */
  quietHours: z.strictObject({ from: HHMM, to: HHMM }).refine((q) => q.from !== q.to, { message: 'from and to must differ', path: ['to'] }).nullable().default(null),
  /** What a run inside quiet hours does: skip it, or post at the end of the quiet period. */
  onQuiet: z.enum(['skip', 'defer']).default('skip'),
  /** Days without shares (holidays), YYYY-MM-DD in the group's timezone. */
  skipDates: z.array(Day).max(366).default([]),
})

/** Validated share settings of a group. */
export type ScheduledShareRule = z.infer<typeof ScheduledShareRuleSchema>
