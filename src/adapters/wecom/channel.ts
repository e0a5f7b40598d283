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
import { getGroupChat, listGroupChats, type GroupChat } from './groupchat'
import type { WecomStore } from './store'
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
  /** The durable callback inbox; without it callbacks are refused with 503 (nothing may be acknowledged unstored). */
  store?: WecomStore
  /** This process's name in inbox claims. */
  replicaId?: string
  /** Loads a stored image (`media:` references) for robot image messages. */
  media?: (ref: string) => Promise<{ data: Buffer; mimeType: string } | null>
  /** Tests shorten the API client's retry pauses. */
  sleep?: (ms: number) => Promise<void>
}

/** Where reconciliation stopped when WeCom rate-limited it: the next tick resumes with these chat ids. */
interface ReconcileProgress { listed: string[]; remaining: string[]; startedAt: number }

/** A group robot accepts images up to 2 MB (before base64), JPG or PNG. */
export const ROBOT_IMAGE_MAX_BYTES = 2 * 1024 * 1024

/**
 * A group robot may send 20 messages a minute. A bucket of 20 would allow 40 in the first minute, so
 * the bucket holds one message refilled every 3.1 s: never more than 20 in any 60 s.
 */
const ROBOT_BUCKET = { capacity: 1, refillPerSec: 1 / 3.1 }
/** mark_tag calls per corp by default (WeCom allows more; this keeps bulk tagging gentle); bots/ may set markTagPerSecond. */
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
  /**
   * The lasting API client: reconciliation (a fenced job on any replica) and the admin API's chat checks.
   * Never aborted by stop(): the bot's lease can move away and back while this object lives on.
   */
  readonly api: WecomApi
  /** The client of the current run (login, inbox, actions): a new one per start, aborted by stop(). */
  private runApi: WecomApi
  /** Makes a client (the token is shared through the coordination port, so clients agree on it). */
  private readonly newApi: () => WecomApi
  /** Number of the current run: what an earlier run left in flight (a login retry, a late token) is ignored. */
  private run = 0
  private readonly verifier: CallbackVerifier
  private readonly corpId: string
  private sink: ChannelSink | null = null
  private loggedIn = false
  private stopped = false
  private retryTimer?: NodeJS.Timeout
  private connectFailures = 0
  private pollTimer?: NodeJS.Timeout
  private pumping: Promise<void> | null = null
  private pumpAgain = false
  private pumpsStarted = 0
  /** Number (in start order) of the last run that finished. */
  private pumpsFinished = 0
  /** Whether the inbox worker runs here (this replica holds the bot). */
  private working = false

  constructor(private readonly deps: WecomChannelDeps) {
    const { definition, clock, log, coordination } = deps
    const w = definition.wecom
    const secrets = definition.wecomSecrets
    if (!w || !secrets) throw new Error(`bot ${definition.id}: the official API needs a wecom section and its secrets`)
    this.corpId = w.corpId
    const apiLog = log.child({ bot: definition.id, channel: 'wecom' })
    this.newApi = () => new WecomApi({
      base: w.apiBase, corpId: w.corpId, secret: secrets.secret, clock, log: apiLog,
      values: coordination.values, leases: coordination.leases, timeoutMs: w.requestTimeoutMs, maxRetries: w.maxRetries, sleep: deps.sleep,
    })
    this.api = this.newApi()
    this.runApi = this.newApi()
    this.verifier = new CallbackVerifier({
      botId: definition.id, clock, nonces: coordination.dedupe, windowSeconds: w.timestampWindowSeconds,
      secrets: { token: secrets.callbackToken, aesKey: aesKeyOf(secrets.encodingAesKey), corpId: w.corpId },
    })
    const kinds: ActionKind[] = []
    if (Object.keys(secrets.robotKeys).length > 0) kinds.push('say', 'sayCard', 'sayImage')
    if (Object.keys(w.corpTags).length > 0) kinds.push('tag')
    this.capabilities = new Set(kinds)
  }

  get botId(): string { return this.deps.definition.id }
  get online(): boolean { return this.loggedIn }

  /**
   * Connects: fetches an access token; the bot counts as logged in once WeCom answered. Starts the inbox
   * worker. A stopped channel starts again (the bot's lease came back to this replica): each run has its
   * own API client, so the abort of the previous run's requests does not reach this one.
   */
  async start(sink: ChannelSink): Promise<void> {
    const run = ++this.run
    this.stopped = false
    this.loggedIn = false
    this.connectFailures = 0
    this.runApi = this.newApi()
    this.sink = sink
    this.working = true
    const poll = this.deps.definition.wecom?.inboxPollMs ?? 1_000
    this.pollTimer = setInterval(() => { this.kick() }, poll)
    this.pollTimer.unref()
    await this.connect(run)
    // What an earlier run stored but did not process.
    this.kick()
  }

  /** Whether `run` is the current run and not stopped. */
  private current(run: number): boolean { return !this.stopped && run === this.run }

  private async connect(run: number): Promise<void> {
    if (!this.current(run)) return
    try {
      await this.runApi.token()
      if (!this.current(run)) return
      this.loggedIn = true
      this.connectFailures = 0
      const at = this.deps.clock.now()
      this.deps.log.info('WeCom official API connected', { bot: this.botId, corp: this.corpId })
      this.emit(BotLoggedIn.of({ id: `${this.botId}:wecom-login:${at}`, at, botId: this.botId, name: `WeCom ${this.corpId}` }))
    } catch (error) {
      if (!this.current(run)) return
      // 5 s, 10 s, 20 s … up to 5 min: a passing outage heals fast, a wrong secret does not hammer WeCom.
      const delay = Math.min(300_000, 5_000 * 2 ** this.connectFailures++)
      this.deps.log.error(`WeCom official API not reachable; retrying in ${Math.round(delay / 1000)} s`, { bot: this.botId, error: errorText(error) })
      this.retryTimer = setTimeout(() => { void this.connect(run) }, delay)
      this.retryTimer.unref()
    }
  }

  /**
   * Disconnects: requests in flight are aborted, so a callback being processed stays in the inbox
   * (pending) and the bot's next holder — or this process after a restart — processes it. The bot is
   * offline until the next start(); the lasting client (reconciliation, admin API) keeps working.
   */
  async stop(): Promise<void> {
    this.stopped = true
    this.working = false
    this.loggedIn = false
    if (this.retryTimer) clearTimeout(this.retryTimer)
    if (this.pollTimer) clearInterval(this.pollTimer)
    this.runApi.abort()
    await this.pumping?.catch(() => undefined)
  }

  /** Resolves once every callback stored and due so far has been processed (tests). */
  async settled(): Promise<void> {
    // Done once a run that started after this call has finished (it ends when nothing due is left). Waiting
    // for the worker to be idle instead would never end while the poll timer keeps it busy.
    const before = this.pumpsStarted
    while (this.working && this.pumpsFinished <= before) {
      this.kick()
      await this.pumping
    }
  }

  private emit(event: ChannelEvent): void { this.sink?.event(event) }

  /** Delivers and waits until the event was processed (where the sink can say so). */
  private async deliver(event: ChannelEvent): Promise<void> {
    if (this.sink?.deliver) await this.sink.deliver(event)
    else this.sink?.event(event)
  }

  /** Runs the inbox worker now (once at a time; a kick while it runs makes it go round again). */
  private kick(): void {
    if (!this.working) return
    if (this.pumping) { this.pumpAgain = true; return }
    const run = ++this.pumpsStarted
    this.pumping = this.pump()
      .catch((error: unknown) => { this.deps.log.error('WeCom inbox worker failed; retrying at the next poll', { bot: this.botId, error: errorText(error) }) })
      .finally(() => {
        this.pumpsFinished = run
        this.pumping = null
        if (this.pumpAgain && this.working) { this.pumpAgain = false; this.kick() }
      })
  }

  private async pump(): Promise<void> {
    const { store, clock, log } = this.deps
    const replicaId = this.deps.replicaId ?? 'local'
    // This run's client: the stop of this run aborts what it has in flight.
    const api = this.runApi
    if (!store) return
    for (;;) {
      this.pumpAgain = false
      const now = clock.now()
      const items = await store.claimDue(this.botId, replicaId, now, now + 60_000, 20)
      if (items.length === 0) return
      for (const item of items) {
        if (!this.working) return
        try {
          await this.process(item.payload, api)
          await store.done(item.id, replicaId, clock.now())
        } catch (error) {
          const failed = !this.stopped && item.attempts >= 8
          const delay = this.stopped ? 0 : Math.min(300_000, 1_000 * 2 ** item.attempts)
          await store.release(item.id, replicaId, { dueAt: clock.now() + delay, error: errorText(error), failed, at: clock.now() })
          if (this.stopped) return
          log[failed ? 'error' : 'warn'](failed ? 'WeCom callback given up after 8 attempts (the next reconciliation repairs the directory)' : 'WeCom callback processing failed; retrying', { bot: this.botId, attempt: item.attempts, error: errorText(error) })
        }
      }
    }
  }

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
      const now = this.deps.clock.now()
      // channel both: the puppet usually reports a change first; waiting a little lets the pairing match it.
      const grace = this.deps.definition.channel === 'both' ? (this.deps.definition.wecom?.pairGraceMs ?? 0) : 0
      try {
        if (!this.deps.store) throw new Error('no callback inbox configured')
        // Stored before WeCom gets its answer: a crash after "success" loses nothing.
        await this.deps.store.put(this.botId, xml, now, now + grace)
      } catch (error) {
        // Not stored, so not acknowledged: WeCom delivers it again (its nonce must not count as used).
        await this.verifier.release(query).catch(() => undefined)
        this.deps.log.error('WeCom callback could not be stored; answering 503 so WeCom retries', { bot: this.botId, error: errorText(error) })
        return { status: 503, body: 'retry' }
      }
      this.kick()
      return { status: 200, body: 'success' }
    } catch (error) {
      if (error instanceof CallbackRejected) {
        this.deps.log.warn('WeCom callback refused', { bot: this.botId, reason: error.reason, detail: error.message, ip: request.ip })
        return { status: error.reason === 'replay' ? 409 : error.reason === 'signature' ? 401 : 400, body: error.reason }
      }
      throw error
    }
  }

  private async process(xml: Record<string, XmlValue>, api: WecomApi): Promise<void> {
    const events = await eventsOf(xml, { botId: this.botId, api, groupName: (id) => this.deps.directory.groupName(id) })
    this.deps.log.debug('WeCom callback', { bot: this.botId, event: typeof xml.Event === 'string' ? xml.Event : '', events: events.length })
    // WeCom may deliver one change twice (a retry after a slow answer carries a new nonce): the event ids
    // derive from the change, so each is emitted once.
    for (const event of events) {
      if (await this.deps.coordination.dedupe.firstSeen(`wecom:event:${event.id}`, 86_400_000)) {
        try {
          // Waits until the event went through the pipeline: the inbox row is marked done only after that.
          await this.deliver(event)
        } catch (error) {
          await this.deps.coordination.dedupe.forget(`wecom:event:${event.id}`)
          throw error
        }
      } else this.deps.log.debug('WeCom callback repeated; already processed', { bot: this.botId, event: event.id })
    }
  }

  /**
   * Reconciles the directory with WeCom: every customer group (groupchat/list, paged) is synced with its
   * members (groupchat/get, `reconcileConcurrency` at a time); groups the directory holds for this bot that
   * WeCom no longer lists are left (not with channel both: there the puppet, which is in the group, says
   * when the bot left). Repairs what lost callbacks and API-made changes (which produce no callback) left
   * out. When WeCom rate-limits it (45009 …), the tick ends early and the next tick resumes where it stopped.
   */
  async reconcile(tick: number): Promise<{ groups: number; left: number; remaining: number }> {
    const { values } = this.deps.coordination
    const key = `wecom:reconcile:${this.botId}`
    let progress: ReconcileProgress | null = null
    const raw = await values.get(key)
    if (raw) { try { progress = JSON.parse(raw) as ReconcileProgress } catch { progress = null } }
    if (!progress) {
      const listed = await listGroupChats(this.api)
      progress = { listed, remaining: [...listed], startedAt: tick }
    } else this.deps.log.info('WeCom reconciliation resumes where the last tick stopped', { bot: this.botId, remaining: progress.remaining.length })
    const concurrency = this.deps.definition.wecom?.reconcileConcurrency ?? 4
    let synced = 0
    while (progress.remaining.length > 0) {
      const batch = progress.remaining.slice(0, concurrency)
      const results = await Promise.allSettled(batch.map((chatId) => getGroupChat(this.api, chatId)))
      const limited = results.find((r) => r.status === 'rejected' && r.reason instanceof WecomApiError && r.reason.transient)
      const done = new Set<string>()
      for (let i = 0; i < batch.length; i++) {
        const result = results[i] as PromiseSettledResult<GroupChat>
        const chatId = batch[i] as string
        if (result.status === 'fulfilled') {
          await this.deliver(syncedEvent(this.botId, result.value, `wecom:reconcile:${chatId}:${tick}`, tick))
          done.add(chatId)
          synced++
        } else if (result.reason instanceof WecomApiError && result.reason.errcode === 40050) {
          done.add(chatId) // dismissed since the listing
        } else if (!(result.reason instanceof WecomApiError && result.reason.transient)) {
          throw result.reason
        }
      }
      progress.remaining = progress.remaining.filter((id) => !done.has(id))
      if (limited) {
        const error = (limited as PromiseRejectedResult).reason as WecomApiError
        await values.set(key, JSON.stringify(progress), this.deps.clock.now() + 86_400_000)
        this.deps.log.warn('WeCom rate limit during reconciliation; the next tick resumes', { bot: this.botId, errcode: error.errcode, synced, remaining: progress.remaining.length })
        return { groups: synced, left: 0, remaining: progress.remaining.length }
      }
    }
    if (raw) await values.deleteIf(key, raw)
    let left = 0
    if (this.deps.definition.channel !== 'both') {
      const seen = new Set(progress.listed)
      for (const groupId of await this.deps.directory.activeGroupIds(this.botId)) {
        if (seen.has(groupId)) continue
        this.emit(GroupLeft.of({ id: `wecom:reconcile-left:${groupId}:${tick}`, at: tick, botId: this.botId, groupId }))
        left++
      }
    }
    this.deps.log.info('WeCom customer groups reconciled', { bot: this.botId, groups: progress.listed.length, synced, left })
    return { groups: progress.listed.length, left, remaining: 0 }
  }

  /** Whether this channel can perform this very action (a robot installed in its group; a corp tag mapped for its tag). */
  canPerform(action: OutboundAction): boolean {
    if (action.kind === 'say' || action.kind === 'sayCard' || action.kind === 'sayImage') return Boolean(this.deps.definition.wecomSecrets?.robotKeys[action.groupId])
    if (action.kind === 'tag') return Boolean(this.deps.definition.wecom?.corpTags[action.tag])
    return false
  }

  /** Performs an action: group-robot messages and corp tags. */
  async perform(action: OutboundAction): Promise<void> {
    // The run's client as the action starts: a stop while it waits for its rate limit ends it.
    const api = this.runApi
    try {
      switch (action.kind) {
        case 'say': case 'sayCard': case 'sayImage': return await this.robotSend(api, action)
        case 'tag': return await this.markTag(api, action.memberId, action.tag, action.remove === true)
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

  private async robotSend(api: WecomApi, action: Extract<OutboundAction, { kind: 'say' | 'sayCard' | 'sayImage' }>): Promise<void> {
    const key = this.deps.definition.wecomSecrets?.robotKeys[action.groupId]
    if (!key) throw new Error(`no group robot is configured for group ${action.groupId}`)
    // 20 messages a minute per robot: this group's lane waits rather than spending attempts.
    const bucket = `wecom:robot:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`
    // Checked before a token of the bucket is spent.
    const image = action.kind === 'sayImage' ? await this.robotImage(action.imageUrl) : null
    for (;;) {
      const decision = await this.deps.coordination.rateLimiter.take(bucket, ROBOT_BUCKET)
      if (decision.allowed) break
      await this.deps.clock.sleep(decision.retryAfterMs)
    }
    const body = action.kind === 'say'
      ? { msgtype: 'text', text: { content: action.text, mentioned_list: action.mentions?.length ? action.mentions : undefined } }
      : action.kind === 'sayCard'
        ? { msgtype: 'news', news: { articles: [{ title: action.card.title, description: action.card.description, url: action.card.url, picurl: action.card.thumbnailUrl }] } }
        : { msgtype: 'image', image }
    await api.webhook('/cgi-bin/webhook/send', { key }, body)
  }

  /**
   * A robot image message's body: the image's bytes base64-encoded with their MD5 (WeCom's format), JPG
   * or PNG, at most 2 MB before encoding. Only stored images (`media:` references) are sent; a URL fails.
   */
  private async robotImage(ref: string): Promise<{ base64: string; md5: string }> {
    if (!ref.startsWith('media:') || !this.deps.media) throw new Error('group robots send stored images only (media: references)')
    const loaded = await this.deps.media(ref)
    if (!loaded) throw new Error(`image ${ref} not found`)
    if (loaded.mimeType !== 'image/jpeg' && loaded.mimeType !== 'image/png') throw new Error(`group robots send JPG or PNG images, not ${loaded.mimeType}`)
    if (loaded.data.length > ROBOT_IMAGE_MAX_BYTES) throw new Error(`image of ${loaded.data.length} bytes is over the group robot's 2 MB limit`)
    return { base64: loaded.data.toString('base64'), md5: createHash('md5').update(loaded.data).digest('hex') }
  }

  /** mark_tag: `add_tag`, or `remove_tag` for an untag. */
  private async markTag(api: WecomApi, externalUserId: string, tag: string, remove: boolean): Promise<void> {
    const tagId = this.deps.definition.wecom?.corpTags[tag]
    if (!tagId) throw new Error(`tag "${tag}" has no corp tag mapped (bots/ wecom.corpTags)`)
    for (;;) {
      const perSecond = this.deps.definition.wecom?.markTagPerSecond ?? MARK_TAG_BUCKET.refillPerSec
      const decision = await this.deps.coordination.rateLimiter.take(`wecom:mark-tag:${this.corpId}`, { capacity: Math.max(1, Math.ceil(perSecond * 2)), refillPerSec: perSecond })
      if (decision.allowed) break
      await this.deps.clock.sleep(decision.retryAfterMs)
    }
    const contact = await api.call<{ follow_user?: Array<{ userid: string }> }>('GET', '/cgi-bin/externalcontact/get', undefined, { external_userid: externalUserId })
    const staff = [...new Set((contact.follow_user ?? []).map((f) => f.userid))]
    if (staff.length === 0) throw new Error(`member ${externalUserId} is no staff member's customer; corp tags need one`)
    // Any staff member who has the customer can mark them; one who cannot (left the company, lost the
    // relation) is skipped for the next. Rate limits and configuration problems end the attempt at once.
    let last: unknown = null
    for (const userid of staff) {
      try {
        await api.call('POST', '/cgi-bin/externalcontact/mark_tag', remove
          ? { userid, external_userid: externalUserId, remove_tag: [tagId] }
          : { userid, external_userid: externalUserId, add_tag: [tagId] })
        return
      } catch (error) {
        if (!(error instanceof WecomApiError) || error.transient || error.errorClass === 'config') throw error
        last = error
        this.deps.log.warn('mark_tag refused for this staff member; trying the next', { bot: this.botId, errcode: error.errcode, staffLeft: staff.length - staff.indexOf(userid) - 1 })
      }
    }
    throw last instanceof Error ? last : new Error('mark_tag failed')
  }
}
