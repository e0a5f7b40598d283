import { createHash } from 'node:crypto'
import type { BotDefinition } from '../../config/config.schema'
import type { ActionKind, Channel, ChannelSink } from '../../kernel/channel'
import type { OutboundAction } from '../../kernel/context'
import { BotLoggedIn, GroupLeft, type ChannelEvent } from '../../kernel/events'
import { errorText, type Logger } from '../../kernel/logger'
import { TransientError } from '../../kernel/outbound'
import type { Clock } from '../../ports/clock'
import type { Dedupe, Leases, RateLimiter, SharedValues } from '../../ports/ports'
import { WecomApi, WecomApiError, WecomTransportError } from './api'
import { CallbackVerifier } from './callback'
import { aesKeyOf, CallbackRejected } from './crypto'
import { eventsOf, syncedEvent } from './events'
import { getGroupChat, listGroupChats } from './groupchat'
import type { XmlValue } from './xml'

/** A callback request as the HTTP adapter hands it over. */
export interface CallbackRequest {
  method: string
  query: Record<string, string | string[] | undefined>
  body: string
  ip: string
}

/** The answer to a callback. */
export interface CallbackResponse { status: number; body: string }

/** What the channel needs from the rest of the process. */
export interface WecomChannelDeps {
  definition: BotDefinition
  clock: Clock
  log: Logger
  coordination: { values: SharedValues; leases: Leases; dedupe: Dedupe; rateLimiter: RateLimiter }
  /** What the directory knows (the group's name for renames; the bot's active groups for reconciliation). */
  directory: { groupName(groupId: string): Promise<string | null>; activeGroupIds(botId: string): Promise<string[]> }
  /** Tests shorten the API client's retry pauses. */
  sleep?: (ms: number) => Promise<void>
}

/**
 * A group robot may send 20 messages a minute. A bucket of 20 would allow 40 in the first minute, so
 * the bucket holds one message refilled every 3.1 s: never more than 20 in any 60 s.
 */
const ROBOT_BUCKET = { capacity: 1, refillPerSec: 1 / 3.1 }
/** mark_tag calls per corp (WeCom allows more; this keeps bulk tagging gentle). */
const MARK_TAG_BUCKET = { capacity: 10, refillPerSec: 5 }

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/**
 * A bot on the official WeCom server API (a self-built app): customer-group events come in through the
 * callback URL, a fenced job reconciles every customer group, scheduled shares go out through group
 * robots, and tags become corp tags on customers. It cannot read group messages or remove members —
 * those need the puppet (channel `both`).
 */
export class WecomChannel implements Channel {
  readonly kind = 'wecom'
  readonly capabilities: ReadonlySet<ActionKind>
  readonly api: WecomApi
  private readonly verifier: CallbackVerifier
  private readonly corpId: string
  private sink: ChannelSink | null = null
  private loggedIn = false
  private stopped = false
  private readonly inFlight = new Set<Promise<void>>()
  private retryTimer?: NodeJS.Timeout

  constructor(private readonly deps: WecomChannelDeps) {
    const { definition, clock, log, coordination } = deps
    const w = definition.wecom
    const secrets = definition.wecomSecrets
    if (!w || !secrets) throw new Error(`bot ${definition.id}: the official API needs a wecom section and its secrets`)
    this.corpId = w.corpId
    this.api = new WecomApi({
      base: w.apiBase, corpId: w.corpId, secret: secrets.secret, clock, log: log.child({ bot: definition.id, channel: 'wecom' }),
      values: coordination.values, leases: coordination.leases, timeoutMs: w.requestTimeoutMs, maxRetries: w.maxRetries, sleep: deps.sleep,
    })
    this.verifier = new CallbackVerifier({
      botId: definition.id, clock, nonces: coordination.dedupe, windowSeconds: w.timestampWindowSeconds,
      secrets: { token: secrets.callbackToken, aesKey: aesKeyOf(secrets.encodingAesKey), corpId: w.corpId },
    })
    const kinds: ActionKind[] = []
    if (Object.keys(secrets.robotKeys).length > 0) kinds.push('say', 'sayCard')
    if (Object.keys(w.corpTags).length > 0) kinds.push('tag')
    this.capabilities = new Set(kinds)
  }

  get botId(): string { return this.deps.definition.id }
  get online(): boolean { return this.loggedIn }

  /** Connects: fetches an access token; the bot counts as logged in once WeCom answered. */
  async start(sink: ChannelSink): Promise<void> {
    this.sink = sink
    await this.connect()
  }

  private async connect(): Promise<void> {
    if (this.stopped) return
    try {
      await this.api.token()
      this.loggedIn = true
      const at = this.deps.clock.now()
      this.deps.log.info('WeCom official API connected', { bot: this.botId, corp: this.corpId })
      this.emit(BotLoggedIn.of({ id: `${this.botId}:wecom-login:${at}`, at, botId: this.botId, name: `WeCom ${this.corpId}` }))
    } catch (error) {
      this.deps.log.error('WeCom official API not reachable; retrying in 30 s', { bot: this.botId, error: errorText(error) })
      this.retryTimer = setTimeout(() => { void this.connect() }, 30_000)
      this.retryTimer.unref()
    }
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.retryTimer) clearTimeout(this.retryTimer)
    await this.settled()
  }

  /** Resolves when every accepted callback has been processed (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  private emit(event: ChannelEvent): void { this.sink?.event(event) }

  /**
   * The callback URL. GET answers WeCom's URL check with the decrypted echostr; POST verifies and
   * decrypts the event, answers at once ("success", well within WeCom's 5 s) and processes it afterwards
   * through the event path. A refused callback gets a 4xx and one log line with the reason, never the payload.
   */
  async handleCallback(request: CallbackRequest): Promise<CallbackResponse> {
    const query = { msg_signature: first(request.query.msg_signature), timestamp: first(request.query.timestamp), nonce: first(request.query.nonce), echostr: first(request.query.echostr) }
    try {
      if (request.method === 'GET') return { status: 200, body: await this.verifier.verifyUrl(query) }
      const xml = await this.verifier.verifyEvent(query, request.body)
      const work = this.process(xml).catch((error: unknown) => {
        this.deps.log.error('WeCom callback processing failed (the next reconciliation repairs the directory)', { bot: this.botId, error: errorText(error) })
      })
      this.inFlight.add(work)
      void work.finally(() => this.inFlight.delete(work))
      return { status: 200, body: 'success' }
    } catch (error) {
      if (error instanceof CallbackRejected) {
        this.deps.log.warn('WeCom callback refused', { bot: this.botId, reason: error.reason, detail: error.message, ip: request.ip })
        return { status: error.reason === 'replay' ? 409 : error.reason === 'signature' ? 401 : 400, body: error.reason }
      }
      throw error
    }
  }

  private async process(xml: Record<string, XmlValue>): Promise<void> {
    const events = await eventsOf(xml, { botId: this.botId, api: this.api, groupName: (id) => this.deps.directory.groupName(id) })
    this.deps.log.debug('WeCom callback', { bot: this.botId, event: typeof xml.Event === 'string' ? xml.Event : '', events: events.length })
    // WeCom may deliver one change twice (a retry after a slow answer carries a new nonce): the event ids
    // derive from the change, so each is emitted once.
    for (const event of events) {
      if (await this.deps.coordination.dedupe.firstSeen(`wecom:event:${event.id}`, 86_400_000)) this.emit(event)
      else this.deps.log.debug('WeCom callback repeated; already processed', { bot: this.botId, event: event.id })
    }
  }

  /**
   * Reconciles the directory with WeCom: every customer group (groupchat/list, paged) is synced with its
   * members (groupchat/get); groups the directory holds for this bot that WeCom no longer lists are left.
   * Repairs what lost callbacks and API-made changes (which produce no callback) left out.
   */
  async reconcile(tick: number): Promise<{ groups: number; left: number }> {
    const ids = await listGroupChats(this.api)
    const seen = new Set(ids)
    for (const chatId of ids) {
      const chat = await getGroupChat(this.api, chatId)
      this.emit(syncedEvent(this.botId, chat, `wecom:reconcile:${chatId}:${tick}`, tick))
    }
    let left = 0
    for (const groupId of await this.deps.directory.activeGroupIds(this.botId)) {
      if (seen.has(groupId)) continue
      this.emit(GroupLeft.of({ id: `wecom:reconcile-left:${groupId}:${tick}`, at: tick, botId: this.botId, groupId }))
      left++
    }
    this.deps.log.info('WeCom customer groups reconciled', { bot: this.botId, groups: ids.length, left })
    return { groups: ids.length, left }
  }

  /** Whether this channel can perform this very action (a robot installed in its group; a corp tag mapped for its tag). */
  canPerform(action: OutboundAction): boolean {
    if (action.kind === 'say' || action.kind === 'sayCard') return Boolean(this.deps.definition.wecomSecrets?.robotKeys[action.groupId])
    if (action.kind === 'tag') return Boolean(this.deps.definition.wecom?.corpTags[action.tag])
    return false
  }

  /** Performs an action: group-robot messages and corp tags. */
  async perform(action: OutboundAction): Promise<void> {
    try {
      switch (action.kind) {
        case 'say': case 'sayCard': return await this.robotSend(action)
        case 'tag': return await this.markTag(action.memberId, action.tag, action.remove === true)
        default: throw new Error(`the wecom channel cannot perform "${action.kind}" (reading messages, removals and invitations need the puppet)`)
      }
    } catch (error) {
      throw this.classify(error, action)
    }
  }

  private classify(error: unknown, action: OutboundAction): Error {
    if (error instanceof WecomApiError) {
      if (error.transient) {
        this.deps.log.warn('WeCom rate limit or busy; the outbound queue backs off', { bot: this.botId, kind: action.kind, errcode: error.errcode, path: error.path })
        return new TransientError(error.message)
      }
      if (error.errorClass === 'config') this.deps.log.error('WeCom configuration problem; the action fails', { bot: this.botId, kind: action.kind, errcode: error.errcode, path: error.path, hint: error.message })
      return error
    }
    if (error instanceof WecomTransportError) return new TransientError(error.message)
    return error instanceof Error ? error : new Error(String(error))
  }

  private async robotSend(action: Extract<OutboundAction, { kind: 'say' | 'sayCard' }>): Promise<void> {
    const key = this.deps.definition.wecomSecrets?.robotKeys[action.groupId]
    if (!key) throw new Error(`no group robot is configured for group ${action.groupId}`)
    // 20 messages a minute per robot: this group's lane waits rather than spending attempts.
    const bucket = `wecom:robot:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`
    for (;;) {
      const decision = await this.deps.coordination.rateLimiter.take(bucket, ROBOT_BUCKET)
      if (decision.allowed) break
      await this.deps.clock.sleep(decision.retryAfterMs)
    }
    const body = action.kind === 'say'
      ? { msgtype: 'text', text: { content: action.text, mentioned_list: action.mentions?.length ? action.mentions : undefined } }
      : { msgtype: 'news', news: { articles: [{ title: action.card.title, description: action.card.description, url: action.card.url, picurl: action.card.thumbnailUrl }] } }
    await this.api.webhook('/cgi-bin/webhook/send', { key }, body)
  }

  /** mark_tag: `add_tag`, or `remove_tag` for an untag. */
  private async markTag(externalUserId: string, tag: string, remove: boolean): Promise<void> {
    const tagId = this.deps.definition.wecom?.corpTags[tag]
    if (!tagId) throw new Error(`tag "${tag}" has no corp tag mapped (bots/ wecom.corpTags)`)
    for (;;) {
      const decision = await this.deps.coordination.rateLimiter.take(`wecom:mark-tag:${this.corpId}`, MARK_TAG_BUCKET)
      if (decision.allowed) break
      await this.deps.clock.sleep(decision.retryAfterMs)
    }
    const contact = await this.api.call<{ follow_user?: Array<{ userid: string }> }>('GET', '/cgi-bin/externalcontact/get', undefined, { external_userid: externalUserId })
    const staff = contact.follow_user?.[0]?.userid
    if (!staff) throw new Error(`member ${externalUserId} is no staff member's customer; corp tags need one`)
    await this.api.call('POST', '/cgi-bin/externalcontact/mark_tag', remove
      ? { userid: staff, external_userid: externalUserId, remove_tag: [tagId] }
      : { userid: staff, external_userid: externalUserId, add_tag: [tagId] })
  }
}
