import { MessageContext, type ActionSink, type GroupInfo, type GroupRecord, type IncomingMessage, type MemberInfo, type RuleSet } from './context'
import { eventGroupId, type DomainEvent } from './events'
import type { FeatureInstance } from './feature'
import { KeyedQueue } from './keyed-queue'
import { lazyChild, type Logger } from './logger'
import { compose, type NamedMiddleware } from './pipeline'

/** Looks up groups and members for the context (the groups feature implements it, with a cache). */
export interface GroupDirectory {
  group(groupId: string, botId: string): GroupInfo | Promise<GroupInfo>
  member(groupId: string, memberId: string, name: string): MemberInfo | Promise<MemberInfo>
  /** The stored group, or null when unknown (fresh read; for routes and jobs, not the message path). */
  find(groupId: string): Promise<GroupRecord | null>
}

/** Cached, validated rules per group. */
export interface RuleSource {
  forGroup(groupId: string): RuleSet | Promise<RuleSet>
}

/** Message-id dedupe as the processor needs it. */
export interface SeenFilter {
  firstSeen(id: string): boolean | Promise<boolean>
}

/** A feature as the processor runs it. */
export interface RunnableFeature {
  name: string
  instance: FeatureInstance
}

/** Outcome of one submitted message. */
export type ProcessResult = 'processed' | 'duplicate' | 'failed'

/**
 * The message path: dedupe → per-group ordering → context → feature chain (error boundary per feature)
 * → domain events to consumers. Also runs adapter events through the same per-group order, so a member's
 * join is recorded before their first message.
 */
export class MessageProcessor {
  private readonly order = new KeyedQueue()
  private readonly chain: (ctx: MessageContext) => Promise<void>
  private readonly consumers: RunnableFeature[]

  constructor(private readonly deps: {
    features: RunnableFeature[]
    seen: SeenFilter
    directory: GroupDirectory
    rules: RuleSource
    sink: ActionSink
    log: Logger
  }) {
    const stack: NamedMiddleware<MessageContext>[] = deps.features
      .filter((f) => f.instance.middleware)
      .map((f) => ({ name: f.name, fn: f.instance.middleware as NonNullable<FeatureInstance['middleware']> }))
    this.chain = compose(stack, (error, ctx, feature) => {
      ctx.log.error('feature failed on message', { feature, error: errorText(error) })
    })
    this.consumers = deps.features.filter((f) => f.instance.onEvent)
  }

  /** Messages and events waiting or running. */
  get backlog(): number { return this.order.size }

  /** Processes one message; resolves when its chain and events are done. Never rejects. */
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
    return this.order.run(message.groupId, () => this.process(message))
  }

  /** Delivers an adapter event to consumers, in order with the group's messages. */
  publish(event: DomainEvent): Promise<void> {
    const key = eventGroupId(event) ?? `bot:${'botId' in event ? event.botId : ''}`
    return this.order.run(key, () => this.deliver([event]))
  }

  /** Resolves when every submitted message and event is done. */
  idle(): Promise<void> { return this.order.idle() }

  private async process(message: IncomingMessage): Promise<ProcessResult> {
    const log = lazyChild(this.deps.log, { bot: message.botId, group: message.groupId, msg: message.id })
    try {
      const [group, member, rules] = await Promise.all([
        this.deps.directory.group(message.groupId, message.botId),
        this.deps.directory.member(message.groupId, message.senderId, message.senderName),
        this.deps.rules.forGroup(message.groupId),
      ])
      const ctx = new MessageContext(message, group, member, rules, log, this.deps.sink)
      await this.chain(ctx)
      if (ctx.events.length > 0) await this.deliver(ctx.events)
      return 'processed'
    } catch (error) {
      log.error('message processing failed', { error: errorText(error) })
      return 'failed'
    }
  }

  private async deliver(events: DomainEvent[]): Promise<void> {
    for (const event of events) {
      for (const feature of this.consumers) {
        try {
          await feature.instance.onEvent?.(event)
        } catch (error) {
          this.deps.log.error('feature failed on event', { feature: feature.name, event: event.type, error: errorText(error) })
        }
      }
    }
  }
}

/** Error text with stack for logs. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`
  return String(error)
}
