/** Calendar position of an instant in a timezone. */
export interface LocalTime {
  /** YYYY-MM-DD */
  day: string
  hour: number
  minute: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()
const cache = new Map<string, { from: number; to: number; offset: number }>()

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    formatters.set(tz, f)
  }
  return f
}

/** UTC offset (ms) of `tz` at instant `ms`, computed with Intl (slow path). */
function offsetAt(tz: string, ms: number): number {
  const parts = formatter(tz).formatToParts(new Date(ms))
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value)
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
  return asUtc - Math.floor(ms / 1000) * 1000
}

/**
 * Day, hour and minute of instant `ms` in timezone `tz`. Offsets are cached per 15-minute slot, so the
 * hot path (every message) is arithmetic, while DST changes are still honoured (they happen on slot
 * boundaries in every real timezone).
 */
export function localTime(ms: number, tz: string): LocalTime {
  // Fast path: the slot this timezone was last asked about (messages arrive in time order), with its day
  // and hour already formatted: no key string, no Date, no day string per call.
  const last = lastSlot.get(tz)
  if (last !== undefined && ms >= last.from && ms < last.to) return { day: last.day, hour: last.hour, minute: last.minute + Math.floor((ms - last.from) / 60_000) }
  const slow = slowLocalTime(ms, tz)
  const from = Math.floor(ms / 900_000) * 900_000
  const start = slowLocalTime(from, tz)
  lastSlot.set(tz, { from, to: from + 900_000, day: start.day, hour: start.hour, minute: start.minute })
  return slow
}

/** Per timezone, the 15-minute slot last asked about (offsets are whole quarter hours, so a slot is within one local hour). */
const lastSlot = new Map<string, { from: number; to: number; day: string; hour: number; minute: number }>()

function slowLocalTime(ms: number, tz: string): LocalTime {
  const slot = Math.floor(ms / 900_000)
  const key = `${tz}|${slot}`
  let entry = cache.get(key)
  if (!entry) {
    if (cache.size > 10_000) cache.clear()
    entry = { from: slot * 900_000, to: (slot + 1) * 900_000, offset: offsetAt(tz, slot * 900_000) }
    cache.set(key, entry)
  }
  const local = new Date(ms + entry.offset)
  const y = local.getUTCFullYear()
  const m = local.getUTCMonth() + 1
  const d = local.getUTCDate()
  return {
    day: `${y}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`,
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
  }
}

/** YYYY-MM-DD of the day `days` after `day` (negative: before); calendar arithmetic, no timezone involved. */
export function addDays(day: string, days: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number]
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10)
}
