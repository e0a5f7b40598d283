import type { IncomingMessage, OutboundAction } from './context'
import type { ChannelEvent } from './events'

// A channel asked to act while logged out throws OfflineError (kernel/outbound): the queue waits for the login.

/** Where a channel delivers what it hears. */
export interface ChannelSink {
  /** A group message, as plain data. */
  message(message: IncomingMessage): void
  /** A bot, group or member event. */
  event(event: ChannelEvent): void
  /**
   * The same, for channels that keep what they hear until it was processed (the WeCom inbox): resolves
   * once the event went through the pipeline, rejects when it was not taken (shutting down).
   */
  deliver?(event: ChannelEvent): Promise<void>
}

/** Kinds of outbound action (the channel says which it can perform). */
export type ActionKind = OutboundAction['kind']

/**
 * One bot account's connection to WeCom: events and messages in, actions out. wechaty (a puppet account)
 * is one implementation, the official WeCom server API another; features never see which.
 */
export interface Channel {
  /** The bot id from `bots/` this channel serves. */
  readonly botId: string
  /** Which implementation (for logs and /readyz). */
  readonly kind: string
  /** Whether the account is connected and logged in (actions wait while it is not). */
  readonly online: boolean
  /** Actions this channel can perform; others fail at once as unsupported. */
  readonly capabilities: ReadonlySet<ActionKind>
  /** Connects; messages and events flow into `sink` from now on. */
  start(sink: ChannelSink): Promise<void>
  /** Disconnects. */
  stop(): Promise<void>
  /** Performs one action (called by the outbound queue only). */
  perform(action: OutboundAction): Promise<void>
}

/** Thrown for an action the channel cannot perform at all (e.g. a removal through a group robot). */
export class UnsupportedActionError extends Error {
  constructor(channel: string, kind: ActionKind) {
    super(`the ${channel} channel cannot perform "${kind}"`)
    this.name = 'UnsupportedActionError'
  }
}
