import type { ActionSink, OutboundAction } from './context'

/** A group of one bot account: where group actions go. */
export interface GroupTarget {
  botId: string
  groupId: string
}

/** Optional facts about an action: what caused it (a message id, a job tick) and why (the bot-action log line). */
export interface ActionOptions {
  cause?: string
  /** Unique key: the action is stored at most once under it (see OutboundAction's `key`). */
  key?: string
  /** A few words for the log (`welcome (2 newcomers)`), never message text. */
  note?: string
}

/** A link card. */
export interface Card {
  url: string
  title: string
  description?: string
  thumbnailUrl?: string
}

/**
 * Every action toward the platform, as verbs. It is the one way out for code that runs outside a message
 * (jobs, event consumers, routes); on the message path the context's verbs do the same. Everything goes
 * to the outbound queue: stored, throttled per account and group, retried, and recorded.
 */
export interface Outbound {
  /** Says `text` in a group, @-mentioning `mentions`. */
  say(to: GroupTarget, text: string, opts?: ActionOptions & { mentions?: string[] }): void
  /** Sends a link card to a group. */
  card(to: GroupTarget, card: Card, opts?: ActionOptions): void
  /** Sends an image (by URL) to a group. */
  image(to: GroupTarget, imageUrl: string, opts?: ActionOptions): void
  /** Sends a direct message to a contact. */
  direct(botId: string, contactId: string, text: string, opts?: ActionOptions): void
  /** Removes a member from a group. */
  remove(to: GroupTarget, memberId: string, reason: string, opts?: ActionOptions): void
  /** Adds (invites) a contact to a group. */
  add(to: GroupTarget, memberId: string, opts?: ActionOptions): void
  /** Tags a contact (where the platform supports contact tags). */
  tag(botId: string, memberId: string, tag: string, opts?: ActionOptions & { groupId?: string }): void
  /** Takes a tag off a contact (the `tag` action with `remove: true`; same capability, same lane). */
  untag(botId: string, memberId: string, tag: string, opts?: ActionOptions & { groupId?: string }): void
  /** Accepts a room invitation. */
  acceptInvitation(botId: string, invitationId: string, opts?: ActionOptions): void
  /** Resolves once every action queued so far is durably stored: only then may a feature record it as sent. */
  stored(): Promise<void>
  /**
   * Whether an action with this key was ever queued (pending, performed or given up on): how a feature
   * finds work a crash lost between its own commit and the action's store, to post it again under the key.
   */
  has(key: string): Promise<boolean>
  /** `has` for many keys at once (one store lookup): the keys that were ever queued. */
  existing(keys: readonly string[]): Promise<Set<string>>
}

/** The verbs over an action sink (the outbound queue). */
export function outboundVerbs(sink: ActionSink): Outbound {
  const facts = (opts?: ActionOptions): Pick<OutboundAction, 'cause' | 'key' | 'note'> =>
    (opts?.key === undefined ? { cause: opts?.cause, note: opts?.note } : { cause: opts.cause, key: opts.key, note: opts.note })
  const put = (action: OutboundAction): void => sink.enqueue(action)
  return {
    say: (to, text, opts) => put({ kind: 'say', botId: to.botId, groupId: to.groupId, text, mentions: opts?.mentions && opts.mentions.length > 0 ? opts.mentions : undefined, ...facts(opts) }),
    card: (to, card, opts) => put({ kind: 'sayCard', botId: to.botId, groupId: to.groupId, card, ...facts(opts) }),
    image: (to, imageUrl, opts) => put({ kind: 'sayImage', botId: to.botId, groupId: to.groupId, imageUrl, ...facts(opts) }),
    direct: (botId, contactId, text, opts) => put({ kind: 'sayDirect', botId, contactId, text, ...facts(opts) }),
    remove: (to, memberId, reason, opts) => put({ kind: 'remove', botId: to.botId, groupId: to.groupId, memberId, reason, ...facts(opts) }),
    add: (to, memberId, opts) => put({ kind: 'add', botId: to.botId, groupId: to.groupId, memberId, ...facts(opts) }),
    tag: (botId, memberId, tag, opts) => put({ kind: 'tag', botId, groupId: opts?.groupId, memberId, tag, ...facts(opts) }),
    untag: (botId, memberId, tag, opts) => put({ kind: 'tag', botId, groupId: opts?.groupId, memberId, tag, remove: true, ...facts(opts) }),
    acceptInvitation: (botId, invitationId, opts) => put({ kind: 'acceptInvitation', botId, invitationId, ...facts(opts) }),
    stored: async () => { await sink.stored?.() },
    has: async (key) => (sink.existingKeys ? (await sink.existingKeys([key])).has(key) : false),
    existing: async (keys) => (sink.existingKeys && keys.length > 0 ? sink.existingKeys(keys) : new Set<string>()),
  }
}
