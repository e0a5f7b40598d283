/**
 * Coordination ports: small interfaces the kernel and features depend on. Each has an in-process
 * implementation (src/ports/memory.ts) and a Redis one (src/adapters/redis/redis-ports.ts); one contract
 * suite (test/ports.contract.test.ts) runs against both.
 */

/** Marks ids as seen for a while, so a re-delivered message is processed once. */
export interface Dedupe {
  /** Returns true the first time `id` is seen within `ttlMs`, false for every later call. */
  firstSeen(id: string, ttlMs: number): Promise<boolean>
  /** Forgets an id (used when processing failed before any effect, so a retry can run). */
  forget(id: string): Promise<void>
}

/** Named integer counters that expire, e.g. sliding windows for flood detection. */
export interface Counters {
  /** Adds `by` (default 1) to `key`, (re)arming its expiry when created; returns the new value. */
  incr(key: string, ttlMs: number, by?: number): Promise<number>
  /** Current value (0 when absent or expired). */
  get(key: string): Promise<number>
  /** Removes a counter. */
  reset(key: string): Promise<void>
  /**
   * A cooldown over several counters, atomically (one Redis script; across replicas): if none of `keys`
   * is live (absent, expired or 0), sets each to 1 with its own TTL and returns true; otherwise changes
   * nothing and returns false. Two callers racing for the same keys: exactly one gets true.
   */
  cooldown(keys: ReadonlyArray<{ key: string; ttlMs: number }>): Promise<boolean>
}

/** Result of a token-bucket take. */
export interface RateDecision {
  /** Whether the tokens were granted. */
  allowed: boolean
  /** Tokens left after the call. */
  remaining: number
  /** When not allowed: milliseconds until enough tokens are back. 0 when allowed. */
  retryAfterMs: number
}

/** Token-bucket parameters: `capacity` tokens, refilled at `refillPerSec`. */
export interface BucketSpec {
  capacity: number
  refillPerSec: number
}

/** Token-bucket rate limits shared by everything that uses the same key. */
export interface RateLimiter {
  /** Takes `cost` (default 1) tokens from bucket `key` if available. */
  take(key: string, spec: BucketSpec, cost?: number): Promise<RateDecision>
}

/**
 * Small shared values that expire (e.g. an API access token every replica uses). Expiry is absolute
 * (`expiresAt`, the caller's clock) so every backend behaves alike under a fake clock.
 */
export interface SharedValues {
  /** The value of `key`, or null when absent or expired. */
  get(key: string): Promise<string | null>
  /** Stores `value` under `key` until `expiresAt` (ms since epoch). */
  set(key: string, value: string, expiresAt: number): Promise<void>
  /** Removes `key` only while it still holds `value` (so a stale reader never deletes a fresh value). */
  deleteIf(key: string, value: string): Promise<boolean>
}

/** A held lease; `token` proves ownership for renew/release. */
export interface Lease {
  key: string
  token: string
  expiresAt: number
}

/** Exclusive, expiring leases (one holder per key), e.g. which replica acts for a group. */
export interface Leases {
  /** Acquires `key` for `ttlMs` if free or expired; null when someone else holds it. */
  acquire(key: string, owner: string, ttlMs: number): Promise<Lease | null>
  /** Extends a lease still held by this token; false when it was lost. */
  renew(lease: Lease, ttlMs: number): Promise<boolean>
  /** Releases a lease held by this token (no-op when lost). */
  release(lease: Lease): Promise<void>
}

/**
 * Who is alive, with a weight each (e.g. the replicas sharing the bots): a member announces itself for
 * `ttlMs` and again before that runs out; one that stops announcing drops out by itself. Expiry follows the
 * caller's clock, as for SharedValues.
 */
export interface RosterMember { id: string; weight: number; cap: number | null }

export interface Roster {
  /** Adds or refreshes `id` in roster `name` with `weight` (and an optional cap), until now + `ttlMs`. */
  announce(name: string, id: string, weight: number, ttlMs: number, cap?: number | null): Promise<void>
  /** Members of roster `name` whose announcement has not run out, sorted by id (cap null = none). */
  members(name: string): Promise<RosterMember[]>
  /** Removes `id` from roster `name` at once (graceful stop). */
  leave(name: string, id: string): Promise<void>
}

/** Unsubscribes a pub/sub handler. */
export type Disposer = () => Promise<void> | void

/** Fire-and-forget publish/subscribe across every replica (e.g. rule-change invalidation). */
export interface PubSub {
  publish(channel: string, message: string): Promise<void>
  subscribe(channel: string, handler: (message: string) => void): Promise<Disposer>
}

/**
 * Message-id dedupe for the message path: a re-delivered message is processed once, also after a
 * restart. Each backend keeps its marks as it must (Redis keys expire by themselves; the in-process
 * filter writes its marks to a SeenStore with every flush and reloads them at start).
 */
export interface SeenFilter {
  /** True the first time `id` is seen within the TTL, false afterwards. */
  firstSeen(id: string): boolean | Promise<boolean>
  /** Restores marks kept by an earlier run; returns how many. */
  load(): Promise<number>
  /**
   * The message `id` went through the pipeline here (processed or failed). Until then its mark only answers
   * copies (a shared filter keeps it short-lived in Redis), and is never made durable.
   */
  processed(id: string): void
  /**
   * Takes the marks of the messages processed so far as the ones the next `flush()` makes durable. The
   * runtime seals before it writes the effects' buffers: a message processed while they are being written
   * has effects still in memory, and a mark confirmed over them would turn a crash into a loss.
   */
  seal(): void
  /** Makes the sealed marks durable (the database, and the full TTL in a shared filter). */
  flush(): Promise<void>
  /** Deletes expired marks from storage. */
  purge(): Promise<void>
  /** Forgets a mark, so a redelivered copy is processed (the message was shed before any effect). */
  forget?(id: string): Promise<void>
}

/** Where an in-process SeenFilter keeps its marks across restarts (the database implements it). */
export interface SeenStore {
  /** Marks not yet expired at `now`: [id, expiresAt]. */
  load(now: number): Promise<Array<[string, number]>>
  /** Whether a mark for `id` is stored and not expired at `now`. */
  has(id: string, now: number): Promise<boolean>
  /** Stores marks (ids already stored are skipped). */
  save(rows: Array<[string, number]>): Promise<void>
  /** Deletes marks expired at `now`. */
  purge(now: number): Promise<void>
}

/**
 * Every key of the deployment's coordination store (its prefix only), for erasure and the residue scan.
 * Key names are given without the deployment prefix.
 */
export interface KeySpace {
  /**
   * Deletes keys whose name contains `needle` as a whole token (and, with `alsoOneOf`, one of those too:
   * an owner's erasure touches keys of their groups only); returns how many (with `dryRun`, how many would go).
   */
  deleteKeys(needle: string, options?: { alsoOneOf?: readonly string[]; dryRun?: boolean }): Promise<number>
  /** Keys whose name or string value contains one of the needles (as a whole token); `needle` is its index. */
  search(needles: readonly string[]): Promise<Array<{ key: string; in: 'name' | 'value'; needle: number }>>
}

/** The coordination ports bundled, as the composition root hands them out. */
export interface CoordinationPorts {
  readonly kind: 'memory' | 'redis'
  dedupe: Dedupe
  counters: Counters
  rateLimiter: RateLimiter
  leases: Leases
  roster: Roster
  pubsub: PubSub
  values: SharedValues
  /** Every key under the deployment's prefix (erasure, residue scan). */
  keys: KeySpace
  /** The message-id filter of the message path (marks kept for `ttlMs`; `store` persists in-process marks). */
  seen(ttlMs: number, store: SeenStore, options?: {
    inflightMs?: number
    /** How long after a coordination error the shared filter checks its answers against `store`. */
    fallbackMs?: number
    /** Counts failed calls of the filter by backend (metrics). */
    onError?: (backend: 'redis' | 'database') => void
  }): SeenFilter
  /** True when the backing service answers (for /readyz). */
  ping(): Promise<boolean>
  /** Releases connections and timers. */
  close(): Promise<void>
}
