/**
 * Domain events: facts in past tense, named `noun.verbed`. Channels (wechaty, the official WeCom API)
 * produce the bot / group / member events below; features declare and emit their own through
 * `defineEvent` kinds kept in `src/contracts/` (so a consumer never imports the emitting feature).
 *
 * Every event carries an `id` that is stable across re-processing (derived from its cause: the message
 * id, the channel event, the job tick), so at-least-once delivery can be made idempotent by consumers.
 */

/** A member as the platform reports them. */
export interface MemberSnapshot {
  id: string
  name: string
  role?: MemberRole
}

/** Role of a member inside one group. */
export type MemberRole = 'owner' | 'admin' | 'member' | 'bot'

/** What every event has. `groupId` orders an event with its group's messages. */
export interface EventBase {
  readonly type: string
  /** Stable id (cause + position), for idempotent consumers. */
  readonly id: string
  /** When it happened (ms since epoch). */
  readonly at: number
  readonly botId?: string
  readonly groupId?: string
}

/** An event of one kind: its type string plus its payload. */
export type EventOf<T extends string, P> = Readonly<{ type: T; id: string; at: number } & P>

/** A declared kind of event: its type string, a type guard, and a constructor. */
export interface EventKind<T extends string = string, P = object> {
  readonly type: T
  /** Narrows any event to this kind. */
  is(event: EventBase): event is EventBase & EventOf<T, P>
  /** Builds an event of this kind. */
  of(payload: P & { id: string; at: number }): EventOf<T, P>
}

/** Declares an event kind: `const CheckInCompleted = defineEvent<{ … }>()('checkin.completed')`. */
export function defineEvent<P extends object>(): <T extends string>(type: T) => EventKind<T, P> {
  return <T extends string>(type: T): EventKind<T, P> => ({
    type,
    is: (event: EventBase): event is EventBase & EventOf<T, P> => event.type === type,
    of: (payload) => ({ ...payload, type }) as EventOf<T, P>,
  })
}

/** The type carried by events of a kind. */
export type EventOfKind<K> = K extends EventKind<infer T, infer P> ? EventOf<T, P> : never

// ---- Events every channel produces (the kernel's own vocabulary) ----

/** The bot account logged in. */
export const BotLoggedIn = defineEvent<{ botId: string; name: string }>()('bot.loggedIn')
/** The bot account logged out (or lost its session). */
export const BotLoggedOut = defineEvent<{ botId: string; reason?: string }>()('bot.loggedOut')
/** The channel reported an error. */
export const BotFailed = defineEvent<{ botId: string; error: string }>()('bot.failed')
/** A group's current state, as the platform reports it (at login, after the bot joins). */
export const GroupSynced = defineEvent<{ botId: string; groupId: string; name: string; ownerId?: string; adminIds: string[]; members: MemberSnapshot[] }>()('group.synced')
/** The bot was added to a group. */
export const GroupJoined = defineEvent<{ botId: string; groupId: string; name: string; inviterId?: string }>()('group.joined')
/** The bot left or was removed from a group. */
export const GroupLeft = defineEvent<{ botId: string; groupId: string; removerId?: string }>()('group.left')
/** Someone renamed a group. */
export const GroupRenamed = defineEvent<{ botId: string; groupId: string; oldName: string; newName: string; changerId?: string }>()('group.renamed')
/** Someone invited the bot into a group. */
export const InvitationReceived = defineEvent<{ botId: string; invitationId: string; inviterId: string; inviterName: string; topic: string }>()('group.invitationReceived')
/** Members joined a group. */
export const MemberJoined = defineEvent<{ botId: string; groupId: string; members: MemberSnapshot[]; inviterId?: string; scene?: string }>()('member.joined')
/** Members left a group (or were removed). */
export const MemberLeft = defineEvent<{ botId: string; groupId: string; memberIds: string[]; removerId?: string; scene?: QuitScene }>()('member.left')

/** How members left: on their own, or removed (by the owner or an admin; `removerId` when the platform says who). */
export type QuitScene = 'left' | 'removed'

/** Every event a channel may deliver. */
export type ChannelEvent =
  | EventOfKind<typeof BotLoggedIn> | EventOfKind<typeof BotLoggedOut> | EventOfKind<typeof BotFailed>
  | EventOfKind<typeof GroupSynced> | EventOfKind<typeof GroupJoined> | EventOfKind<typeof GroupLeft>
  | EventOfKind<typeof GroupRenamed> | EventOfKind<typeof InvitationReceived>
  | EventOfKind<typeof MemberJoined> | EventOfKind<typeof MemberLeft>

/** The kinds of channel events (declared by the kernel, consumed by features). */
export const CHANNEL_EVENTS: readonly EventKind[] = [BotLoggedIn, BotLoggedOut, BotFailed, GroupSynced, GroupJoined, GroupLeft, GroupRenamed, InvitationReceived, MemberJoined, MemberLeft]

// ---- Events of the kernel's outbound queue ----

/** An outbound action reached its final state (sent, failed for good, or expired while waiting). */
export const OutboundFinished = defineEvent<{
  botId: string
  groupId?: string
  kind: string
  memberId?: string
  /** What caused it (a message id, a job tick …). */
  cause?: string
  status: 'sent' | 'failed' | 'expired'
  /** Why it failed (members named by pseudonym). */
  error?: string
  /** How a `sent` action ended when it was already done on the platform: `already_gone` (the member had left). */
  outcome?: string
  /** Why it was done (the action's note). */
  note?: string
}>()('outbound.finished')

/** Group the event belongs to, for per-group ordering (undefined for bot-wide events). */
export function eventGroupId(event: EventBase): string | undefined {
  return event.groupId
}
