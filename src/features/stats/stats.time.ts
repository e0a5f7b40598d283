import { addDays } from '../../kernel/time'

/** Weekday of a YYYY-MM-DD calendar day: 0 = Monday … 6 = Sunday (no timezone involved). */
export function weekdayOf(day: string): number {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  return (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7
}

/** Monday of the week of a calendar day (YYYY-MM-DD): the key of weekly cohorts. */
export function weekOf(day: string): string {
  return addDays(day, -weekdayOf(day))
}

/** Whole days from `from` to `to` (inclusive count: the same day is 1). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1
}
