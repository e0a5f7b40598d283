import { addDays, localTime } from '../../kernel/time'

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

/** The instant (ms) local day `day` starts in timezone `tz` (its first minute; DST-safe to the hour). */
export function dayStart(day: string, tz: string): number {
  const midnightUtc = Date.parse(`${day}T00:00:00Z`)
  let guess = midnightUtc
  for (let i = 0; i < 3; i++) {
    const lt = localTime(guess, tz)
    const wall = Date.parse(`${lt.day}T00:00:00Z`) + lt.hour * 3_600_000 + lt.minute * 60_000
    const next = guess - (wall - midnightUtc)
    if (next === guess) break
    guess = next
  }
  return guess
}
