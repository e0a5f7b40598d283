import { addDays, localTime, type LocalTime } from './time'

const at = (iso: string): number => Date.parse(iso)

/** Independent reference: ask Intl for the exact instant (no caching, no offset arithmetic). */
function reference(ms: number, tz: string): LocalTime {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  }).formatToParts(new Date(ms))
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? ''
  return { day: `${get('year')}-${get('month')}-${get('day')}`, hour: Number(get('hour')), minute: Number(get('minute')) }
}

describe('localTime', () => {
  describe('Asia/Shanghai (UTC+8, no DST)', () => {
    const tz = 'Asia/Shanghai'

    it('15:59:59Z and 16:00:00Z fall on different local days', () => {
      expect(localTime(at('2026-03-10T15:59:59Z'), tz)).toEqual({ day: '2026-03-10', hour: 23, minute: 59 })
      expect(localTime(at('2026-03-10T16:00:00Z'), tz)).toEqual({ day: '2026-03-11', hour: 0, minute: 0 })
    })

    it('the last millisecond before local midnight is still the old day', () => {
      expect(localTime(at('2026-03-10T15:59:59.999Z'), tz)).toEqual({ day: '2026-03-10', hour: 23, minute: 59 })
    })

    it('crosses month and year ends locally before UTC does', () => {
      expect(localTime(at('2026-12-31T16:30:00Z'), tz)).toEqual({ day: '2027-01-01', hour: 0, minute: 30 })
      expect(localTime(at('2026-12-31T15:30:00Z'), tz)).toEqual({ day: '2026-12-31', hour: 23, minute: 30 })
      expect(localTime(at('2028-02-28T16:00:00Z'), tz)).toEqual({ day: '2028-02-29', hour: 0, minute: 0 })
    })

    it('reports midnight as hour 0, never 24', () => {
      for (let d = 1; d <= 5; d++) {
        expect(localTime(at(`2026-06-0${d}T16:00:00Z`), tz).hour).toBe(0)
      }
    })

    it('gives the same answer from a warm cache (same 15-minute slot)', () => {
      const a = localTime(at('2026-05-01T03:00:00Z'), tz)
      const b = localTime(at('2026-05-01T03:14:59Z'), tz)
      expect(a).toEqual({ day: '2026-05-01', hour: 11, minute: 0 })
      expect(b).toEqual({ day: '2026-05-01', hour: 11, minute: 14 })
    })
  })

  describe('America/New_York across DST', () => {
    const tz = 'America/New_York'

    it('spring forward on 2026-03-08: 01:59 EST is followed by 03:00 EDT', () => {
      expect(localTime(at('2026-03-08T06:30:00Z'), tz)).toEqual({ day: '2026-03-08', hour: 1, minute: 30 })
      expect(localTime(at('2026-03-08T06:59:59Z'), tz)).toEqual({ day: '2026-03-08', hour: 1, minute: 59 })
      expect(localTime(at('2026-03-08T07:00:00Z'), tz)).toEqual({ day: '2026-03-08', hour: 3, minute: 0 })
      expect(localTime(at('2026-03-08T07:30:00Z'), tz)).toEqual({ day: '2026-03-08', hour: 3, minute: 30 })
      // Well after: still EDT (UTC-4).
      expect(localTime(at('2026-03-09T16:00:00Z'), tz)).toEqual({ day: '2026-03-09', hour: 12, minute: 0 })
    })

    it('the slot right after the change is not served the cached pre-change offset', () => {
      // Warm the slot before the change, then ask right after it.
      localTime(at('2026-03-08T06:45:00Z'), tz)
      expect(localTime(at('2026-03-08T07:00:00.001Z'), tz).hour).toBe(3)
      localTime(at('2026-11-01T05:45:00Z'), tz)
      expect(localTime(at('2026-11-01T06:00:00.001Z'), tz).hour).toBe(1)
    })

    it('fall back on 2026-11-01: 01:59 EDT is followed by 01:00 EST (the hour repeats)', () => {
      expect(localTime(at('2026-11-01T05:30:00Z'), tz)).toEqual({ day: '2026-11-01', hour: 1, minute: 30 })
      expect(localTime(at('2026-11-01T05:59:00Z'), tz)).toEqual({ day: '2026-11-01', hour: 1, minute: 59 })
      expect(localTime(at('2026-11-01T06:00:00Z'), tz)).toEqual({ day: '2026-11-01', hour: 1, minute: 0 })
      expect(localTime(at('2026-11-01T06:30:00Z'), tz)).toEqual({ day: '2026-11-01', hour: 1, minute: 30 })
      expect(localTime(at('2026-11-01T07:00:00Z'), tz)).toEqual({ day: '2026-11-01', hour: 2, minute: 0 })
    })

    it('local midnight follows the offset (EST in winter, EDT in summer)', () => {
      expect(localTime(at('2026-01-15T04:59:00Z'), tz)).toEqual({ day: '2026-01-14', hour: 23, minute: 59 })
      expect(localTime(at('2026-01-15T05:00:00Z'), tz)).toEqual({ day: '2026-01-15', hour: 0, minute: 0 })
      expect(localTime(at('2026-07-15T03:59:00Z'), tz)).toEqual({ day: '2026-07-14', hour: 23, minute: 59 })
      expect(localTime(at('2026-07-15T04:00:00Z'), tz)).toEqual({ day: '2026-07-15', hour: 0, minute: 0 })
    })
  })

  describe('half- and quarter-hour offsets', () => {
    it('Asia/Kolkata (UTC+5:30) has the right minutes', () => {
      const tz = 'Asia/Kolkata'
      expect(localTime(at('2026-01-01T12:45:00Z'), tz)).toEqual({ day: '2026-01-01', hour: 18, minute: 15 })
      expect(localTime(at('2026-01-01T18:29:00Z'), tz)).toEqual({ day: '2026-01-01', hour: 23, minute: 59 })
      expect(localTime(at('2026-01-01T18:30:00Z'), tz)).toEqual({ day: '2026-01-02', hour: 0, minute: 0 })
      expect(localTime(at('2026-01-01T00:07:00Z'), tz)).toEqual({ day: '2026-01-01', hour: 5, minute: 37 })
    })

    it('Asia/Kathmandu (UTC+5:45) has the right minutes', () => {
      const tz = 'Asia/Kathmandu'
      expect(localTime(at('2026-01-01T18:14:00Z'), tz)).toEqual({ day: '2026-01-01', hour: 23, minute: 59 })
      expect(localTime(at('2026-01-01T18:15:00Z'), tz)).toEqual({ day: '2026-01-02', hour: 0, minute: 0 })
    })

    it('Australia/Lord_Howe (30-minute DST shift) ends DST on 2026-04-05', () => {
      const tz = 'Australia/Lord_Howe'
      expect(localTime(at('2026-04-04T14:59:00Z'), tz)).toEqual({ day: '2026-04-05', hour: 1, minute: 59 })
      expect(localTime(at('2026-04-04T15:00:00Z'), tz)).toEqual({ day: '2026-04-05', hour: 1, minute: 30 })
    })
  })

  it('UTC and instants before the epoch', () => {
    expect(localTime(at('2026-07-04T12:34:56Z'), 'UTC')).toEqual({ day: '2026-07-04', hour: 12, minute: 34 })
    expect(localTime(at('1969-12-31T23:59:30Z'), 'UTC')).toEqual({ day: '1969-12-31', hour: 23, minute: 59 })
    expect(localTime(at('1969-12-31T16:00:00Z'), 'Asia/Shanghai')).toEqual({ day: '1970-01-01', hour: 0, minute: 0 })
  })

  it('keeps timezones apart in the cache (same instant, different zones)', () => {
    const ms = at('2026-08-01T23:30:00Z')
    expect(localTime(ms, 'Asia/Shanghai')).toEqual({ day: '2026-08-02', hour: 7, minute: 30 })
    expect(localTime(ms, 'America/New_York')).toEqual({ day: '2026-08-01', hour: 19, minute: 30 })
    expect(localTime(ms, 'Europe/London')).toEqual({ day: '2026-08-02', hour: 0, minute: 30 })
  })

  it('agrees with Intl at every minute around DST changes and at pseudo-random instants', () => {
    const zones = ['America/New_York', 'Europe/Berlin', 'Australia/Sydney', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham']
    const instants: number[] = []
    for (const iso of ['2026-03-08T05:00:00Z', '2026-03-29T00:00:00Z', '2026-04-04T14:00:00Z', '2026-10-04T14:00:00Z', '2026-10-25T00:00:00Z', '2026-11-01T04:00:00Z']) {
      for (let m = 0; m < 4 * 60; m += 7) instants.push(at(iso) + m * 60_000 + 13_000)
    }
    let seed = 12345
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      instants.push(at('2024-01-01T00:00:00Z') + (seed % (5 * 365 * 24 * 60)) * 60_000)
    }
    for (const tz of zones) {
      for (const ms of instants) {
        const got = localTime(ms, tz)
        const want = reference(ms, tz)
        if (got.day !== want.day || got.hour !== want.hour || got.minute !== want.minute) {
          throw new Error(`${tz} @ ${new Date(ms).toISOString()}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
        }
      }
    }
  })
})

describe('addDays', () => {
  it.each([
    ['2026-01-31', 1, '2026-02-01'],
    ['2026-02-28', 1, '2026-03-01'],
    ['2026-04-30', 1, '2026-05-01'],
    ['2026-12-31', 1, '2027-01-01'],
    ['2027-01-01', -1, '2026-12-31'],
    ['2026-03-01', -1, '2026-02-28'],
    ['2028-02-28', 1, '2028-02-29'],
    ['2028-02-29', 1, '2028-03-01'],
    ['2028-03-01', -1, '2028-02-29'],
    ['2028-02-29', 365, '2029-02-28'],
    ['2028-02-29', -366, '2027-02-28'],
    ['2100-02-28', 1, '2100-03-01'],
    ['2000-02-28', 1, '2000-02-29'],
    ['2026-05-15', 0, '2026-05-15'],
    ['2026-01-01', 364, '2026-12-31'],
    ['2026-01-10', -29, '2025-12-12'],
  ])('%s %+d → %s', (day, days, expected) => {
    expect(addDays(day, days)).toBe(expected)
  })

  it('is what the activity queries rely on: a 7-day window ending today starts 6 days earlier', () => {
    const to = '2026-03-03'
    expect(addDays(to, -(7 - 1))).toBe('2026-02-25')
  })

  it('round-trips', () => {
    for (const n of [1, 30, 59, 400, -400]) expect(addDays(addDays('2028-02-29', n), -n)).toBe('2028-02-29')
  })
})

describe('localTime fast path (the slot a timezone was last asked about)', () => {
  it('answers like Intl for consecutive instants in many timezones, across DST changes', () => {
    const zones = ['Asia/Shanghai', 'Asia/Kathmandu', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Europe/London']
    const parts = (ms: number, tz: string): LocalTime => {
      const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })
      const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]))
      return { day: `${p.year}-${p.month}-${p.day}`, hour: Number(p.hour), minute: Number(p.minute) }
    }
    // Around the 2026 DST changes of New York (Mar 8, Nov 1) and London (Mar 29, Oct 25), minute by minute-ish.
    const starts = [Date.UTC(2026, 2, 8, 5), Date.UTC(2026, 10, 1, 4), Date.UTC(2026, 2, 29, 0), Date.UTC(2026, 9, 25, 0), Date.UTC(2026, 3, 4, 15)]
    for (const tz of zones) {
      for (const start of starts) {
        for (let ms = start; ms < start + 3 * 3_600_000; ms += 37_000) expect(localTime(ms, tz)).toEqual(parts(ms, tz))
      }
    }
  })
})
