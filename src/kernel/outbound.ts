import type { ActionSink, OutboundAction } from './context'
import { errorText, scrubMemberIds, type Logger } from './logger'
import type { BucketSpec, RateLimiter } from '../ports/ports'
import type { Clock } from '../ports/clock'
import type { Random } from '../ports/random'

/** Performs an action on the platform (the wechaty adapter implements it). */
export interface ActionPerformer {
  perform(action: OutboundAction): Promise<void>
}

/** An error the performer marks as worth retrying (network blip, rate limited by the platform). */
export class TransientError extends Error {
  readonly transient = true
  constructor(message: string) { super(message); this.name = 'TransientError' }
}

/**
 * Thrown by a performer asked to act for a bot that is logged out. The queue does not count it as an
 * attempt: it marks the bot offline and the action waits for the bot's login.
 */
export class OfflineError extends Error {
  readonly offline = true
  constructor(readonly botId: string, message = `bot ${botId} is not logged in`) { super(message); this.name = 'OfflineError' }
}

/**
 * Thrown by a performer when what the action asks for already holds — a member to remove is no longer in
 * the group (they left, an admin or another replica removed them). The action is done: recorded `sent`
 * with `outcome` (e.g. `already_gone`) in its error column, never retried, logged at info.
 */
export class AlreadyDoneError extends Error {
  readonly alreadyDone = true
  constructor(readonly outcome: string, message: string) { super(message); this.name = 'AlreadyDoneError' }
}

/** How an action ended: performed, given up on, or dropped because it waited longer than its kind allows. */
export type OutboundStatus = 'sent' | 'failed' | 'expired'

/** Kinds of action that go stale while they wait (removals, additions and tags never do). */
export type ExpiringKind = 'say' | 'sayCard' | 'sayImage' | 'sayDirect' | 'acceptInvitation'

/** Per kind, how old (ms since it was queued) an action may be when performed; absent = never expires. */
export type ExpiryByKind = Partial<Record<ExpiringKind, number>>

/** Expiry per kind from the configuration's minutes (null = never): group messages, direct messages, invitation answers. */
export function expiryFromMinutes(minutes: { groupMessage: number | null; directMessage: number | null; invitationAnswer: number | null }): ExpiryByKind {
  const ms = (m: number | null): number | undefined => (m === null ? undefined : m * 60_000)
  const group = ms(minutes.groupMessage)
  return { say: group, sayCard: group, sayImage: group, sayDirect: ms(minutes.directMessage), acceptInvitation: ms(minutes.invitationAnswer) }
}

/** A replica's claim on stored actions: who performs them, and until when (renewed while it lives). */
export interface Claim {
  owner: string
  /** The caller's now: claims with `until` before it are expired and may be taken over. */
  now: number
  until: number
}

/**
 * Durable record of queued actions, so nothing queued is lost on restart. With several replicas every
 * pending row carries a claim (owner + expiry): only the claim's owner performs it, and a row whose claim
 * expired (its replica died) is taken over by the bot's next holder.
 */
export interface OutboundStore {
  /**
   * Stores a new pending action (claimed by `claim.owner` when given, otherwise unclaimed); returns its id.
   * An action with a `key` already stored (by any replica, in any state) is not stored again: null.
   */
  save(action: OutboundAction, queuedAt: number, claim?: Claim | null): Promise<number | null>
  /** Which of these keys have an action stored (pending, sent, failed or expired): one lookup for many keys. */
  storedKeys(keys: readonly string[]): Promise<Set<string>>
  /** Records the outcome of an action (with `owner`: only while that owner's claim stands). */
  finish(id: number, outcome: { status: OutboundStatus; attempts: number; error?: string; at: number }, owner?: string): Promise<void>
  /**
   * Pending actions of a bot, oldest first, with their queue time (to resume after a restart). With a
   * claim: first claims, in one atomic statement, every pending row that is unclaimed, expired or already
   * the owner's, and returns only rows the owner now holds.
   */
  pending(botId: string, claim?: Claim): Promise<Array<{ id: number; action: OutboundAction; queuedAt: number }>>
  /**
   * Just before performing: extends the claim and counts the attempt, only if the row is still pending
   * and claimed by `claim.owner`. False = someone else took it over (or it is done): do not perform.
   */
  begin?(id: number, claim: Claim): Promise<boolean>
  /** Extends every pending claim of the owner; returns how many. */
  renewClaims?(claim: Claim): Promise<number>
  /** Gives up the owner's pending claims on a bot (its lease moved elsewhere), so the new holder takes them at once. */
  releaseClaims?(botId: string, owner: string): Promise<number>
}

/** How the queue takes part in several replicas (absent: one process, every bot is performed here). */
export interface ReplicaRole {
  /** This replica's name in claims. */
  id: string
  /** How long a claim lasts without renewal. */
  claimTtlMs: number
  /** Whether this replica runs the bot (only then it performs its actions). */
  holds(botId: string): boolean
  /** Tells the bot's holder that an action was stored for it here (it claims and performs it). */
  handoff(botId: string): void
}

/** Throttling and retry settings of the outbound queue. */
export interface OutboundSettings {
  perAccount: BucketSpec
  perGroup: BucketSpec
  /** Random pause before every action, [min, max] ms, so sends do not look machine-timed. */
  jitterMs: [number, number]
  maxAttempts: number
  /** First retry delay; doubles each attempt. */
  retryBaseMs: number
  /** How long each kind of action may wait before it is dropped as expired (default: never). */
  expiryMs?: ExpiryByKind
}

/**
 * Outcome notification, e.g. so a feature can tell the owner a removal failed. `outcome` notes a `sent`
 * action that was already done on the platform (`already_gone`: the member had left). `error` names
 * members by pseudonym (see OutboundQueue's `pseudonym`).
 */
export type OutboundListener = (event: { action: OutboundAction; status: OutboundStatus; attempts: number; error?: string; outcome?: string }) => void

interface Item {
  action: OutboundAction
  /** When it was queued (its age decides expiry). */
  queuedAt: number
  id?: number
  saving?: Promise<void>
  /** Attempts made so far (waiting for a login is not an attempt). */
  attempts: number
  /** Its key was stored already (another replica, or an earlier process, queued it): never performed here. */
  duplicate?: boolean
}

/** A bot's outage as the queue sees it. */
interface Outage {
  since: number
  /** Whether "waits for login" was logged for this outage (once per outage, not per action). */
  logged: boolean
}

/** What became of the lane's head: done with it (any outcome), or it waits for its bot's login. */
type Step = 'sent' | 'failed' | 'expired' | 'offline' | 'lost'

/** Unwinds a lane when the queue stops while it waits (its item stays pending for the next start). */
class QueueStopped extends Error {}

/** Whether an error is worth retrying. */
export function isTransient(error: unknown): boolean {
  if (error instanceof TransientError) return true
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && ['ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'EAI_AGAIN', 'EPIPE', 'UNAVAILABLE', 'DEADLINE_EXCEEDED'].includes(code)
}

/** One short description of an action for logs (never message text at info level). */
export function describeAction(action: OutboundAction): Record<string, unknown> {
  return action.note ? { ...describeFields(action), note: action.note } : describeFields(action)
}

function describeFields(action: OutboundAction): Record<string, unknown> {
  switch (action.kind) {
    case 'say': return { kind: 'say', bot: action.botId, group: action.groupId, chars: action.text.length, mentions: action.mentions?.length ?? 0 }
    case 'sayCard': return { kind: 'sayCard', bot: action.botId, group: action.groupId }
    case 'sayImage': return { kind: 'sayImage', bot: action.botId, group: action.groupId }
    case 'sayDirect': return { kind: 'sayDirect', bot: action.botId, contact: action.contactId, chars: action.text.length }
    case 'remove': case 'add': return { kind: action.kind, bot: action.botId, group: action.groupId, member: action.memberId }
    case 'tag': return { kind: action.remove ? 'untag' : 'tag', bot: action.botId, member: action.memberId, tag: action.tag }
    case 'acceptInvitation': return { kind: 'acceptInvitation', bot: action.botId, invitation: action.invitationId }
  }
}

/**
 * The one way out: every send, removal, tag and invitation answer is queued here, throttled per account
 * and per group (token buckets from the RateLimiter port, so replicas share them) with jitter, retried on
 * transient errors, and recorded in the OutboundStore. Lanes are per group (order kept inside a group);
 * account-wide actions use a lane per bot. While a bot is offline its lanes pause (no attempts, no tokens
 * spent) and resume in order at its login; an action older than its kind's expiry is dropped as expired.
 */
export class OutboundQueue implements ActionSink {
  private readonly lanes = new Map<string, Item[]>()
  private readonly running = new Set<string>()
  private readonly listeners = new Set<OutboundListener>()
  private readonly outages = new Map<string, Outage>()
  /** Bots whose stored actions are being loaded by resume(): their lanes wait so order is kept. */
  private readonly resuming = new Map<string, number>()
  /** Sets collecting ids this process takes charge of while a resume() reads the store (no duplicates). */
  private readonly claimWatchers = new Set<Set<number>>()
  private readonly saves = new Set<Promise<void>>()
  private readonly resumes = new Map<string, Promise<number>>()
  private lastSave: Promise<void> = Promise.resolve()
  private idleWaiters: Array<(empty: boolean) => void> = []
  private stopped = false
  private sleepers = 0

  constructor(private readonly deps: {
    performer: ActionPerformer
    rateLimiter: RateLimiter
    clock: Clock
    random: Random
    settings: OutboundSettings
    log: Logger
    store?: OutboundStore
    replica?: ReplicaRole
    /** Told each time an action has to wait, and why (metrics). */
    onWait?: (reason: 'rate_limit' | 'offline' | 'retry') => void
    /**
     * A member's pseudonym (the logger's): error texts of an action (platform errors often quote the
     * member's id) are logged, stored and reported with the action's member ids written as pseudonyms.
     */
    pseudonym?: (memberId: string) => string
  }) {}

  /** An error's text (with its stack when `stack`) with the action's member ids written as pseudonyms. */
  private errorOf(action: OutboundAction, error: unknown, stack = true): string {
    const text = stack ? errorText(error) : String(error)
    const pseudonym = this.deps.pseudonym
    return pseudonym ? scrubMemberIds(text, memberIdsOf(action), pseudonym) : text
  }

  /** A claim for this replica from now (undefined without a replica role). */
  private claimNow(): Claim | undefined {
    const replica = this.deps.replica
    if (!replica) return undefined
    const now = this.deps.clock.now()
    return { owner: replica.id, now, until: now + replica.claimTtlMs }
  }

  /** Subscribes to outcomes; returns a disposer. */
  onOutcome(listener: OutboundListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Queues an action (never throws; persistence happens in the background before it is performed). */
  enqueue(action: OutboundAction): void {
    const item: Item = { action, queuedAt: this.deps.clock.now(), attempts: 0 }
    const store = this.deps.store
    const replica = this.deps.replica
    if (store && replica && !replica.holds(action.botId)) {
      // Another replica runs this bot (a job or a message seen here): store it unclaimed for the holder.
      const saving = this.lastSave.then(() => store.save(action, item.queuedAt, null)).then(
        (id) => { if (id !== null) replica.handoff(action.botId) },
        (error: unknown) => this.deps.log.error('outbound: could not store action for another replica', { ...describeAction(action), error: this.errorOf(action, error) }),
      )
      this.lastSave = saving
      this.saves.add(saving)
      void saving.finally(() => this.saves.delete(saving))
      return
    }
    if (store) {
      // One save after the other, so stored ids follow the queue's order (resume() replays by id).
      const saving = this.lastSave.then(() => store.save(action, item.queuedAt, this.claimNow() ?? null)).then(
        (id) => {
          if (id === null) {
            item.duplicate = true
            this.deps.log.info('outbound: an action with this key is already queued; not queued twice', describeAction(action))
            return
          }
          item.id = id
          this.claim(id)
        },
        (error: unknown) => this.deps.log.warn('outbound: could not persist action', { ...describeAction(action), error: this.errorOf(action, error) }),
      )
      item.saving = saving
      this.lastSave = saving
      this.saves.add(saving)
      void saving.finally(() => this.saves.delete(saving))
    }
    this.push(item)
  }

  /**
   * Which of these keys have an action: queued here and not yet stored, or in the store (any state).
   * Without a store, only what this process queued and has not performed yet.
   */
  async existingKeys(keys: readonly string[]): Promise<Set<string>> {
    const wanted = new Set(keys)
    const found = new Set<string>()
    for (const lane of this.lanes.values()) for (const item of lane) if (item.action.key !== undefined && !item.duplicate && wanted.has(item.action.key)) found.add(item.action.key)
    const rest = keys.filter((k) => !found.has(k))
    if (this.deps.store && rest.length > 0) for (const k of await this.deps.store.storedKeys(rest)) found.add(k)
    return found
  }

  /**
   * Re-queues actions that were pending when the process last stopped, ahead of what this process queued
   * since (they are older). Actions this process already holds are not queued twice.
   */
  resume(botId: string): Promise<number> {
    // One resume per bot at a time: a second one reads the store after the first queued what it claimed.
    const previous = this.resumes.get(botId) ?? Promise.resolve(0)
    // The bot's lanes wait from now on (synchronously), so nothing newer overtakes what the store holds.
    this.resuming.set(botId, (this.resuming.get(botId) ?? 0) + 1)
    const next = previous.catch(() => 0).then(() => this.resumeNow(botId)).finally(() => {
      const left = (this.resuming.get(botId) ?? 1) - 1
      if (left > 0) this.resuming.set(botId, left)
      else this.resuming.delete(botId)
      this.kick()
    })
    this.resumes.set(botId, next)
    void next.catch(() => undefined).finally(() => { if (this.resumes.get(botId) === next) this.resumes.delete(botId) })
    return next
  }

  /**
   * This replica no longer runs the bot: its waiting actions leave the lanes (they stay pending in the
   * store) and their claims are released, so the new holder performs them at once. An action being
   * performed right now finishes.
   */
  async abandon(botId: string): Promise<number> {
    let dropped = 0
    for (const [key, lane] of this.lanes) {
      const keep = lane.filter((item, i) => (i === 0 && this.running.has(key)) || item.action.botId !== botId)
      dropped += lane.length - keep.length
      lane.splice(0, lane.length, ...keep)
    }
    this.outages.delete(botId)
    const { store, replica } = this.deps
    if (store?.releaseClaims && replica) {
      await Promise.allSettled([...this.saves])
      try { await store.releaseClaims(botId, replica.id) } catch (error) {
        this.deps.log.warn('outbound: could not release claims (they expire by themselves)', { bot: botId, error: errorText(error) })
      }
    }
    if (dropped > 0) this.deps.log.info('outbound: bot runs elsewhere now; its waiting actions are left to the new holder', { bot: botId, count: dropped })
    return dropped
  }

  /** Extends this replica's claims on the actions it holds (the runtime calls it well within claimTtlMs). */
  async renewClaims(): Promise<number> {
    const { store } = this.deps
    const claim = this.claimNow()
    if (!store?.renewClaims || !claim) return 0
    return store.renewClaims(claim)
  }

  private async resumeNow(botId: string): Promise<number> {
    const store = this.deps.store
    if (!store) return 0
    const claimed = new Set<number>()
    for (const lane of this.lanes.values()) for (const item of lane) if (item.id !== undefined) claimed.add(item.id)
    this.claimWatchers.add(claimed)
    let count = 0
    try {
      const claim = this.claimNow()
      const pending = await (claim ? store.pending(botId, claim) : store.pending(botId))
      const byLane = new Map<string, Item[]>()
      for (const { id, action, queuedAt } of pending) {
        if (claimed.has(id)) continue
        const key = laneKey(action)
        const items = byLane.get(key) ?? []
        items.push({ action, id, queuedAt, attempts: 0 })
        byLane.set(key, items)
        count++
      }
      for (const [key, items] of byLane) {
        let lane = this.lanes.get(key)
        if (!lane) this.lanes.set(key, (lane = []))
        // A running lane is performing its head: the older actions go right after it.
        lane.splice(this.running.has(key) && lane.length > 0 ? 1 : 0, 0, ...items)
      }
    } finally {
      this.claimWatchers.delete(claimed)
    }
    if (count > 0) this.deps.log.info('outbound: resumed pending actions', { bot: botId, count })
    return count
  }

  /** The bot logged in: its waiting actions are performed, in order. */
  online(botId: string): void {
    const outage = this.outages.get(botId)
    if (!outage) return
    this.outages.delete(botId)
    const waiting = this.waitingFor(botId)
    if (waiting > 0) this.deps.log.info('outbound: bot online, performing waiting actions in order', { bot: botId, waiting, offlineMs: this.deps.clock.now() - outage.since })
    this.kick()
  }

  /** The bot logged out (or has not logged in yet): its actions wait for its login. */
  offline(botId: string): void {
    if (!this.outages.has(botId)) this.outages.set(botId, { since: this.deps.clock.now(), logged: false })
  }

  /** Whether the queue considers the bot logged in. */
  isOnline(botId: string): boolean { return !this.outages.has(botId) }

  /** Number of actions waiting or in progress (including those waiting for a login). */
  get size(): number {
    let n = 0
    for (const lane of this.lanes.values()) n += lane.length
    return n
  }

  /**
   * Work that can progress now: actions queued or in progress (not paused until a bot logs in), plus
   * actions still being stored.
   */
  get active(): number {
    let n = this.saves.size
    for (const [key, lane] of this.lanes) if (this.running.has(key)) n += lane.length
    return n
  }

  /**
   * Resolves true when everything queued has been performed; false if `timeoutMs` passed first or as soon
   * as what is left only waits for a bot's login (it stays pending in the store for the next start).
   */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return true
    if (this.running.size === 0) return false
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(resolve))
    const result = await Promise.race([idle, timedOut])
    if (timer) clearTimeout(timer)
    return result
  }

  /** Whether every working lane is waiting on the clock (throttle, jitter or backoff), not on I/O. */
  get waitingOnClock(): boolean {
    return this.running.size > 0 && this.sleepers >= this.running.size
  }

  private async sleep(ms: number): Promise<void> {
    this.sleepers++
    try { await this.deps.clock.sleep(ms) } finally { this.sleepers-- }
  }

  /** Resolves once every action queued so far is stored (a flush waits for it before confirming dedupe marks). */
  async stored(): Promise<void> {
    await Promise.allSettled([...this.saves])
  }

  /**
   * Stops starting new actions (those not performed stay pending in the store for the next start);
   * resolves once the actions queued so far are stored.
   */
  async stop(): Promise<void> {
    this.stopped = true
    await Promise.allSettled([...this.saves])
  }

  private claim(id: number): void {
    for (const claimed of this.claimWatchers) claimed.add(id)
  }

  /** Whether actions of the bot must wait (logged out, or its stored actions are being resumed). */
  private mustWait(botId: string): boolean {
    return this.outages.has(botId) || this.resuming.has(botId)
  }

  private waitingFor(botId: string): number {
    let n = 0
    for (const lane of this.lanes.values()) for (const item of lane) if (item.action.botId === botId) n++
    return n
  }

  private push(item: Item): void {
    const key = laneKey(item.action)
    let lane = this.lanes.get(key)
    if (!lane) this.lanes.set(key, (lane = []))
    lane.push(item)
    this.start(key)
  }

  private start(key: string): void {
    if (this.running.has(key)) return
    // A lane whose head waits for a login is not started at all (a worker that stops at once would wake
    // drain() as if nothing could progress while other lanes are about to start).
    const head = this.lanes.get(key)?.[0]
    if (head && this.mustWait(head.action.botId)) {
      this.paused(head.action.botId)
      return
    }
    this.running.add(key)
    void this.work(key)
  }

  /** Restarts every paused lane (each pauses again at once if its head still has to wait). */
  private kick(): void {
    for (const [key, lane] of this.lanes) if (lane.length > 0) this.start(key)
  }

  private async work(key: string): Promise<void> {
    const lane = this.lanes.get(key)
    const expired = new Map<string, number>()
    try {
      while (lane && lane.length > 0 && !this.stopped) {
        const item = lane[0] as Item
        if (this.mustWait(item.action.botId)) {
          this.paused(item.action.botId)
          return
        }
        const step = await this.performOne(item)
        if (step === 'offline') continue
        lane.shift()
        if (step === 'expired') expired.set(item.action.kind, (expired.get(item.action.kind) ?? 0) + 1)
        else this.reportExpired(key, expired)
      }
    } catch (error) {
      // Stopping mid-wait, or the rate-limit backend failing: the item stays pending (in the store too)
      // and is picked up by the next start's resume(); nothing is lost and nothing is sent twice.
      if (!(error instanceof QueueStopped)) this.deps.log.error('outbound: lane halted', { lane: key, pending: lane?.length ?? 0, error: errorText(error) })
    } finally {
      this.reportExpired(key, expired)
      this.running.delete(key)
      if (lane && lane.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key)
      // Nothing can progress any more: drain() waiters learn whether that is because all was done.
      if (this.running.size === 0) for (const wake of this.idleWaiters.splice(0)) wake(this.size === 0)
    }
  }

  /** A lane stops until its bot logs in; the first such lane of an outage says so, with the count. */
  private paused(botId: string): void {
    const outage = this.outages.get(botId)
    if (!outage || outage.logged) return
    outage.logged = true
    this.deps.onWait?.('offline')
    // Counted after the current turn, so actions queued together (a reply and a removal) count together.
    queueMicrotask(() => this.deps.log.warn('outbound: bot offline, actions wait for its login', { bot: botId, waiting: this.waitingFor(botId) }))
  }

  /** One log line per run of expired actions in a lane: how many, of which kinds (never their text). */
  private reportExpired(key: string, expired: Map<string, number>): void {
    if (expired.size === 0) return
    let count = 0
    for (const n of expired.values()) count += n
    this.deps.log.info('outbound: expired actions dropped (waited longer than their kind allows)', { lane: key, count, kinds: Object.fromEntries(expired) })
    expired.clear()
  }

  private isExpired(item: Item): boolean {
    const limit = this.deps.settings.expiryMs?.[item.action.kind as ExpiringKind]
    return limit !== undefined && this.deps.clock.now() - item.queuedAt > limit
  }

  private async performOne(item: Item): Promise<Step> {
    const { action } = item
    const { settings, random, log } = this.deps
    if (item.saving) await item.saving
    if (item.duplicate) return 'lost'
    let lastError: unknown
    while (item.attempts < settings.maxAttempts) {
      if (this.mustWait(action.botId)) return 'offline'
      if (this.isExpired(item)) {
        log.debug('outbound: expired', { ...describeAction(action), ageMs: this.deps.clock.now() - item.queuedAt })
        await this.finish(item, 'expired', item.attempts)
        return 'expired'
      }
      await this.waitForTokens(action)
      const [min, max] = settings.jitterMs
      if (max > 0) await this.sleep(random.int(min, max))
      if (this.stopped) throw new QueueStopped()
      // Logged out while this action waited for its turn: it waits for the login, not an attempt.
      if (this.mustWait(action.botId)) return 'offline'
      if (!(await this.stillOurs(item))) return 'lost'
      item.attempts++
      try {
        await this.deps.performer.perform(action)
        // One line per action the bot performed: what and why (its note), never the text it sent.
        log.info(`bot action: ${action.note ?? action.kind}`, { ...describeFields(action), attempts: item.attempts })
        if (action.kind === 'say') log.debug('outbound: text', { group: action.groupId, text: action.text })
        await this.finish(item, 'sent', item.attempts)
        return 'sent'
      } catch (error) {
        if (error instanceof AlreadyDoneError) {
          // Nothing left to do (the member already left): done, not a failure — no retry, no error.
          log.info(`bot action: ${action.note ?? action.kind} — already done (${error.outcome})`, { ...describeFields(action), attempts: item.attempts, outcome: error.outcome })
          await this.finish(item, 'sent', item.attempts, undefined, error.outcome)
          return 'sent'
        }
        if (error instanceof OfflineError) {
          // The platform says the bot is logged out (possibly before its logout event arrives).
          item.attempts--
          this.offline(action.botId)
          return 'offline'
        }
        lastError = error
        if (!isTransient(error) || item.attempts >= settings.maxAttempts) break
        const delay = settings.retryBaseMs * 2 ** (item.attempts - 1)
        this.deps.onWait?.('retry')
        log.warn('outbound: transient failure, retrying', { ...describeAction(action), attempts: item.attempts, delayMs: delay, error: this.errorOf(action, error) })
        await this.sleep(delay)
      }
    }
    log.warn('outbound: failed', { ...describeAction(action), attempts: item.attempts, error: this.errorOf(action, lastError) })
    // Stored (operators read it in the admin API) and reported to listeners with members as pseudonyms too.
    await this.finish(item, 'failed', item.attempts, this.errorOf(action, lastError, false))
    return 'failed'
  }

  /**
   * With claims: the row must still be pending and ours, checked (and the claim extended) in one statement
   * right before performing — so an action is performed at most once per claim. A row taken over by another
   * replica, or already finished, leaves this queue without an outcome (the other replica records it).
   */
  private async stillOurs(item: Item): Promise<boolean> {
    const { store } = this.deps
    const claim = this.claimNow()
    if (!store?.begin || !claim || item.id === undefined) return true
    if (await store.begin(item.id, claim)) return true
    this.deps.log.info('outbound: action claimed by another replica or already done; not performed here', describeAction(item.action))
    return false
  }

  private async waitForTokens(action: OutboundAction): Promise<void> {
    const { rateLimiter, settings } = this.deps
    // Account first (the scarce resource), then the group.
    for (;;) {
      if (this.stopped) throw new QueueStopped()
      const account = await rateLimiter.take(`out:acct:${action.botId}`, settings.perAccount)
      if (account.allowed) break
      this.deps.onWait?.('rate_limit')
      await this.sleep(account.retryAfterMs)
    }
    if (!('groupId' in action) || !action.groupId) return
    for (;;) {
      if (this.stopped) throw new QueueStopped()
      const group = await rateLimiter.take(`out:grp:${action.groupId}`, settings.perGroup)
      if (group.allowed) return
      this.deps.onWait?.('rate_limit')
      await this.sleep(group.retryAfterMs)
    }
  }

  private async finish(item: Item, status: OutboundStatus, attempts: number, error?: string, outcome?: string): Promise<void> {
    if (item.id !== undefined) this.claim(item.id)
    if (this.deps.store && item.id !== undefined) {
      try {
        // A note on how it ended (`already_gone`) goes in the error column: no new status for readers to learn.
        await this.deps.store.finish(item.id, { status, attempts, error: error ?? outcome, at: this.deps.clock.now() }, this.deps.replica?.id)
      } catch (e) {
        this.deps.log.warn('outbound: could not record outcome', { ...describeAction(item.action), error: this.errorOf(item.action, e) })
      }
    }
    for (const listener of this.listeners) {
      try { listener({ action: item.action, status, attempts, error, ...(outcome === undefined ? {} : { outcome }) }) } catch (e) {
        this.deps.log.error('outbound: listener failed', { error: errorText(e) })
      }
    }
  }
}

/** The member ids an action names (the member it acts on, the contact it writes to, those it mentions). */
function memberIdsOf(action: OutboundAction): string[] {
  switch (action.kind) {
    case 'remove': case 'add': case 'tag': return [action.memberId]
    case 'sayDirect': return [action.contactId]
    case 'say': return action.mentions ?? []
    default: return []
  }
}

function laneKey(action: OutboundAction): string {
  return 'groupId' in action && action.groupId ? `g:${action.groupId}` : `b:${action.botId}`
}
