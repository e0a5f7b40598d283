import { z } from 'zod'

/** A day as the API writes it (YYYY-MM-DD, in the group's timezone). */
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a date')

/** Query of one day's check-ins (default today). */
export const DayQuery = z.strictObject({ day: Day.optional() })

/** Query of the leaderboard. */
export const LeaderboardQuery = z.strictObject({ by: z.enum(['streak', 'points']).default('streak'), limit: z.coerce.number().int().min(1).max(100).default(10) })

/** Query of the daily stats. */
export const StatsQuery = z.strictObject({ days: z.coerce.number().int().min(1).max(90).default(30) })

/** Body of a points or make-up card adjustment. */
export const AdjustmentBody = z.strictObject({
  delta: z.int().min(-1_000_000).max(1_000_000).refine((d) => d !== 0, 'must not be 0'),
  currency: z.enum(['points', 'makeup_card']).default('points'),
  reason: z.string().trim().min(1).max(200),
})

/** Query of the CSV export (default the last 30 days). */
export const ExportQuery = z.strictObject({ from: Day.optional(), to: Day.optional() })
