import { randomUUID } from 'node:crypto'
import type { BucketSpec, CoordinationPorts, Counters, Dedupe, Disposer, KeySpace, Lease, Leases, PubSub, Roster, RosterMember, RateDecision, RateLimiter, SharedValues } from './ports'
import { containsToken } from '../text/token'
import { type Clock, systemClock } from './clock'
import { BoundedSeenFilter } from './seen-filter'

/**
 * In-process implementations of the coordination ports: the embedded default, for one process.
 * Expired entries are swept lazily and by an unref'd timer, so memory stays bounded by the live set.
 */

/** A Map whose entries expire; the building block of the in-process ports. */
class ExpiringMap<V> {
  readonly entries = new Map<string, { value: V; expiresAt: number }>()
  private sweeper?: NodeJS.Timeout

  constructor(private readonly clock: Clock, sweepEveryMs = 30_000) {
    if (sweepEveryMs > 0) {
      this.sweeper = setInterval(() => this.sweep(), sweepEveryMs)
      this.sweeper.unref()
    }
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= this.clock.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs })
  }

  delete(key: string): void { this.entries.delete(key) }

  sweep(): void {
    const now = this.clock.now()
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key)
  }

  close(): void { if (this.sweeper) clearInterval(this.sweeper) }
}

/** In-process dedupe. `restore`/`entries` let the embedded runtime persist marks across restarts. */
export class MemoryDedupe implements Dedupe {
  readonly marks: ExpiringMap<true>
  constructor(private readonly clock: Clock = systemClock) { this.marks = new ExpiringMap(clock) }

  async firstSeen(id: string, ttlMs: number): Promise<boolean> { return this.firstSeenSync(id, ttlMs) }

  /** Synchronous form used on the hot path of the embedded runtime. */
  firstSeenSync(id: string, ttlMs: number): boolean {
    if (this.marks.get(id) !== undefined) return false
    this.marks.set(id, true, ttlMs)
    return true
  }

  async forget(id: string): Promise<void> { this.marks.delete(id) }

  /** Re-inserts a mark loaded from storage with its original expiry. */
  restore(id: string, expiresAt: number): void {
    if (expiresAt > this.clock.now()) this.marks.entries.set(id, { value: true, expiresAt })
  }

  close(): void { this.marks.close() }
}

/** In-process expiring counters. */
export class MemoryCounters implements Counters {
  readonly values: ExpiringMap<number>
  constructor(private readonly clock: Clock = systemClock) { this.values = new ExpiringMap(clock) }

  async incr(key: string, ttlMs: number, by = 1): Promise<number> {
    // One lookup: an expired entry counts as absent (and is replaced), as get() would have it.
    const entry = this.values.entries.get(key)
    if (entry === undefined || entry.expiresAt <= this.clock.now()) {
      this.values.set(key, by, ttlMs)
      return by
    }
    entry.value += by
    return entry.value
  }

  async get(key: string): Promise<number> { return this.values.get(key) ?? 0 }
  async reset(key: string): Promise<void> { this.values.delete(key) }

  /** Synchronous inside (no await between check and set), so it is atomic within this process. */
  async cooldown(keys: ReadonlyArray<{ key: string; ttlMs: number }>): Promise<boolean> {
    if (keys.some(({ key }) => (this.values.get(key) ?? 0) !== 0)) return false
    for (const { key, ttlMs } of keys) this.values.set(key, 1, ttlMs)
    return true
  }
  close(): void { this.values.close() }
}

/** In-process token buckets. */
export class MemoryRateLimiter implements RateLimiter {
  readonly buckets = new Map<string, { tokens: number; at: number; fullAt: number }>()
  private lastSweep = 0
  constructor(private readonly clock: Clock = systemClock) {}

  async take(key: string, spec: BucketSpec, cost = 1): Promise<RateDecision> {
    const now = this.clock.now()
    if (now - this.lastSweep > 60_000) this.sweep(now)
    const bucket = this.buckets.get(key) ?? { tokens: spec.capacity, at: now }
    const refilled = Math.min(spec.capacity, bucket.tokens + ((now - bucket.at) / 1000) * spec.refillPerSec)
    if (refilled >= cost) {
      const tokens = refilled - cost
      this.buckets.set(key, { tokens, at: now, fullAt: fullAt(now, tokens, spec) })
      return { allowed: true, remaining: Math.floor(tokens), retryAfterMs: 0 }
    }
    this.buckets.set(key, { tokens: refilled, at: now, fullAt: fullAt(now, refilled, spec) })
    const retryAfterMs = spec.refillPerSec > 0 ? Math.ceil(((cost - refilled) / spec.refillPerSec) * 1000) : Number.MAX_SAFE_INTEGER
    return { allowed: false, remaining: Math.floor(refilled), retryAfterMs }
  }

  /** Drops buckets that have refilled completely (they behave exactly like absent ones). */
  private sweep(now: number): void {
    this.lastSweep = now
    for (const [key, bucket] of this.buckets) if (bucket.fullAt <= now) this.buckets.delete(key)
  }
}

/** When a bucket holding `tokens` at `now` is full again. */
function fullAt(now: number, tokens: number, spec: BucketSpec): number {
  return spec.refillPerSec > 0 ? now + ((spec.capacity - tokens) / spec.refillPerSec) * 1000 : Number.MAX_SAFE_INTEGER
}

/** In-process leases. */
export class MemoryLeases implements Leases {
  readonly held = new Map<string, Lease>()
  constructor(private readonly clock: Clock = systemClock) {}

  async acquire(key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const now = this.clock.now()
    const current = this.held.get(key)
    if (current && current.expiresAt > now) return null
    const lease: Lease = { key, token: `${owner}:${randomUUID()}`, expiresAt: now + ttlMs }
    this.held.set(key, lease)
    return { ...lease }
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const current = this.held.get(lease.key)
    const now = this.clock.now()
    if (!current || current.token !== lease.token || current.expiresAt <= now) return false
    current.expiresAt = now + ttlMs
    lease.expiresAt = current.expiresAt
    return true
  }

  async release(lease: Lease): Promise<void> {
    const current = this.held.get(lease.key)
    if (current && current.token === lease.token) this.held.delete(lease.key)
  }
}

/** In-process roster. */
export class MemoryRoster implements Roster {
  readonly rosters = new Map<string, Map<string, { weight: number; cap: number | null; expiresAt: number }>>()
  constructor(private readonly clock: Clock = systemClock) {}

  async announce(name: string, id: string, weight: number, ttlMs: number, cap: number | null = null): Promise<void> {
    let roster = this.rosters.get(name)
    if (!roster) this.rosters.set(name, (roster = new Map()))
    roster.set(id, { weight, cap, expiresAt: this.clock.now() + ttlMs })
  }

  async members(name: string): Promise<RosterMember[]> {
    const roster = this.rosters.get(name)
    if (!roster) return []
    const now = this.clock.now()
    for (const [id, entry] of roster) if (entry.expiresAt <= now) roster.delete(id)
    return [...roster].map(([id, e]) => ({ id, weight: e.weight, cap: e.cap })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  async leave(name: string, id: string): Promise<void> {
    this.rosters.get(name)?.delete(id)
  }
}

/** In-process pub/sub; delivery is asynchronous, like Redis, so publishers never run handlers inline. */
export class MemoryPubSub implements PubSub {
  private readonly handlers = new Map<string, Set<(message: string) => void>>()

  async publish(channel: string, message: string): Promise<void> {
    const set = this.handlers.get(channel)
    if (!set) return
    // A throwing handler must not take the process down (Redis delivery is isolated the same way).
    for (const handler of [...set]) setImmediate(() => { try { handler(message) } catch { /* handler's own fault */ } })
  }

  async subscribe(channel: string, handler: (message: string) => void): Promise<Disposer> {
    let set = this.handlers.get(channel)
    if (!set) this.handlers.set(channel, (set = new Set()))
    set.add(handler)
    return () => {
      set?.delete(handler)
      if (set?.size === 0 && this.handlers.get(channel) === set) this.handlers.delete(channel)
    }
  }
}

/** In-process shared values (shared by whatever holds the same bundle). */
export class MemorySharedValues implements SharedValues {
  readonly values = new Map<string, { value: string; expiresAt: number }>()
  constructor(private readonly clock: Clock = systemClock) {}

  async get(key: string): Promise<string | null> {
    const entry = this.values.get(key)
    if (!entry) return null
    if (entry.expiresAt <= this.clock.now()) { this.values.delete(key); return null }
    return entry.value
  }

  async set(key: string, value: string, expiresAt: number): Promise<void> {
    if (expiresAt <= this.clock.now()) { this.values.delete(key); return }
    this.values.set(key, { value, expiresAt })
  }

  async deleteIf(key: string, value: string): Promise<boolean> {
    if ((await this.get(key)) !== value) return false
    this.values.delete(key)
    return true
  }
}

/** One family of in-process keys, named as in Redis (`counter:<key>` …), with its string value if any. */
interface KeyFamily {
  prefix: string
  map: Map<string, unknown>
  value?: (entry: unknown) => string | null
}

/** The in-process key space: the maps of the ports above, searched and cleared by key name. */
export class MemoryKeySpace implements KeySpace {
  constructor(private readonly families: readonly KeyFamily[]) {}

  async deleteKeys(needle: string, options: { alsoOneOf?: readonly string[]; dryRun?: boolean } = {}): Promise<number> {
    let n = 0
    for (const f of this.families) {
      for (const key of [...f.map.keys()]) {
        if (!containsToken(key, needle)) continue
        if (options.alsoOneOf && !options.alsoOneOf.some((g) => containsToken(key, g))) continue
        n++
        if (!options.dryRun) f.map.delete(key)
      }
    }
    return n
  }

  async search(needles: readonly string[]): Promise<Array<{ key: string; in: 'name' | 'value'; needle: number }>> {
    const out: Array<{ key: string; in: 'name' | 'value'; needle: number }> = []
    for (const f of this.families) {
      for (const [key, entry] of f.map) {
        const value = f.value?.(entry) ?? null
        needles.forEach((needle, i) => {
          if (containsToken(key, needle)) out.push({ key: f.prefix + key, in: 'name', needle: i })
          else if (value !== null && containsToken(value, needle)) out.push({ key: f.prefix + key, in: 'value', needle: i })
        })
      }
    }
    return out
  }
}

/** The in-process port bundle: needs nothing but this process. */
export function createMemoryPorts(clock: Clock = systemClock): CoordinationPorts {
  const dedupe = new MemoryDedupe(clock)
  const counters = new MemoryCounters(clock)
  const rateLimiter = new MemoryRateLimiter(clock)
  const leases = new MemoryLeases(clock)
  const values = new MemorySharedValues(clock)
  return {
    kind: 'memory',
    dedupe,
    counters,
    rateLimiter,
    leases,
    roster: new MemoryRoster(clock),
    pubsub: new MemoryPubSub(),
    values,
    keys: new MemoryKeySpace([
      { prefix: 'dedupe:', map: dedupe.marks.entries },
      { prefix: 'counter:', map: counters.values.entries },
      { prefix: 'rate:', map: rateLimiter.buckets },
      { prefix: 'lease:', map: leases.held, value: (e) => (e as Lease).token },
      { prefix: 'value:', map: values.values, value: (e) => (e as { value: string }).value },
    ]),
    seen: (ttlMs, store) => new BoundedSeenFilter(store, clock, ttlMs),
    ping: async () => true,
    close: async () => { dedupe.close(); counters.close() },
  }
}
