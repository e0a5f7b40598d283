import type { EventBase, EventKind, MemberRole } from './events'
import type { Logger } from './logger'
import { normalize } from '../text/normalize'
import { outboundVerbs, type Card, type Outbound } from './outbound-service'

/** Kinds of message the pipeline distinguishes. */
export type MessageType = 'text' | 'image' | 'url' | 'miniprogram' | 'contact' | 'file' | 'video' | 'audio' | 'emoticon' | 'location' | 'other'

/** A group message as plain data, no wechaty objects. */
export interface IncomingMessage {
  id: string
  botId: string
  groupId: string
  senderId: string
  senderName: string
  type: MessageType
  /** Text for text messages; title for link/mini-program cards; '' otherwise. */
  text: string
  /** Ids of members @-mentioned. */
  mentions: string[]
  /** Whether the bot itself was @-mentioned. */
  mentionsBot: boolean
  /** When it was said (ms since epoch). */
  at: number
  /** Link-card details for type 'url'. */
  link?: { url: string; title: string; description?: string }
  /** Mini-program details for type 'miniprogram'. */
  miniProgram?: { appId?: string; title?: string }
  /** Loads the image of an image message on demand (size-capped; null when unavailable). */
  media?: () => Promise<Uint8Array | null>
}

/** What the pipeline knows about a group. */
export interface GroupInfo {
  id: string
  botId: string
  name: string
  timezone: string
  ownerId: string | null
  labels: string[]
}

/** A stored group as admin routes and jobs need it (GroupInfo plus size and state). */
export interface GroupRecord extends GroupInfo {
  memberCount: number
  active: boolean
}

/** What the pipeline knows about the sender inside this group. */
export interface MemberInfo {
  id: string
  name: string
  role: MemberRole
  /** When they joined, if known. */
  joinedAt: number | null
  /** False the first time the directory sees this member (not yet stored). */
  known: boolean
}

/** What every action carries besides its own fields: its bot, what caused it, and why (for logs). */
interface ActionBase {
  botId: string
  /** What caused it: a message id, a job tick … (records, outcomes and expiry use it). */
  cause?: string
  /**
   * Unique key (e.g. `share:12:text`): an action with a key is stored at most once — a second one with the
   * same key is dropped, never performed — so work re-posted after a crash (by any replica) goes out once.
   */
  key?: string
  /** Why, in a few words for the "bot action" log line (e.g. `warning (strike 1, links)`) — never message text. */
  note?: string
}

/** Something the bot does to the outside world; always goes through the outbound queue. */
export type OutboundAction = ActionBase & (
  | { kind: 'say'; groupId: string; text: string; mentions?: string[] }
  | { kind: 'sayCard'; groupId: string; card: { url: string; title: string; description?: string; thumbnailUrl?: string } }
  | { kind: 'sayImage'; groupId: string; imageUrl: string }
  | { kind: 'sayDirect'; contactId: string; text: string }
  | { kind: 'remove'; groupId: string; memberId: string; reason: string }
  | { kind: 'add'; groupId: string; memberId: string }
  /** Sets a contact tag; with `remove: true` takes it off (rows stored before the flag existed add). */
  | { kind: 'tag'; groupId?: string; memberId: string; tag: string; remove?: boolean }
  | { kind: 'acceptInvitation'; invitationId: string }
)

/** Where the context sends actions (the outbound queue). */
export interface ActionSink {
  enqueue(action: OutboundAction): void
  /** Resolves once every action enqueued so far is durably stored (where the sink stores them). */
  stored?(): Promise<void>
  /** Which of these keys have an action (queued here, stored, or finished). */
  existingKeys?(keys: readonly string[]): Promise<Set<string>>
}

/** Validated, cached configuration of one group, sliced by feature name. */
export interface RuleSet {
  /** Version counter, bumped on every change (for cache checks and logs). */
  readonly version: number
  /** The validated slice for one feature (features read theirs through their own typed accessor). */
  slice(feature: string): unknown
}

/** The per-message context handed to every middleware. Thin on purpose: facts plus a few verbs. */
export class MessageContext {
  /** Domain events emitted during the chain, delivered after it. */
  readonly events: EventBase[] = []
  /** Name of the feature that handled the message (stopped the chain), if any. */
  handledBy: string | undefined
  private verbs: Outbound | undefined
  private normalized: string | undefined

  constructor(
    readonly message: IncomingMessage,
    readonly group: GroupInfo,
    readonly member: MemberInfo,
    readonly rules: RuleSet,
    readonly log: Logger,
    private readonly sink: ActionSink,
    /** Whether an event type was declared (by a feature's `events.emits`, or the kernel). */
    private readonly declared: (type: string) => boolean = () => true,
  ) {}

  /**
   * The message text in the product's one normalization (width, case, traditional → simplified, emoji
   * codes, noise): computed on first use and shared by every feature that matches on it.
   */
  get normalizedText(): string { return (this.normalized ??= this.message.text ? normalize(this.message.text).text : '') }

  private get out(): Outbound { return (this.verbs ??= outboundVerbs(this.sink)) }
  private get here(): { botId: string; groupId: string } { return { botId: this.message.botId, groupId: this.message.groupId } }

  /**
   * Queues a reply in the group, optionally @-mentioning the sender; `note` says why in the bot-action log;
   * with `key` it is stored (and sent) at most once under that key, also when the message is processed again.
   */
  reply(text: string, opts: { mention?: boolean; note?: string; key?: string } = {}): void {
    this.out.say(this.here, text, { mentions: opts.mention ? [this.message.senderId] : undefined, cause: this.message.id, note: opts.note, ...(opts.key === undefined ? {} : { key: opts.key }) })
  }

  /** Queues a message in the group that @-mentions `mentions` (several members at once). */
  say(text: string, opts: { mentions?: string[]; note?: string } = {}): void {
    this.out.say(this.here, text, { mentions: opts.mentions, cause: this.message.id, note: opts.note })
  }

  /** Queues a link card in the group. */
  card(card: Card, note?: string): void { this.out.card(this.here, card, { cause: this.message.id, note }) }

  /** Queues an image (by URL) in the group. */
  image(imageUrl: string, note?: string): void { this.out.image(this.here, imageUrl, { cause: this.message.id, note }) }

  /** Queues removal of the sender from the group (with `key`: stored at most once under it, see `reply`). */
  remove(reason: string, note?: string, key?: string): void {
    this.out.remove(this.here, this.message.senderId, reason, { cause: this.message.id, note, ...(key === undefined ? {} : { key }) })
  }

  /** Queues a tag on the sender. */
  tag(tag: string, note?: string): void { this.out.tag(this.message.botId, this.message.senderId, tag, { groupId: this.message.groupId, cause: this.message.id, note }) }
  /** Queues taking a tag off the sender. */
  untag(tag: string, note?: string): void { this.out.untag(this.message.botId, this.message.senderId, tag, { groupId: this.message.groupId, cause: this.message.id, note }) }

  /**
   * Records a domain event of a declared kind, delivered after the chain. Its id is derived from the
   * message id (stable if the message is ever processed again), its time defaults to the message's.
   */
  emit<T extends string, P>(kind: EventKind<T, P>, payload: P & { at?: number }): void {
    if (!this.declared(kind.type)) throw new Error(`event "${kind.type}" is emitted but no feature declares it in events.emits`)
    this.events.push(kind.of({ at: this.message.at, ...payload, id: `${this.message.id}#${this.events.length}` }))
  }

  /** Marks the message as handled by `feature` (call when not calling next()). */
  handled(feature: string): void { this.handledBy = feature }
}
