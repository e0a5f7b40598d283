import type { Clock } from '../ports/clock'
import type { EventBase } from './events'
import { errorText, type Logger } from './logger'

/** A batched consumer: its name, the event types it takes, and what it does with a batch. */
export interface BatchConsumer {
  name: string
  types: ReadonlySet<string>
  handle(events: readonly EventBase[]): Promise<void>
}

/** Delivery settings. */
export interface EventBusSettings {
  /** Most events handed to a consumer at once. */
  maxBatch: number
  /** First retry delay after a failed batch; doubles up to `maxRetryMs`. */
  retryBaseMs: number
  maxRetryMs: number
}

interface Lane {
  consumer: BatchConsumer
  pending: EventBase[]
  running: boolean
  failures: number
  /** Events ever queued to, and delivered by, this lane (delivered ≤ queued). */
  queued: number
  delivered: number
}

/**
 * Delivers events to batched consumers after the message chain: in emission order per consumer, in batches,
 * at least once — a batch that fails is retried (with backoff) until it succeeds, never dropped, so
 * consumers must be idempotent (events carry stable ids). It never blocks the message path: publishing
 * only appends; delivery runs on its own. `drain()` (shutdown) waits until everything was delivered.
 */
export class EventBus {
  private readonly lanes: Lane[]
  private idleWaiters: Array<() => void> = []
  /** Checks run after every delivered batch (see caughtUp). */
  private readonly watchers = new Set<() => void>()
  private stopped = false

  constructor(consumers: readonly BatchConsumer[], private readonly deps: { clock: Clock; log: Logger; settings: EventBusSettings }) {
    this.lanes = consumers.map((consumer) => ({ consumer, pending: [], running: false, failures: 0, queued: 0, delivered: 0 }))
  }

  /** Whether any consumer takes events of `type` (lets producers skip building events nobody reads). */
  wants(type: string): boolean {
    return this.lanes.some((l) => l.consumer.types.has(type))
  }

  /** Queues events for every consumer that takes their type. */
  publish(events: readonly EventBase[]): void {
    for (const lane of this.lanes) {
      let added = false
      for (const event of events) {
        if (lane.consumer.types.has(event.type)) { lane.pending.push(event); lane.queued++; added = true }
      }
      if (added && !lane.running) this.start(lane)
    }
  }

  /** Events waiting or being delivered. */
  get backlog(): number {
    let n = 0
    for (const lane of this.lanes) n += lane.pending.length
    return n
  }

  /** Resolves when every queued event was delivered, or false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.backlog === 0) return true
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)))
    const done = await Promise.race([idle, timedOut])
    if (timer) clearTimeout(timer)
    return done
  }

  /**
   * Resolves true once every event queued before the call was delivered (those queued later need not be),
   * or false after `timeoutMs`. The runtime's flush waits for it before taking the consumers' buffers, so the
   * dedupe marks it confirms never cover an event still on its way to a buffer.
   */
  async caughtUp(timeoutMs: number): Promise<boolean> {
    const targets = this.lanes.map((l) => l.queued)
    const reached = (): boolean => this.lanes.every((l, i) => l.delivered >= (targets[i] as number))
    if (reached()) return true
    return new Promise<boolean>((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer)
        this.watchers.delete(check)
        resolve(result)
      }
      const check = (): void => { if (reached()) finish(true) }
      const timer = setTimeout(() => finish(false), timeoutMs)
      timer.unref()
      this.watchers.add(check)
    })
  }

  /** Stops retrying (shutdown after drain); what is still queued is reported by the caller. */
  stop(): void { this.stopped = true }

  private start(lane: Lane): void {
    lane.running = true
    // Deliver on a later tick: the message path that published returns at once.
    setImmediate(() => { void this.run(lane) })
  }

  private async run(lane: Lane): Promise<void> {
    const { log, clock, settings } = this.deps
    while (lane.pending.length > 0 && !this.stopped) {
      const batch = lane.pending.slice(0, settings.maxBatch)
      try {
        await lane.consumer.handle(batch)
        lane.pending.splice(0, batch.length)
        lane.delivered += batch.length
        lane.failures = 0
        for (const check of [...this.watchers]) check()
      } catch (error) {
        lane.failures++
        const delay = Math.min(settings.maxRetryMs, settings.retryBaseMs * 2 ** (lane.failures - 1))
        log.error('event consumer failed; retrying the batch', { consumer: lane.consumer.name, events: batch.length, attempt: lane.failures, retryInMs: delay, error: errorText(error) })
        await clock.sleep(delay)
      }
    }
    lane.running = false
    if (this.backlog === 0) for (const wake of this.idleWaiters.splice(0)) wake()
  }
}
