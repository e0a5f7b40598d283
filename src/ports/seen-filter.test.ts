import { FakeClock } from './clock'
import type { SeenStore } from './ports'
import { BoundedSeenFilter, INFLIGHT_FORGET_MS, type SeenFilterSizes } from './seen-filter'

/** A SeenStore kept in a Map (the database table's contract: marks until they expire, ids stored once). */
class MapSeenStore implements SeenStore {
  readonly rows = new Map<string, number>()
  async load(now: number): Promise<Array<[string, number]>> { return [...this.rows].filter(([, e]) => e > now) }
  async has(id: string, now: number): Promise<boolean> { return (this.rows.get(id) ?? 0) > now }
  async save(rows: Array<[string, number]>): Promise<void> { for (const [id, e] of rows) if (!this.rows.has(id)) this.rows.set(id, e) }
  async purge(now: number): Promise<void> { for (const [id, e] of this.rows) if (e <= now) this.rows.delete(id) }
}

const HOUR = 3_600_000
const TTL = 48 * HOUR
const SMALL: SeenFilterSizes = { generation: 100, slices: 8, bitsPerSlice: 1 << 16, hashes: 5 }

async function first(filter: BoundedSeenFilter, id: string): Promise<boolean> { return filter.firstSeen(id) }

/** What the runtime does for a processed message: report it, seal before the effects are written, flush after. */
async function confirm(filter: BoundedSeenFilter, ...ids: string[]): Promise<void> {
  for (const id of ids) filter.processed(id)
  filter.seal()
  await filter.flush()
}

describe('BoundedSeenFilter (embedded dedupe)', () => {
  it('answers the newest ids exactly and keeps only two generations of them in memory', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'))
    const filter = new BoundedSeenFilter(new MapSeenStore(), clock, TTL, SMALL)
    for (let i = 0; i < 1_000; i++) expect(await first(filter, `m${i}`)).toBe(true)
    expect(await first(filter, 'm999')).toBe(false)
    expect(filter.exactSize).toBeLessThanOrEqual(2 * SMALL.generation)
  })

  it('still recognises an id that left the exact generations: before its flush (pending) and after (store)', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'))
    const store = new MapSeenStore()
    const filter = new BoundedSeenFilter(store, clock, TTL, SMALL)
    expect(await first(filter, 'old')).toBe(true)
    for (let i = 0; i < 500; i++) await first(filter, `m${i}`)
    expect(await first(filter, 'old')).toBe(false)
    await confirm(filter, 'old')
    expect(store.rows.has('old')).toBe(true)
    for (let i = 500; i < 1_000; i++) await first(filter, `m${i}`)
    const lookups = filter.lookups
    expect(await first(filter, 'old')).toBe(false)
    expect(filter.lookups).toBe(lookups + 1)
  })

  it('does not look fresh ids up in the store (the Bloom filters rule them out)', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'))
    const filter = new BoundedSeenFilter(new MapSeenStore(), clock, TTL, { ...SMALL, bitsPerSlice: 1 << 20 })
    for (let i = 0; i < 2_000; i++) expect(await first(filter, `bench-msg-${i}`)).toBe(true)
    expect(filter.lookups).toBeLessThan(5)
  })

  it('forgets ids after the TTL, across its time slices', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'))
    const store = new MapSeenStore()
    const filter = new BoundedSeenFilter(store, clock, TTL, SMALL)
    expect(await first(filter, 'a')).toBe(true)
    await confirm(filter, 'a')
    for (let h = 0; h < 47; h++) {
      clock.set(clock.now() + HOUR)
      for (let i = 0; i < 30; i++) await first(filter, `h${h}-${i}`)
    }
    expect(await first(filter, 'a')).toBe(false)
    clock.set(clock.now() + 2 * HOUR)
    for (let i = 0; i < 300; i++) await first(filter, `late-${i}`)
    expect(await first(filter, 'a')).toBe(true)
  })

  it('recognises ids from before a restart (loaded from the store into the Bloom filters)', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'))
    const store = new MapSeenStore()
    const before = new BoundedSeenFilter(store, clock, TTL, SMALL)
    expect(await first(before, 'x')).toBe(true)
    await confirm(before, 'x')
    clock.set(clock.now() + HOUR)
    const after = new BoundedSeenFilter(store, clock, TTL, SMALL)
    expect(await after.load()).toBe(1)
    expect(await first(after, 'x')).toBe(false)
    expect(await first(after, 'y')).toBe(true)
  })

  it('treats a copy arriving during a store lookup as a duplicate, and reports the original once', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'))
    const store = new MapSeenStore()
    const filter = new BoundedSeenFilter(store, clock, TTL, SMALL)
    await first(filter, 'dup')
    await confirm(filter, 'dup')
    for (let i = 0; i < 500; i++) await first(filter, `m${i}`)
    const answers = await Promise.all([filter.firstSeen('dup'), filter.firstSeen('dup')])
    expect(answers).toEqual([false, false])
  })

  it('writes a mark only once its message was processed and sealed before a flush; an unprocessed one after a while never', async () => {
    const clock = new FakeClock(Date.parse('2026-11-23T10:00:00Z'))
    const store = new MapSeenStore()
    const filter = new BoundedSeenFilter(store, clock, TTL, SMALL)
    for (const id of ['sealed', 'after-seal', 'in-flight']) expect(await first(filter, id)).toBe(true)
    filter.processed('sealed')
    filter.seal()
    // Processed while the effects' buffers are being written: its effects are in the next flush.
    filter.processed('after-seal')
    await filter.flush()
    expect([...store.rows.keys()]).toEqual(['sealed'])
    // Copies are still duplicates while the marks wait (answered from memory).
    for (const id of ['sealed', 'after-seal', 'in-flight']) expect(await first(filter, id)).toBe(false)
    filter.seal()
    await filter.flush()
    expect([...store.rows.keys()].sort()).toEqual(['after-seal', 'sealed'])
    // Never reported processed (lost to an error outside the pipeline): let go unwritten after 15 minutes.
    clock.set(clock.now() + INFLIGHT_FORGET_MS + 1)
    await filter.flush()
    filter.processed('in-flight')
    filter.seal()
    await filter.flush()
    expect(store.rows.has('in-flight')).toBe(false)
  })
})
