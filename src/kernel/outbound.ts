import type { ActionSink, OutboundAction } from './context'
import type { Logger } from './logger'
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

/** Durable record of queued actions, so nothing queued is lost on restart. */
export interface OutboundStore {
  /** Stores a new pending action; returns its id. */
  save(action: OutboundAction, queuedAt: number): Promise<number>
  /** Records the outcome of an action. */
  finish(id: number, outcome: { status: 'sent' | 'failed'; attempts: number; error?: string; at: number }): Promise<void>
  /** Pending actions of a bot, oldest first (to resume after a restart). */
  pending(botId: string): Promise<Array<{ id: number; action: OutboundAction }>>
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
}

/** Outcome notification, e.g. so a feature can tell the owner a removal failed. */
export type OutboundListener = (event: { action: OutboundAction; status: 'sent' | 'failed'; attempts: number; error?: string }) => void

interface Item { action: OutboundAction; id?: number; saving?: Promise<void> }

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
  switch (action.kind) {
    case 'say': return { kind: 'say', bot: action.botId, group: action.groupId, chars: action.text.length, mentions: action.mentions?.length ?? 0 }
    case 'sayCard': return { kind: 'sayCard', bot: action.botId, group: action.groupId }
    case 'sayImage': return { kind: 'sayImage', bot: action.botId, group: action.groupId }
    case 'sayDirect': return { kind: 'sayDirect', bot: action.botId, contact: action.contactId, chars: action.text.length }
    case 'remove': case 'add': return { kind: action.kind, bot: action.botId, group: action.groupId, member: action.memberId }
    case 'tag': return { kind: 'tag', bot: action.botId, member: action.memberId, tag: action.tag }
    case 'acceptInvitation': return { kind: 'acceptInvitation', bot: action.botId, invitation: action.invitationId }
  }
}

/**
 * The one way out: every send, removal, tag and invitation answer is queued here, throttled per account
 * and per group (token buckets from the RateLimiter port, so replicas share them) with jitter, retried on
 * transient errors, and recorded in the OutboundStore. Lanes are per group (order kept inside a group);
 * account-wide actions use a lane per bot.
 */
export class OutboundQueue implements ActionSink {
  private readonly lanes = new Map<string, Item[]>()
  private readonly running = new Set<string>()
  private readonly listeners = new Set<OutboundListener>()
  private idleWaiters: Array<() => void> = []
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
  }) {}

  /** Subscribes to outcomes; returns a disposer. */
  onOutcome(listener: OutboundListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Queues an action (never throws; persistence happens in the background before it is performed). */
  enqueue(action: OutboundAction): void {
    const item: Item = { action }
    const store = this.deps.store
    if (store) {
      item.saving = store.save(action, this.deps.clock.now()).then(
        (id) => { item.id = id },
        (error: unknown) => this.deps.log.warn('outbound: could not persist action', { ...describeAction(action), error: String(error) }),
      )
    }
    this.push(item)
  }

  /** Re-queues actions that were pending when the process last stopped. */
  async resume(botId: string): Promise<number> {
    if (!this.deps.store) return 0
    const pending = await this.deps.store.pending(botId)
    for (const { id, action } of pending) this.push({ action, id })
    if (pending.length > 0) this.deps.log.info('outbound: resumed pending actions', { bot: botId, count: pending.length })
    return pending.length
  }

  /** Number of actions waiting or in progress. */
  get size(): number {
    let n = 0
    for (const lane of this.lanes.values()) n += lane.length
    return n
  }

  /** Resolves true when everything queued has been performed, false if `timeoutMs` passed first. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return true
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)))
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

  /** Stops starting new actions (those not performed stay pending in the store for the next start). */
  stop(): void { this.stopped = true }

  private push(item: Item): void {
    const key = laneKey(item.action)
    let lane = this.lanes.get(key)
    if (!lane) this.lanes.set(key, (lane = []))
    lane.push(item)
    if (!this.running.has(key)) {
      this.running.add(key)
      void this.work(key)
    }
  }

  private async work(key: string): Promise<void> {
    const lane = this.lanes.get(key)
    try {
      while (lane && lane.length > 0 && !this.stopped) {
        const item = lane[0] as Item
        await this.performOne(item)
        lane.shift()
      }
    } catch (error) {
      // Stopping mid-wait, or the rate-limit backend failing: the item stays pending (in the store too)
      // and is picked up by the next start's resume(); nothing is lost and nothing is sent twice.
      if (!(error instanceof QueueStopped)) this.deps.log.error('outbound: lane halted', { lane: key, pending: lane?.length ?? 0, error: String(error) })
    } finally {
      this.running.delete(key)
      if (lane && lane.length === 0) this.lanes.delete(key)
      if (this.size === 0) for (const wake of this.idleWaiters.splice(0)) wake()
    }
  }

  private async performOne(item: Item): Promise<void> {
    const { action } = item
    const { settings, random, log } = this.deps
    if (item.saving) await item.saving
    let attempts = 0
    let lastError: unknown
    while (attempts < settings.maxAttempts) {
      await this.waitForTokens(action)
      const [min, max] = settings.jitterMs
      if (max > 0) await this.sleep(random.int(min, max))
      if (this.stopped) throw new QueueStopped()
      attempts++
      try {
        await this.deps.performer.perform(action)
        log.info('outbound: performed', { ...describeAction(action), attempts })
        if (action.kind === 'say') log.debug('outbound: text', { group: action.groupId, text: action.text })
        await this.finish(item, 'sent', attempts)
        return
      } catch (error) {
        lastError = error
        if (!isTransient(error) || attempts >= settings.maxAttempts) break
        const delay = settings.retryBaseMs * 2 ** (attempts - 1)
        log.warn('outbound: transient failure, retrying', { ...describeAction(action), attempts, delayMs: delay, error: String(error) })
        await this.sleep(delay)
      }
    }
    log.warn('outbound: failed', { ...describeAction(action), attempts, error: String(lastError) })
    await this.finish(item, 'failed', attempts, String(lastError))
  }

  private async waitForTokens(action: OutboundAction): Promise<void> {
    const { rateLimiter, settings } = this.deps
    // Account first (the scarce resource), then the group.
    for (;;) {
      if (this.stopped) throw new QueueStopped()
      const account = await rateLimiter.take(`out:acct:${action.botId}`, settings.perAccount)
      if (account.allowed) break
      await this.sleep(account.retryAfterMs)
    }
    if (!('groupId' in action) || !action.groupId) return
    for (;;) {
      if (this.stopped) throw new QueueStopped()
      const group = await rateLimiter.take(`out:grp:${action.groupId}`, settings.perGroup)
      if (group.allowed) return
      await this.sleep(group.retryAfterMs)
    }
  }

  private async finish(item: Item, status: 'sent' | 'failed', attempts: number, error?: string): Promise<void> {
    if (this.deps.store && item.id !== undefined) {
      try {
        await this.deps.store.finish(item.id, { status, attempts, error, at: this.deps.clock.now() })
      } catch (e) {
        this.deps.log.warn('outbound: could not record outcome', { ...describeAction(item.action), error: String(e) })
      }
    }
    for (const listener of this.listeners) {
      try { listener({ action: item.action, status, attempts, error }) } catch (e) {
        this.deps.log.error('outbound: listener failed', { error: String(e) })
      }
    }
  }
}

function laneKey(action: OutboundAction): string {
  return 'groupId' in action && action.groupId ? `g:${action.groupId}` : `b:${action.botId}`
}
