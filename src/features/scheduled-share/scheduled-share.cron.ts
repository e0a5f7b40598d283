import cron from 'node-cron'
import { localTime } from '../../kernel/time'

/** Minute, hour, day of month, month, weekday (0 = Sunday) sets of a five-field cron expression. */
export interface CronFields {
  minute: ReadonlySet<number>
  hour: ReadonlySet<number>
  dayOfMonth: ReadonlySet<number>
  month: ReadonlySet<number>
  dayOfWeek: ReadonlySet<number>
  /** Both day fields restricted: either may match (classic cron). */
  dayOr: boolean
}

/** When a schedule fires: a cron expression or a single local time, both read in the group's timezone. */
export type Trigger = { type: 'cron'; cron: string } | { type: 'once'; at: string }

/**
 * Parses a five-field cron expression (minute resolution, as the scheduler ticks); the reason it is not
 * usable, or its fields. `L`, `#` and seconds are refused: they would fire differently than they read.
 */
export function parseCron(expression: string): { fields: CronFields } | { problem: string } {
  const parts = expression.trim().split(/\s+/)
  if (parts.length !== 5) return { problem: 'five fields: minute hour day-of-month month weekday (e.g. "0 9 * * *")' }
  const detailed = cron.validateDetailed(expression)
  if (!detailed.valid) return { problem: detailed.errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'not a cron expression' }
  const f = cron.parse(expression)
  const numbers = (values: ReadonlyArray<number | string>): Set<number> | null => (values.every((v) => typeof v === 'number') ? new Set(values as number[]) : null)
  const dom = numbers(f.dayOfMonth)
  const dow = numbers(f.dayOfWeek.map((d) => (d === 7 ? 0 : d)))
  if (!dom || !dow) return { problem: 'special day markers (L, #) are not supported' }
  const fields: CronFields = {
    minute: new Set(f.minute), hour: new Set(f.hour), dayOfMonth: dom, month: new Set(f.month), dayOfWeek: dow,
    dayOr: dom.size < 31 && dow.size < 7,
  }
  return { fields }
}

/** Weekday (0 = Sunday) of a YYYY-MM-DD day. */
export function weekdayOf(day: string): number {
  return new Date(`${day}T00:00:00Z`).getUTCDay()
}

/** Local "YYYY-MM-DDTHH:mm" of an instant in a timezone: the key of a fire time (unique per local minute). */
export function localKey(ms: number, tz: string): string {
  const t = localTime(ms, tz)
  return `${t.day}T${t.hour < 10 ? '0' : ''}${t.hour}:${t.minute < 10 ? '0' : ''}${t.minute}`
}

/** A compiled trigger: does the minute starting at `ms` fire, in `tz`. */
export type MinuteMatcher = (ms: number, tz: string) => boolean

/** The matcher of a (validated) trigger. */
export function matcherOf(trigger: Trigger): MinuteMatcher {
  if (trigger.type === 'once') return (ms, tz) => localKey(ms, tz) === trigger.at
  const parsed = parseCron(trigger.cron)
  if ('problem' in parsed) return () => false
  const f = parsed.fields
  return (ms, tz) => {
    const t = localTime(ms, tz)
    if (!f.minute.has(t.minute) || !f.hour.has(t.hour)) return false
    const [, m, d] = t.day.split('-').map(Number) as [number, number, number]
    if (!f.month.has(m)) return false
    const domOk = f.dayOfMonth.has(d)
    const dowOk = f.dayOfWeek.has(weekdayOf(t.day))
    return f.dayOr ? domOk || dowOk : domOk && dowOk
  }
}

const MINUTE = 60_000

/**
 * Fire times of a trigger in (fromMs, toMs] for timezone `tz`, oldest first, at most one per local minute:
 * on a daylight-saving fall-back the repeated local hour fires once (its first occurrence).
 */
export function fireTimes(match: MinuteMatcher, tz: string, fromMs: number, toMs: number): Array<{ at: number; key: string }> {
  const out: Array<{ at: number; key: string }> = []
  const seen = new Set<string>()
  for (let t = Math.floor(fromMs / MINUTE) * MINUTE + MINUTE; t <= toMs; t += MINUTE) {
    if (!match(t, tz)) continue
    const key = localKey(t, tz)
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ at: t, key })
  }
  return out
}

/** The next `count` fire times after `fromMs` (searching at most `horizonDays` ahead). */
export function nextFireTimes(match: MinuteMatcher, tz: string, fromMs: number, count: number, horizonDays = 60): Array<{ at: number; key: string }> {
  const out: Array<{ at: number; key: string }> = []
  const end = fromMs + horizonDays * 86_400_000
  // Hour steps first (a cheap pre-check would need the fields); minute steps are fast enough for previews.
  let from = fromMs
  while (out.length < count && from < end) {
    const to = Math.min(end, from + 7 * 86_400_000)
    for (const f of fireTimes(match, tz, from, to)) {
      if (out.length >= count) break
      if (!out.some((o) => o.key === f.key)) out.push(f)
    }
    from = to
  }
  return out
}

/** Minutes since midnight of "HH:mm" ("24:00" = 1440). */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  return h * 60 + m
}

/** Whether local minute-of-day `minute` is inside [from, to) (a window may cross midnight). */
export function inWindow(minute: number, from: string, to: string): boolean {
  const a = minutesOf(from)
  const b = minutesOf(to)
  return a < b ? minute >= a && minute < b : minute >= a || minute < b
}

/** The first instant at or after `ms` whose local time in `tz` is outside [from, to) (minute steps, ≤ 1 day). */
export function endOfWindow(ms: number, tz: string, from: string, to: string): number {
  let t = Math.ceil(ms / MINUTE) * MINUTE
  for (let i = 0; i <= 1440; i++, t += MINUTE) {
    const l = localTime(t, tz)
    if (!inWindow(l.hour * 60 + l.minute, from, to)) return t
  }
  return t
}
