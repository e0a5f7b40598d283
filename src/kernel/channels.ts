import type { Channel } from './channel'
import type { OutboundAction } from './context'
import { BotLoggedIn, BotLoggedOut, type ChannelEvent, type EventBase } from './events'
import { errorText, type Logger } from './logger'
import { TransientError, type OutboundQueue } from './outbound'
import type { MessageProcessor, ProcessResult } from './processor'

/** What the runtime reports to observers (rehearsals and tests wait on these). */
export type RuntimeObservation =
  | { kind: 'message'; id: string; groupId: string; result: ProcessResult }
  | { kind: 'event'; event: EventBase }

/**
 * The bots' channels, wired: what a channel hears goes into the message processor (messages in
 * per-group order, events likewise); its login state pauses and resumes its lanes of the outbound queue
 * (the stored actions of an earlier run are resumed at its first login); actions go out through it.
 */
export class ChannelHost {
  private readonly channels = new Map<string, Channel>()
  private readonly resumed = new Set<string>()
  private accepting = true

  constructor(private readonly deps: {
    processor: MessageProcessor
    queue: OutboundQueue
    log: Logger
    notify: (o: RuntimeObservation) => void
  }) {}

  /** The channel of a bot, if it runs here. */
  get(botId: string): Channel | undefined { return this.channels.get(botId) }

  /** Every channel. */
  all(): Channel[] { return [...this.channels.values()] }

  /** Whether every channel is logged in (readiness). */
  get online(): boolean { return this.all().every((c) => c.online) }

  /** Connects a channel; until its login, actions for its bot wait. */
  async start(channel: Channel): Promise<void> {
    if (this.channels.has(channel.botId)) throw new Error(`bot ${channel.botId} started twice`)
    this.channels.set(channel.botId, channel)
    this.deps.queue.offline(channel.botId)
    await channel.start({
      message: (m) => {
        if (!this.accepting) return
        void this.deps.processor.submit(m).then((result) => this.deps.notify({ kind: 'message', id: m.id, groupId: m.groupId, result }))
      },
      event: (e) => { void this.event(e).catch(() => undefined) },
      deliver: (e) => this.event(e),
    })
    // Released while it was starting (its bot's lease was given up meanwhile): a stop that came in the
    // middle of the start may not hold, so the channel is stopped again now that the start finished.
    if (this.channels.get(channel.botId) !== channel) {
      try { await channel.stop() } catch (error) { this.deps.log.warn('bot stop failed', { bot: channel.botId, error: errorText(error) }) }
    }
  }

  /** Performs an action through its bot's channel (the outbound queue's performer). */
  async perform(action: OutboundAction): Promise<void> {
    const channel = this.channels.get(action.botId)
    if (!channel) throw new TransientError(`bot ${action.botId} is not running here`)
    await channel.perform(action)
  }

  /**
   * This replica no longer runs the bot (its lease moved or is being given up): its waiting actions are
   * left to the new holder, then its channel disconnects.
   */
  async release(botId: string): Promise<void> {
    const channel = this.channels.get(botId)
    if (!channel) return
    this.channels.delete(botId)
    this.resumed.delete(botId)
    await this.deps.queue.abandon(botId)
    try { await channel.stop() } catch (error) { this.deps.log.warn('bot stop failed', { bot: botId, error: errorText(error) }) }
  }

  /** Stops taking new input (shutdown: what is in flight still finishes and its answers still go out). */
  stopInput(): void { this.accepting = false }

  /** Disconnects every channel. */
  async stop(): Promise<void> {
    for (const channel of this.channels.values()) {
      try { await channel.stop() } catch (error) { this.deps.log.warn('bot stop failed', { bot: channel.botId, error: errorText(error) }) }
    }
  }

  private event(e: ChannelEvent): Promise<void> {
    const { queue, log } = this.deps
    if (BotLoggedIn.is(e)) {
      if (!this.resumed.has(e.botId)) {
        this.resumed.add(e.botId)
        // The previous run's stored actions are older and go first.
        void queue.resume(e.botId).catch((error: unknown) => log.error('could not resume outbound queue', { bot: e.botId, error: errorText(error) }))
      }
      queue.online(e.botId)
    } else if (BotLoggedOut.is(e)) {
      queue.offline(e.botId)
    }
    // Refused during shutdown: a channel that stores what it hears (the WeCom inbox) keeps it for the next run.
    if (!this.accepting && !BotLoggedIn.is(e) && !BotLoggedOut.is(e)) return Promise.reject(new Error('shutting down: input stopped'))
    return this.deps.processor.publish(e).then(() => this.deps.notify({ kind: 'event', event: e }))
  }
}
