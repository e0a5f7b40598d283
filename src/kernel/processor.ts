import { MessageContext, type ActionSink, type IncomingMessage } from './context'
import type { GroupDirectory } from './directory'
import type { EventBase } from './events'
import type { EventBus } from './event-bus'
import type { InlineConsumer } from './host'
import { KeyedQueue } from './keyed-queue'
import { errorText, lazyChild, type Logger } from './logger'
import { compose, type NamedMiddleware } from './pipeline'
import type { RuleStore } from './rules'

/** Message-id dedupe as the processor needs it (the Dedupe port, with persistence where it has any). */
export interface SeenFilter {
  firstSeen(id: string): boolean | Promise<boolean>
  /** Forgets a mark (a shed message), so a redelivered copy is processed. */
  forget?(id: string): Promise<void>
}

/**
 * The database as the message path sees it: work that failed because it could not be reached waits until
 * it answers again and is then retried, instead of being lost (implemented by adapters/db/health.ts).
 */
export interface StorageGate {
  /** Whether the database is known to be unreachable now. */
  readonly down: boolean
  /** Whether an error means the database could not be reached (so the work can be retried). */
  unavailable(error: unknown): boolean
  /** Records that it could not be reached. */
  markDown(): void
  /** Resolves once it answers again (at once when up). */
  ready(): Promise<void>
}

/** How many times one step (a feature on a message, a consumer on an event) is retried after outages. */
const MAX_STORAGE_RETRIES = 20

/**
 * Outcome of one submitted message: `shed` = its group's queue was full (see `maxQueuePerGroup`); it was
 * not processed and its dedupe mark was forgotten, so a redelivered copy is processed.
 */
export type ProcessResult = 'processed' | 'duplicate' | 'failed' | 'shed'

/** A queued message not started yet; `shed` once a newer one took its place in a full group. */
interface WaitingMessage { message: IncomingMessage; shed: boolean; evict: (result: Promise<ProcessResult>) => void }

/** How often a group that keeps shedding is reported in the log (one warning per interval, with the count). */
const SHED_LOG_EVERY_MS = 10_000

/** A middleware that reports its own time (minus what ran inside its next()). */
function timed(m: NamedMiddleware<MessageContext>, report: (feature: string, seconds: number) => void): NamedMiddleware<MessageContext> {
  return {
    name: m.name,
    fn: async (ctx, next) => {
      const start = performance.now()
      let inner = 0
      try {
        await m.fn(ctx, async () => {
          const s = performance.now()
          try { await next() } finally { inner += performance.now() - s }
        })
      } finally {
        report(m.name, (performance.now() - start - inner) / 1000)
      }
    },
  }
}

/**
 * The message path: dedupe → per-group ordering → context → feature chain (an error boundary per feature)
 * → events: inline consumers in the group's order, then the batched bus. Events from channels and from
 * outside the chain go through the same per-group order, so a member's join is recorded before their first
 * message.
 */
export class MessageProcessor {
  private readonly order = new KeyedQueue()
  private readonly chain: (ctx: MessageContext) => Promise<void>
  /** Per group: messages shed since the last warning, and when that warning was. */
  private readonly shedding = new Map<string, { count: number; loggedAt: number }>()
  /** Per group: messages queued and not started yet, oldest first (candidates for shedding). */
  private readonly waiting = new Map<string, WaitingMessage[]>()
  /** Per group: waiting messages already shed (still in the queue until their turn, where they do nothing). */
  private readonly evicted = new Map<string, number>()

  constructor(private readonly deps: {
    middleware: NamedMiddleware<MessageContext>[]
    inline: InlineConsumer[]
    bus: EventBus
    seen: SeenFilter
    directory: GroupDirectory
    rules: Pick<RuleStore, 'forGroup'>
    sink: ActionSink
    /** Whether an event type may be emitted (declared by a feature or the kernel). */
    declared: (type: string) => boolean
    log: Logger
    /** The database's reachability: work that failed because it was unreachable is retried once it is back. */
    storage?: StorageGate
    /**
     * Most messages one group may have waiting or running (null = unbounded). A message arriving at a full
     * group is shed: not processed, its dedupe mark forgotten, counted (result `shed`) and logged.
     */
    maxQueuePerGroup?: number | null
    /** Receives each feature's own time on a message, in seconds (metrics); absent = not measured. */
    onFeatureTime?: (feature: string, seconds: number) => void
    /**
     * Whether a message is a command some feature answers (check-in, lottery keyword). When given, a full
     * group sheds its oldest waiting non-command message instead of the arriving one; commands are kept
     * (an arriving message is shed only when every waiting one is a command).
     */
    isCommand?: (message: IncomingMessage) => boolean | Promise<boolean>
  }) {
    const timing = deps.onFeatureTime
    this.chain = compose(timing ? deps.middleware.map((m) => timed(m, timing)) : deps.middleware, (error, ctx, feature) => {
      ctx.log.error('feature failed on message', { feature, error: errorText(error) })
    }, (error, ctx, feature, attempt) => this.retryLater(error, attempt, () => ctx.log.warn('database unreachable: feature waits to run again', { feature, attempt })))
  }

  /** After an outage-type failure: waits for the database, then says "run it again" (bounded attempts). */
  private async retryLater(error: unknown, attempt: number, note: () => void): Promise<boolean> {
    const storage = this.deps.storage
    if (!storage || attempt > MAX_STORAGE_RETRIES || !storage.unavailable(error)) return false
    storage.markDown()
    note()
    await storage.ready()
    return true
  }

  /** Messages and events waiting or running. */
  get backlog(): number { return this.order.size }

  /** The longest queue of one group (messages and events waiting or running). */
  get deepestGroup(): number { return this.order.deepest }

  /** Processes one message; resolves when its chain and inline consumers are done. Never rejects. */
  async submit(message: IncomingMessage): Promise<ProcessResult> {
    let first: boolean
    try {
      first = await this.deps.seen.firstSeen(message.id)
    } catch (error) {
      // Without dedupe we cannot promise exactly-once; processing twice beats losing the message.
      this.deps.log.warn('dedupe unavailable; processing anyway', { msg: message.id, error: errorText(error) })
      first = true
    }
    if (!first) {
      this.deps.log.debug('duplicate message dropped', { bot: message.botId, group: message.groupId, msg: message.id })
      return 'duplicate'
    }
    const bound = this.deps.maxQueuePerGroup
    const group = message.groupId
    if (bound != null && this.order.sizeOf(group) - (this.evicted.get(group) ?? 0) >= bound) {
      const victim = await this.oldestPlain(group)
      if (!victim) return this.shed(message, bound)
      // The oldest waiting plain message gives its place to this one: shed now (its mark forgotten at once, so
      // a redelivered copy is processed), skipped when its turn comes.
      victim.shed = true
      this.evicted.set(group, (this.evicted.get(group) ?? 0) + 1)
      victim.evict(this.shed(victim.message, bound))
    }
    if (bound == null) return this.order.run(group, () => this.process(message))
    let evict: (result: Promise<ProcessResult>) => void = () => undefined
    const evicted = new Promise<ProcessResult>((resolve) => { evict = (r) => { void r.then(resolve) } })
    const entry: WaitingMessage = { message, shed: false, evict: (r) => evict(r) }
    const list = this.waiting.get(group) ?? []
    list.push(entry)
    this.waiting.set(group, list)
    const queued = this.order.run(group, () => {
      const left = (this.waiting.get(group) ?? []).filter((e) => e !== entry)
      if (left.length > 0) this.waiting.set(group, left)
      else this.waiting.delete(group)
      if (!entry.shed) return this.process(message)
      const n = (this.evicted.get(group) ?? 1) - 1
      if (n > 0) this.evicted.set(group, n)
      else this.evicted.delete(group)
      return Promise.resolve<ProcessResult>('shed')
    })
    // A message shed while waiting answers at once (its place in the queue is skipped when its turn comes).
    return Promise.race([queued, evicted])
  }

  /** The oldest message of `group` still waiting that is not a command (none when commands fill the queue). */
  private async oldestPlain(group: string): Promise<WaitingMessage | undefined> {
    const isCommand = this.deps.isCommand
    if (!isCommand) return undefined
    for (const entry of [...(this.waiting.get(group) ?? [])]) {
      if (entry.shed || !this.waiting.get(group)?.includes(entry)) continue
      let command: boolean
      try { command = await isCommand(entry.message) } catch { command = true }
      // Checked again after the await: it may have started meanwhile.
      if (!command && !entry.shed && this.waiting.get(group)?.includes(entry)) return entry
    }
    return undefined
  }

  /** The group is too far behind: this message is not processed, and it is said (log + result), never silently. */
  private async shed(message: IncomingMessage, bound: number): Promise<ProcessResult> {
    const now = Date.now()
    const state = this.shedding.get(message.groupId) ?? { count: 0, loggedAt: 0 }
    this.shedding.set(message.groupId, state)
    state.count++
    if (now - state.loggedAt >= SHED_LOG_EVERY_MS) {
      this.deps.log.warn('group queue full: messages shed (the process is behind)', { bot: message.botId, group: message.groupId, shed: state.count, queued: this.order.sizeOf(message.groupId), maxQueuePerGroup: bound })
      state.count = 0
      state.loggedAt = now
    }
    try { await this.deps.seen.forget?.(message.id) } catch (error) {
      this.deps.log.warn('could not forget the mark of a shed message', { msg: message.id, error: errorText(error) })
    }
    return 'shed'
  }

  /** Delivers an event (from a channel, a job or a consumer) in order with its group's messages. */
  publish(event: EventBase): Promise<void> {
    const key = event.groupId ?? `bot:${event.botId ?? ''}`
    return this.order.run(key, () => this.dispatch([event]))
  }

  /** Resolves when every submitted message and event is done (batched delivery may still run). */
  idle(): Promise<void> { return this.order.idle() }

  private async process(message: IncomingMessage): Promise<ProcessResult> {
    const log = lazyChild(this.deps.log, { bot: message.botId, group: message.groupId, msg: message.id })
    try {
      // While the database is known down, the group's messages wait here (in order) rather than fail.
      if (this.deps.storage?.down) await this.deps.storage.ready()
      const ctx = await this.context(message, log)
      await this.chain(ctx)
      if (ctx.events.length > 0) await this.dispatch(ctx.events)
      return 'processed'
    } catch (error) {
      log.error('message processing failed', { error: errorText(error) })
      return 'failed'
    }
  }

  /** The message's context; lookups that failed because the database was unreachable are retried once it is back. */
  private async context(message: IncomingMessage, log: Logger): Promise<MessageContext> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { directory, rules } = this.deps
        const group = directory.group(message.groupId, message.botId)
        const member = directory.member(message.groupId, message.senderId, message.senderName)
        const set = rules.forGroup(message.groupId, message.botId)
        // Cached lookups answer synchronously; await only what is not cached yet.
        return new MessageContext(
          message,
          group instanceof Promise ? await group : group,
          member instanceof Promise ? await member : member,
          await set, log, this.deps.sink, this.deps.declared,
        )
      } catch (error) {
        if (!(await this.retryLater(error, attempt, () => log.warn('database unreachable: message waits', { attempt })))) throw error
      }
    }
  }

  private async dispatch(events: readonly EventBase[]): Promise<void> {
    for (const event of events) {
      for (const consumer of this.deps.inline) {
        if (!consumer.types.has(event.type)) continue
        for (let attempt = 1; ; attempt++) {
          try {
            await consumer.handle(event)
            break
          } catch (error) {
            if (await this.retryLater(error, attempt, () => this.deps.log.warn('database unreachable: event consumer waits to run again', { feature: consumer.name, event: event.type, attempt }))) continue
            this.deps.log.error('feature failed on event', { feature: consumer.name, event: event.type, error: errorText(error) })
            break
          }
        }
      }
    }
    this.deps.bus.publish(events)
  }
}
