import { randomUUID } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import { INFLIGHT_FORGET_MS } from '../../ports/seen-filter'
import type { BucketSpec, CoordinationPorts, Counters, Dedupe, Disposer, KeySpace, Lease, Leases, PubSub, Roster, RosterMember, RateDecision, RateLimiter, SeenFilter, SeenStore, SharedValues } from '../../ports/ports'
import { type Clock, systemClock } from '../../ports/clock'
import { redactUrl } from '../../kernel/url'
import { containsToken } from '../../text/token'

/**
 * Redis implementations of the coordination ports, for several replicas sharing one Redis.
 * Semantics follow src/ports/memory.ts; test/ports.contract.test.ts runs the same suite against both.
 * This is the only module in the project that imports 'ioredis'.
 *
 * Key layout (all under `keyPrefix`): `epoch` (when this Redis's data began), `dedupe:<id>`, `counter:<key>` (hash: v, e), `rate:<key>` (hash: tokens, at),
 * `lease:<key>` (value: lease token). Pub/sub channels are `<keyPrefix><channel>`.
 */

/** Options of {@link createRedisPorts}. */
export interface RedisPortsOptions {
  /** Redis URL, e.g. `redis://:password@127.0.0.1:6379/0` (`rediss://` for TLS). */
  url: string
  /** Prefix of every key and channel; default 'qunyun:'. */
  keyPrefix?: string
  /** Time source for rate-limiter refill and Lease.expiresAt (Redis TTLs themselves run on Redis time). */
  clock?: Clock
  /** Called for every failed Redis call seen by the client (connection errors included), for metrics. */
  onError?: () => void
}

/** How long after a Redis error or reconnection the message-id filter checks Redis against the database. */
export const DEFAULT_DEDUPE_FALLBACK_MS = 15 * 60_000

/** Default prefix of every key and channel. */
export const DEFAULT_REDIS_KEY_PREFIX = 'qunyun:'

/** How long createRedisPorts waits for the connection to become ready before giving up. */
const READY_TIMEOUT_MS = 5_000
/** How long ping() waits for PONG. */
const PING_TIMEOUT_MS = 2_000
/** How long close() lets QUIT take before dropping the socket. */
const QUIT_TIMEOUT_MS = 1_000

/** Connection options: lazy connect (we wait for ready ourselves), bounded connect/command times and retries. */
const CONNECTION_OPTIONS: RedisOptions = {
  lazyConnect: true,
  // Commands issued in the same tick (e.g. one dedupe check per message of a burst) share one round trip.
  enableAutoPipelining: true,
  connectTimeout: 2_000,
  // After disconnect(), ioredis keeps a timer until the socket closes; a refused socket never does, so keep it short.
  disconnectTimeout: 500,
  commandTimeout: 5_000,
  maxRetriesPerRequest: 2,
  enableOfflineQueue: true,
  retryStrategy: (times: number) => Math.min(times * 100, 1_000),
}

/** Adds `by` and arms the expiry if the key has none, i.e. when INCRBY just created it. */
const INCR_LUA = `
local now = tonumber(ARGV[3])
local exp = tonumber(redis.call('HGET', KEYS[1], 'e'))
if exp == nil or exp <= now then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', now + tonumber(ARGV[2]))
  redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(ARGV[2])) + 60000)
  return tonumber(ARGV[1])
end
return redis.call('HINCRBY', KEYS[1], 'v', ARGV[1])`

/**
 * Cooldown over KEYS (counter hashes): if none is live, arms each with 1 and its TTL. ARGV: now, then one
 * TTL per key. Check and set in one script, so replicas racing for the same keys get one winner.
 */
const COOLDOWN_LUA = `
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'v', 'e')
  local v = tonumber(state[1])
  local e = tonumber(state[2])
  if v ~= nil and v ~= 0 and e ~= nil and e > now then return 0 end
end
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[i + 1])
  redis.call('HSET', key, 'v', 1, 'e', now + ttl)
  redis.call('PEXPIRE', key, math.max(1, ttl) + 60000)
end
return 1`

/**
 * Token bucket, the same arithmetic as MemoryRateLimiter (Lua numbers are doubles, like JS numbers).
 * ARGV: capacity, refillPerSec, cost, now (ms, from the caller's clock), idle TTL in ms (0 = none).
 * Returns { allowed (0/1), tokens left as a round-trippable string }.
 */
const TAKE_LUA = `
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
local refilled = math.min(capacity, tokens + ((now - at) / 1000) * refill)
local allowed = 0
if refilled >= cost then
  refilled = refilled - cost
  allowed = 1
end
local left = string.format('%.17g', refilled)
redis.call('HSET', KEYS[1], 'tokens', left, 'at', ARGV[4])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[5]) else redis.call('PERSIST', KEYS[1]) end
return { allowed, left }`

/** Extends the lease only if it still holds this token. PEXPIRE with ttl <= 0 deletes it, as in memory. */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`

/** Deletes the lease only if it still holds this token. */
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/** The commands registered with defineCommand (ioredis adds them at runtime, so they are typed here). */
interface ScriptCommands {
  qunyunIncr(key: string, by: number, ttlMs: number, now: number): Promise<number>
  /** numberOfKeys is given per call (the first argument), then the keys, now and one TTL per key. */
  qunyunCooldown(numberOfKeys: number, ...args: Array<string | number>): Promise<number>
  qunyunTake(key: string, capacity: number, refillPerSec: number, cost: number, now: number, idleTtlMs: number): Promise<[number, string]>
  qunyunRenew(key: string, token: string, ttlMs: number): Promise<number>
  qunyunRelease(key: string, token: string): Promise<number>
  qunyunDelIf(key: string, value: string): Promise<number>
}

type ScriptedRedis = Redis & ScriptCommands


/** A TTL for Redis: integral milliseconds (rounded up); rejects NaN/Infinity, which Redis cannot store. */
function ttlArg(ttlMs: number): number {
  if (!Number.isFinite(ttlMs)) throw new RangeError(`ttlMs must be a finite number, got ${ttlMs}`)
  return Math.ceil(ttlMs)
}

/** Resolves `promise`, or rejects after `ms` (the timer is cleared either way). */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Creates a client, waits until it is ready, and throws a clear error (URL redacted) when it is not within the timeout. */
async function connect(url: string): Promise<Redis> {
  const client = new Redis(url, CONNECTION_OPTIONS)
  let lastError: Error | undefined
  // A listener also keeps ioredis from printing "Unhandled error event"; failures surface via commands and ping().
  client.on('error', (error: Error) => { lastError = error })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { cleanup(); reject(new Error(`not ready within ${READY_TIMEOUT_MS} ms`)) }, READY_TIMEOUT_MS)
      const onReady = (): void => { cleanup(); resolve() }
      const onEnd = (): void => { cleanup(); reject(new Error('connection ended')) }
      function cleanup(): void {
        clearTimeout(timer)
        client.off('ready', onReady)
        client.off('end', onEnd)
      }
      client.once('ready', onReady)
      client.once('end', onEnd)
      // connect() rejects on the first failed attempt while ioredis keeps retrying; the 'ready' event is what counts.
      client.connect().catch((error: Error) => { lastError ??= error })
    })
  } catch (error) {
    client.disconnect()
    const reason = lastError?.message || (error as Error).message
    throw new Error(`Redis unreachable at ${redactUrl(url)} within ${READY_TIMEOUT_MS} ms: ${reason}`)
  }
  return client
}

/** Closes a client politely (QUIT), falling back to dropping the socket. */
async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return
  if (client.status !== 'ready') { client.disconnect(); return }
  try {
    await withTimeout(client.quit(), QUIT_TIMEOUT_MS, 'QUIT')
  } catch {
    client.disconnect()
  }
}

/** Ids a shared filter remembers exactly in this process (two generations; ~12 MB at most). */
const LOCAL_GENERATION = 65_536

/**
 * The shared message-id filter. Redis holds the marks every replica sees (keys expire on their own). With
 * `inflightMs`, a mark first lives only that long; once the message was processed here and the next flush
 * made its effects durable, the mark is extended to the full TTL. A replica killed mid-message thus leaves
 * marks that expire before its bot is taken over, and the redelivered copy is processed there.
 *
 * Redis is not the only record: every flush also writes the processed ids to the database (the SeenStore
 * the embedded filter uses), and this process remembers the ids it marked. While Redis fails, and for
 * `fallbackMs` after any Redis error or reconnection (Redis may have come back empty, so its "first seen"
 * is not to be trusted), an id Redis calls new is looked up in the database too. Only when Redis and the
 * database both fail is a message processed without a check (processing twice beats losing it).
 */
class SharedSeenFilter implements SeenFilter {
  /** Marked here, not yet processed: id → when marked. */
  private readonly inflight = new Map<string, number>()
  /** Processed here since the last seal. */
  private done: string[] = []
  /** Sealed: made durable by the next flush (their effects are in the buffers that flush writes first). */
  private sealed: string[] = []
  private current = new Set<string>()
  private previous = new Set<string>()
  /** Until when Redis's answers are checked against the database. */
  private doubtUntil = 0
  constructor(private readonly deps: {
    dedupe: Dedupe; redis: Redis; prefix: string; ttlMs: number; inflightMs?: number
    store: SeenStore; clock: Clock; fallbackMs: number
    /**
     * Registers a callback run whenever the Redis connection fails or reconnects (no argument), or the
     * epoch of Redis's data is learnt (`since`: when its data began).
     */
    onTrouble: (callback: (since?: number) => void) => void
    /** Counts a failed Redis or database call of the filter (metrics). */
    onError?: (backend: 'redis' | 'database') => void
  }) {
    deps.onTrouble((since) => {
      if (since === undefined) this.distrust()
      // Redis's data began at `since` (clock time): copies of older messages are recognised only by the database.
      else this.doubtUntil = Math.max(this.doubtUntil, Date.now() + (since + deps.fallbackMs - deps.clock.now()))
    })
  }

  /** Redis may have lost marks: check its "first seen" answers against the database for a while. */
  private distrust(): void { this.doubtUntil = Math.max(this.doubtUntil, Date.now() + this.deps.fallbackMs) }

  /** Whether Redis's answers are currently checked against the database. */
  get doubting(): boolean { return Date.now() < this.doubtUntil }

  async firstSeen(id: string): Promise<boolean> {
    const { dedupe, inflightMs, ttlMs, store, clock } = this.deps
    // A copy this process marked already is a duplicate whatever Redis says (it may have come back empty).
    if (this.current.has(id) || this.previous.has(id)) return false
    this.remember(id)
    let first: boolean
    try {
      first = await dedupe.firstSeen(`seen:${id}`, inflightMs ?? ttlMs)
    } catch {
      this.deps.onError?.('redis')
      this.distrust()
      first = true
    }
    if (first && this.doubting) {
      try {
        if (await store.has(id, clock.now())) first = false
      } catch {
        // Neither backend answers: process it (and say so in the metrics); processing twice beats losing it.
        this.deps.onError?.('database')
      }
    }
    if (first) this.inflight.set(id, Date.now())
    return first
  }

  processed(id: string): void {
    if (this.inflight.delete(id)) this.done.push(id)
  }

  seal(): void {
    if (this.done.length === 0) return
    this.sealed = this.sealed.length === 0 ? this.done : this.sealed.concat(this.done)
    this.done = []
  }

  /** Lets a marked id be processed again (the message was shed before any effect). */
  async forget(id: string): Promise<void> {
    this.current.delete(id)
    this.previous.delete(id)
    this.inflight.delete(id)
    await this.deps.dedupe.forget(`seen:${id}`)
  }

  async load(): Promise<number> { return 0 }

  /**
   * Keeps the short marks of messages still in flight here alive (every third of `inflightMs`): a message
   * may wait in its group's queue, or its flush may wait for a batch window, longer than `inflightMs`, and
   * its mark must not lapse while this process lives — else a copy redelivered to another replica is
   * processed twice. When the process dies the keep-alive stops and the marks lapse as designed.
   */
  async keepAlive(): Promise<void> {
    const { inflightMs, redis, prefix } = this.deps
    if (inflightMs === undefined || (this.inflight.size === 0 && this.done.length === 0 && this.sealed.length === 0)) return
    const ttl = ttlArg(inflightMs)
    const pipeline = redis.pipeline()
    // PEXPIRE … GT never shortens a mark that a flush already extended to the full TTL (Redis ≥ 7).
    for (const id of this.inflight.keys()) pipeline.pexpire(`${prefix}dedupe:seen:${id}`, ttl, 'GT')
    for (const id of this.done) pipeline.pexpire(`${prefix}dedupe:seen:${id}`, ttl, 'GT')
    for (const id of this.sealed) pipeline.pexpire(`${prefix}dedupe:seen:${id}`, ttl, 'GT')
    try { await pipeline.exec() } catch {
      this.deps.onError?.('redis')
      this.distrust()
    }
  }

  async flush(): Promise<void> {
    const { inflightMs, ttlMs, store, clock, redis, prefix } = this.deps
    // Marks never reported processed (a message that failed) are let go after a while; not after
    // `inflightMs`, since a message may wait longer than that in its group's queue (an outage) and still
    // needs its mark recorded once processed.
    const cutoff = Date.now() - Math.max(inflightMs ?? 0, INFLIGHT_FORGET_MS)
    for (const [id, at] of this.inflight) if (at < cutoff) this.inflight.delete(id)
    if (this.sealed.length === 0) return
    const ids = this.sealed
    this.sealed = []
    // The database record first: it is what a Redis that lost its data is checked against.
    const expiresAt = clock.now() + ttlMs
    try {
      await store.save(ids.map((id) => [id, expiresAt]))
    } catch (error) {
      this.deps.onError?.('database')
      this.sealed = ids.concat(this.sealed)
      throw error
    }
    const ttl = ttlArg(ttlMs)
    const pipeline = redis.pipeline()
    for (const id of ids) pipeline.pexpire(`${prefix}dedupe:seen:${id}`, ttl)
    try {
      const results = await pipeline.exec()
      if (results?.some(([error]) => error)) throw new Error('PEXPIRE failed')
    } catch {
      // The database holds the marks; until Redis is trusted again it is consulted as well.
      this.deps.onError?.('redis')
      this.distrust()
    }
  }

  purge(): Promise<void> { return this.deps.store.purge(this.deps.clock.now()) }

  private remember(id: string): void {
    if (this.current.size >= LOCAL_GENERATION) {
      this.previous = this.current
      this.current = new Set()
    }
    this.current.add(id)
  }
}

/**
 * Shared values as a hash of value and expiry instant (the caller's clock, like the counters), with a Redis
 * TTL a minute beyond it so the key goes for good.
 */
class RedisSharedValues implements SharedValues {
  constructor(private readonly redis: ScriptedRedis, private readonly prefix: string, private readonly clock: Clock) {}

  async get(key: string): Promise<string | null> {
    const [value, expiresAt] = await this.redis.hmget(`${this.prefix}value:${key}`, 'v', 'e')
    if (value === null || value === undefined || Number(expiresAt) <= this.clock.now()) return null
    return value
  }

  async set(key: string, value: string, expiresAt: number): Promise<void> {
    const k = `${this.prefix}value:${key}`
    const ttl = expiresAt - this.clock.now()
    if (ttl <= 0) { await this.redis.del(k); return }
    await this.redis.multi().hset(k, 'v', value, 'e', String(expiresAt)).pexpire(k, Math.ceil(ttl) + 60_000).exec()
  }

  async deleteIf(key: string, value: string): Promise<boolean> {
    return (await this.redis.qunyunDelIf(`${this.prefix}value:${key}`, value)) === 1
  }
}

/** Deletes a shared value only while it still holds the given value. */
const DEL_IF_LUA = `if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/** Dedupe marks as `SET key 1 PX ttl NX`. */
class RedisDedupe implements Dedupe {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async firstSeen(id: string, ttlMs: number): Promise<boolean> {
    const key = `${this.prefix}dedupe:${id}`
    const ttl = ttlArg(ttlMs)
    // Redis rejects PX <= 0; like memory, such a mark expires at once (so is never stored), but a live mark still counts.
    if (ttl <= 0) return (await this.redis.exists(key)) === 0
    return (await this.redis.set(key, '1', 'PX', ttl, 'NX')) === 'OK'
  }

  async forget(id: string): Promise<void> {
    await this.redis.del(`${this.prefix}dedupe:${id}`)
  }
}

/**
 * Expiring counters: a hash of value and expiry instant, both set in one script. Expiry follows the
 * caller's clock like MemoryCounters (so cooldowns behave the same under a FakeClock); a Redis TTL a
 * minute beyond it removes the key for good.
 */
class RedisCounters implements Counters {
  constructor(private readonly redis: ScriptedRedis, private readonly prefix: string, private readonly clock: Clock) {}

  async incr(key: string, ttlMs: number, by = 1): Promise<number> {
    if (!Number.isSafeInteger(by)) throw new RangeError(`by must be an integer, got ${by}`)
    return Number(await this.redis.qunyunIncr(`${this.prefix}counter:${key}`, by, ttlArg(ttlMs), this.clock.now()))
  }

  async get(key: string): Promise<number> {
    const [value, expires] = await this.redis.hmget(`${this.prefix}counter:${key}`, 'v', 'e')
    if (value === null || expires === null || Number(expires) <= this.clock.now()) return 0
    return Number(value)
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.prefix}counter:${key}`)
  }

  async cooldown(keys: ReadonlyArray<{ key: string; ttlMs: number }>): Promise<boolean> {
    if (keys.length === 0) return true
    const names = keys.map(({ key }) => `${this.prefix}counter:${key}`)
    const ttls = keys.map(({ ttlMs }) => ttlArg(ttlMs))
    return Number(await this.redis.qunyunCooldown(keys.length, ...names, this.clock.now(), ...ttls)) === 1
  }
}

/** Token buckets in a script; time comes from the clock, so every replica (and a FakeClock) agrees with memory. */
class RedisRateLimiter implements RateLimiter {
  constructor(private readonly redis: ScriptedRedis, private readonly prefix: string, private readonly clock: Clock) {}

  async take(key: string, spec: BucketSpec, cost = 1): Promise<RateDecision> {
    const { capacity, refillPerSec } = spec
    // An idle bucket is full again after capacity / refillPerSec seconds; a missing bucket is full too, so it can go.
    const idleTtlMs = refillPerSec > 0 ? Math.min(Number.MAX_SAFE_INTEGER, Math.ceil((capacity / refillPerSec) * 1000) + 1000) : 0
    const [allowed, left] = await this.redis.qunyunTake(`${this.prefix}rate:${key}`, capacity, refillPerSec, cost, this.clock.now(), idleTtlMs)
    const tokens = Number(left)
    if (Number(allowed) === 1) return { allowed: true, remaining: Math.floor(tokens), retryAfterMs: 0 }
    const retryAfterMs = refillPerSec > 0 ? Math.ceil(((cost - tokens) / refillPerSec) * 1000) : Number.MAX_SAFE_INTEGER
    return { allowed: false, remaining: Math.floor(tokens), retryAfterMs }
  }
}

/** Leases as `SET key token NX PX ttl`, renewed and released by compare-and-set on the token. */
class RedisLeases implements Leases {
  constructor(private readonly redis: ScriptedRedis, private readonly prefix: string, private readonly clock: Clock) {}

  async acquire(key: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const now = this.clock.now()
    const ttl = ttlArg(ttlMs)
    const redisKey = `${this.prefix}lease:${key}`
    const token = `${owner}:${randomUUID()}`
    // Redis rejects PX <= 0; like memory, a free key yields a lease that is already expired (nothing is stored).
    if (ttl <= 0) return (await this.redis.exists(redisKey)) === 0 ? { key, token, expiresAt: now + ttl } : null
    const ok = await this.redis.set(redisKey, token, 'PX', ttl, 'NX')
    return ok === 'OK' ? { key, token, expiresAt: now + ttl } : null
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const now = this.clock.now()
    const ttl = ttlArg(ttlMs)
    const renewed = Number(await this.redis.qunyunRenew(`${this.prefix}lease:${lease.key}`, lease.token, ttl)) === 1
    if (renewed) lease.expiresAt = now + ttl
    return renewed
  }

  async release(lease: Lease): Promise<void> {
    await this.redis.qunyunRelease(`${this.prefix}lease:${lease.key}`, lease.token)
  }
}

/**
 * Rosters as one hash each: field = member id, value = `expiresAt:weight:cap` (the caller's clock, as for
 * leases' expiresAt). Readers skip and delete run-out fields; the hash itself expires when nobody announces.
 */
class RedisRoster implements Roster {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly clock: Clock) {}

  async announce(name: string, id: string, weight: number, ttlMs: number, cap: number | null = null): Promise<void> {
    const key = `${this.prefix}roster:${name}`
    await this.redis.multi().hset(key, id, `${this.clock.now() + ttlMs}:${weight}:${cap ?? ''}`).pexpire(key, Math.max(1, Math.ceil(ttlMs * 10))).exec()
  }

  async members(name: string): Promise<RosterMember[]> {
    const key = `${this.prefix}roster:${name}`
    const all = await this.redis.hgetall(key)
    const now = this.clock.now()
    const live: RosterMember[] = []
    const gone: string[] = []
    for (const [id, value] of Object.entries(all)) {
      const [until, weight, cap] = value.split(':')
      if (Number(until) > now && Number(weight) > 0) live.push({ id, weight: Number(weight), cap: cap ? Number(cap) : null })
      else gone.push(id)
    }
    if (gone.length > 0) await this.redis.hdel(key, ...gone)
    return live.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  async leave(name: string, id: string): Promise<void> {
    await this.redis.hdel(`${this.prefix}roster:${name}`, id)
  }
}

type Handler = (message: string) => void

/** Pub/sub: publish on the main connection, receive on a lazily created duplicate in subscriber mode. */
class RedisPubSub implements PubSub {
  private subscriber?: Redis
  private closed = false
  private readonly channels = new Map<string, { handlers: Set<Handler>; ready: Promise<unknown> }>()

  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  async publish(channel: string, message: string): Promise<void> {
    await this.redis.publish(this.prefix + channel, message)
  }

  async subscribe(channel: string, handler: Handler): Promise<Disposer> {
    if (this.closed) throw new Error('pubsub is closed')
    let entry = this.channels.get(channel)
    if (!entry) {
      const created = { handlers: new Set<Handler>(), ready: this.connection().subscribe(this.prefix + channel) }
      this.channels.set(channel, created)
      created.ready.catch(() => { if (this.channels.get(channel) === created) this.channels.delete(channel) })
      entry = created
    }
    const current = entry
    // A Set, like MemoryPubSub: the same function subscribed twice is one subscription.
    current.handlers.add(handler)
    try {
      await current.ready
    } catch (error) {
      current.handlers.delete(handler)
      throw error
    }
    let disposed = false
    return async () => {
      if (disposed) return
      disposed = true
      current.handlers.delete(handler)
      if (current.handlers.size > 0 || this.channels.get(channel) !== current) return
      this.channels.delete(channel)
      // Commands on one connection run in order, so a later re-subscribe is not undone by this UNSUBSCRIBE.
      if (!this.closed && this.subscriber) await this.subscriber.unsubscribe(this.prefix + channel)
    }
  }

  /** Quits the subscriber connection, if one was made. */
  async close(): Promise<void> {
    this.closed = true
    this.channels.clear()
    if (this.subscriber) await quit(this.subscriber)
  }

  private connection(): Redis {
    if (!this.subscriber) {
      // duplicate() inherits lazyConnect, so the first SUBSCRIBE connects; ioredis re-subscribes after reconnects.
      const subscriber = this.redis.duplicate()
      subscriber.on('error', () => { /* surfaced through subscribe() rejections; ioredis reconnects by itself */ })
      subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message))
      this.subscriber = subscriber
    }
    return this.subscriber
  }

  private dispatch(prefixedChannel: string, message: string): void {
    if (!prefixedChannel.startsWith(this.prefix)) return
    const entry = this.channels.get(prefixedChannel.slice(this.prefix.length))
    if (!entry) return
    // Each handler in its own macrotask, like MemoryPubSub; a throwing handler must not take the subscriber down.
    for (const handler of [...entry.handlers]) setImmediate(() => { try { handler(message) } catch { /* handler's own fault; keep the subscriber alive */ } })
  }
}

/** Every key under the deployment's prefix, walked with SCAN (never KEYS), in small batches. */
class RedisKeySpace implements KeySpace {
  constructor(private readonly redis: Redis, private readonly prefix: string) {}

  /** Calls `visit` with each batch of full key names under the prefix. */
  private async each(visit: (keys: string[]) => Promise<void>): Promise<void> {
    const pattern = `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    let cursor = '0'
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) await visit(keys)
    } while (cursor !== '0')
  }

  async deleteKeys(needle: string, options: { alsoOneOf?: readonly string[]; dryRun?: boolean } = {}): Promise<number> {
    const doomed: string[] = []
    await this.each(async (keys) => {
      for (const full of keys) {
        const key = full.slice(this.prefix.length)
        if (!containsToken(key, needle)) continue
        if (options.alsoOneOf && !options.alsoOneOf.some((g) => containsToken(key, g))) continue
        doomed.push(full)
      }
    })
    if (options.dryRun || doomed.length === 0) return doomed.length
    let n = 0
    for (let i = 0; i < doomed.length; i += 500) n += await this.redis.del(...doomed.slice(i, i + 500))
    return n
  }

  async search(needles: readonly string[]): Promise<Array<{ key: string; in: 'name' | 'value'; needle: number }>> {
    const out: Array<{ key: string; in: 'name' | 'value'; needle: number }> = []
    await this.each(async (keys) => {
      const types = await this.redis.pipeline(keys.map((k) => ['type', k])).exec()
      const reads = keys.map((k, i): string[] => {
        const type = String(types?.[i]?.[1] ?? '')
        return type === 'string' ? ['get', k] : type === 'hash' ? ['hgetall', k] : type === 'set' ? ['smembers', k] : type === 'list' ? ['lrange', k, '0', '999'] : type === 'zset' ? ['zrange', k, '0', '999'] : ['exists', k]
      })
      const values = await this.redis.pipeline(reads).exec()
      keys.forEach((full, i) => {
        const key = full.slice(this.prefix.length)
        const raw = values?.[i]?.[1]
        const value = raw === null || raw === undefined ? '' : typeof raw === 'object' ? JSON.stringify(raw) : String(raw)
        needles.forEach((needle, n) => {
          if (containsToken(key, needle)) out.push({ key, in: 'name', needle: n })
          else if (containsToken(value, needle)) out.push({ key, in: 'value', needle: n })
        })
      })
    })
    return out
  }
}

/** Connects to Redis (failing within ~5 s with a clear error) and returns the Redis-backed coordination ports. */
export async function createRedisPorts(options: RedisPortsOptions): Promise<CoordinationPorts> {
  const prefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX
  const clock = options.clock ?? systemClock
  const redis = await connect(options.url)
  redis.defineCommand('qunyunIncr', { numberOfKeys: 1, lua: INCR_LUA })
  redis.defineCommand('qunyunCooldown', { lua: COOLDOWN_LUA })
  redis.defineCommand('qunyunTake', { numberOfKeys: 1, lua: TAKE_LUA })
  redis.defineCommand('qunyunRenew', { numberOfKeys: 1, lua: RENEW_LUA })
  redis.defineCommand('qunyunRelease', { numberOfKeys: 1, lua: RELEASE_LUA })
  redis.defineCommand('qunyunDelIf', { numberOfKeys: 1, lua: DEL_IF_LUA })
  const scripted = redis as ScriptedRedis
  const pubsub = new RedisPubSub(redis, prefix)
  let closing: Promise<void> | undefined
  const dedupe = new RedisDedupe(redis, prefix)
  const keepAliveTimers = new Set<NodeJS.Timeout>()
  const troubles = new Set<(since?: number) => void>()
  const trouble = (since?: number): void => { for (const t of troubles) t(since) }
  // When this Redis's data began: the first process to find the epoch key missing sets it. A process that
  // finds it changed (Redis restarted empty, possibly between two of its commands) checks the database
  // while the new epoch is recent. A process that starts after the restart has nothing to compare with.
  let epoch: number | null = null
  const readEpoch = async (): Promise<void> => {
    const key = `${prefix}epoch`
    await redis.set(key, String(clock.now()), 'NX')
    const value = Number(await redis.get(key))
    if (!Number.isFinite(value)) return
    // The first reading is what this process starts from; a different one later means Redis lost its data.
    if (epoch !== null && value !== epoch) trouble(value)
    epoch = value
  }
  await readEpoch().catch(() => trouble())
  // A reconnection may mean a Redis restarted without its data; every error is counted.
  redis.on('error', () => { options.onError?.(); trouble() })
  redis.on('reconnecting', () => trouble())
  redis.on('ready', () => { void readEpoch().catch(() => trouble()) })
  return {
    kind: 'redis',
    dedupe,
    seen: (ttlMs, store, seenOptions) => {
      const filter = new SharedSeenFilter({
        dedupe, redis, prefix, ttlMs, inflightMs: seenOptions?.inflightMs, store, clock,
        fallbackMs: seenOptions?.fallbackMs ?? DEFAULT_DEDUPE_FALLBACK_MS, onTrouble: (t) => { troubles.add(t) }, onError: seenOptions?.onError,
      })
      if (seenOptions?.inflightMs !== undefined) {
        const timer = setInterval(() => { void filter.keepAlive() }, Math.max(100, Math.floor(seenOptions.inflightMs / 3)))
        timer.unref()
        keepAliveTimers.add(timer)
      }
      return filter
    },
    counters: new RedisCounters(scripted, prefix, clock),
    rateLimiter: new RedisRateLimiter(scripted, prefix, clock),
    leases: new RedisLeases(scripted, prefix, clock),
    roster: new RedisRoster(redis, prefix, clock),
    pubsub,
    values: new RedisSharedValues(scripted, prefix, clock),
    keys: new RedisKeySpace(redis, prefix),
    ping: async () => {
      try {
        return (await withTimeout(redis.ping(), PING_TIMEOUT_MS, 'PING')) === 'PONG'
      } catch {
        return false
      }
    },
    close: () => {
      for (const timer of keepAliveTimers) clearInterval(timer)
      return (closing ??= Promise.all([pubsub.close(), quit(redis)]).then(() => undefined))
    },
  }
}

/**
 * Deletes every key under `keyPrefix` (SCAN + DEL) and returns how many went; for tests and tooling.
 * Refuses an empty prefix, which would mean the whole database.
 */
export async function deleteRedisKeysWithPrefix(options: { url: string; keyPrefix: string }): Promise<number> {
  if (!options.keyPrefix) throw new Error('deleteRedisKeysWithPrefix needs a non-empty keyPrefix')
  const redis = await connect(options.url)
  try {
    const pattern = `${options.keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`
    let cursor = '0'
    let deleted = 0
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) deleted += await redis.del(...keys)
    } while (cursor !== '0')
    return deleted
  } finally {
    await quit(redis)
  }
}
