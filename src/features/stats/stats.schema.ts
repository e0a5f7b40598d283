import { z } from 'zod'
import { GroupId } from '../../kernel/routes'
import { TOP_SORTS } from './stats.queries'

/** Longest range a report covers (days): a year and a day, enough for year-over-year views. */
export const MAX_RANGE_DAYS = 366
/** Most rows a CSV export carries. */
export const MAX_CSV_ROWS = 10_000

/** A calendar day YYYY-MM-DD (in the group's timezone) that exists. */
export const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a day as YYYY-MM-DD')
  .refine((d) => { const t = Date.parse(`${d}T00:00:00Z`); return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === d }, 'not a calendar day')

/** A day range; both ends default (to: today in the group's timezone, from: 6 days before `to`). */
const range = { from: Day.optional(), to: Day.optional() }

/** Query of the overview, daily series, heatmap and rule reports. */
export const RangeQuery = z.strictObject(range)

/** Query of the series: per day, or per hour (ranges of at most 31 days). */
export const SeriesQuery = z.strictObject({ ...range, interval: z.enum(['day', 'hour']).default('day') })

/** Query of the top-members report. */
export const TopQuery = z.strictObject({ ...range, sort: z.enum(TOP_SORTS).default('messages'), limit: z.coerce.number().int().min(1).max(100).default(20) })

/** Query of the retention report: cohorts joining in [from, to], followed for `weeks` weeks. */
export const RetentionQuery = z.strictObject({ ...range, weeks: z.coerce.number().int().min(1).max(12).default(12) })

/** Comma-separated group ids narrowing a cross-group report (every one must be in the caller's scope). */
const GroupIds = z.string().max(20_000).transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean)).pipe(z.array(GroupId).max(1000))

/** Query of cross-group reports (an owner's groups, or every group for admins). */
export const ScopeQuery = z.strictObject({ ...range, groupIds: GroupIds.optional() })

/** Query of the cross-group per-group table. */
export const GroupTableQuery = z.strictObject({ ...range, groupIds: GroupIds.optional(), limit: z.coerce.number().int().min(1).max(MAX_CSV_ROWS).default(1000) })

/** Query of the cross-group series. */
export const ScopeSeriesQuery = z.strictObject({ ...range, groupIds: GroupIds.optional(), interval: z.enum(['day', 'hour']).default('day') })

/** Query of dead-group alerts: the week ending `to` against the `weeks` weeks before it. */
export const AlertsQuery = z.strictObject({
  to: Day.optional(), groupIds: GroupIds.optional(),
  weeks: z.coerce.number().int().min(4).max(52).default(12),
  percentile: z.coerce.number().int().min(1).max(50).default(10),
})

/** Query of the hot-topics report: top and rising terms; a rising term needs `minCount` messages in the period. */
export const TopicsQuery = z.strictObject({
  ...range, groupIds: GroupIds.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(30),
  minCount: z.coerce.number().int().min(1).max(100_000).default(3),
})

/** Query of the best-time report: how many best slots to name. */
export const BestTimeQuery = z.strictObject({ ...range, groupIds: GroupIds.optional(), top: z.coerce.number().int().min(1).max(168).default(5) })

/** Query of the question-resolution report. */
export const QuestionsQuery = z.strictObject({ ...range, groupIds: GroupIds.optional() })
