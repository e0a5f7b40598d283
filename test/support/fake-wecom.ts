import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { aesKeyOf, encryptMessage, signature } from '../../src/adapters/wecom/crypto'
import type { GroupChat } from '../../src/adapters/wecom/groupchat'
import { cdata } from '../../src/adapters/wecom/xml'

/**
 * A local fake of the WeCom server API (HTTP on 127.0.0.1, no real network): gettoken with expiring
 * tokens, customer groups (groupchat/list paged, groupchat/get), external contacts, mark_tag (add and remove) and the group
 * robot webhook (20 messages a minute per key, then 45009). Errors can be injected per path.
 */
export class FakeWecom {
  readonly corpId: string
  readonly secret: string
  /** Customer groups by chat id (tests change them directly, as an API-made change would). */
  readonly groups = new Map<string, GroupChat>()
  /** external_userid → staff userids who have them as customer. */
  readonly customers = new Map<string, string[]>()
  /** Every call: path and body, in order. */
  readonly calls: Array<{ path: string; body: Record<string, unknown>; query: Record<string, string> }> = []
  readonly robotMessages: Array<{ key: string; body: Record<string, unknown>; at: number }> = []
  /** Every mark_tag call's body (add_tag and/or remove_tag), in order. */
  readonly markedTags: Array<{ userid: string; external_userid: string; add_tag?: string[]; remove_tag?: string[] }> = []
  /** The corp tags each customer carries now (external_userid → tag ids), as mark_tag left them. */
  readonly customerTags = new Map<string, Set<string>>()
  /** Staff who left the company: mark_tag on their behalf answers 60111 (userid not found). */
  readonly departedStaff = new Set<string>()
  tokenFetches = 0
  /** Seconds a token lives (WeCom: 7200). */
  expiresIn = 7200
  /** Delay of gettoken answers, ms (so concurrent refreshes overlap). */
  tokenDelayMs = 30
  /** Paths whose answers wait until released (a slow WeCom, without timing). */
  private readonly gates = new Map<string, Promise<void>>()
  /** The server's time (the robot's per-minute window); tests with a fake clock replace it. */
  now: () => number = () => Date.now()
  private readonly tokens = new Map<string, { expired: boolean }>()
  private readonly failures = new Map<string, number[]>()
  private readonly robotWindow = new Map<string, number[]>()
  private server?: Server
  private seq = 0

  constructor(opts: { corpId?: string; secret?: string } = {}) {
    this.corpId = opts.corpId ?? 'wwcorp0001'
    this.secret = opts.secret ?? 'app-secret-1'
  }

  /** Starts listening on 127.0.0.1 (a free port); returns the base URL. */
  async start(): Promise<string> {
    this.server = createServer((req, res) => { void this.handle(req, res) })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    return this.base
  }

  get base(): string { return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}` }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => { if (this.server) this.server.close(() => resolve()); else resolve() })
  }

  /** The next answers of `path` are these errcodes, in order. */
  failNext(path: string, ...errcodes: number[]): void {
    this.failures.set(path, [...(this.failures.get(path) ?? []), ...errcodes])
  }

  /** Holds every answer of `path` until the returned function is called. */
  hold(path: string): () => void {
    let release: () => void = () => undefined
    this.gates.set(path, new Promise<void>((resolve) => { release = resolve }))
    return () => { this.gates.delete(path); release() }
  }

  /** Every token issued so far now answers 42001 (expired). */
  expireTokens(): void { for (const t of this.tokens.values()) t.expired = true }

  /** Forgets every token issued so far (answers 40014, invalid). */
  revokeTokens(): void { this.tokens.clear() }

  /** Calls of one path. */
  callsTo(path: string): number { return this.calls.filter((c) => c.path === path).length }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    const body = raw ? JSON.parse(raw) as Record<string, unknown> : {}
    const query = Object.fromEntries(url.searchParams)
    this.calls.push({ path: url.pathname, body, query })
    const send = (answer: Record<string, unknown>): void => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ errcode: 0, errmsg: 'ok', ...answer }))
    }
    await this.gates.get(url.pathname)
    const injected = this.failures.get(url.pathname)
    // An injected 0 lets that call through (so a failure can be placed at the n-th call).
    const errcode = injected && injected.length > 0 ? injected.shift() as number : 0
    if (errcode !== 0) {
      if (errcode >= 500 && errcode < 600) { res.writeHead(errcode); res.end('upstream'); return }
      send({ errcode, errmsg: `injected ${errcode}` })
      return
    }
    if (url.pathname === '/cgi-bin/gettoken') {
      if (query.corpid !== this.corpId) return send({ errcode: 40013, errmsg: 'invalid corpid' })
      if (query.corpsecret !== this.secret) return send({ errcode: 40001, errmsg: 'invalid credential' })
      await new Promise((resolve) => setTimeout(resolve, this.tokenDelayMs))
      this.tokenFetches++
      const token = `tok-${++this.seq}`
      this.tokens.set(token, { expired: false })
      return send({ access_token: token, expires_in: this.expiresIn })
    }
    if (url.pathname === '/cgi-bin/webhook/send') return send(this.robot(query.key ?? '', body))
    const token = this.tokens.get(query.access_token ?? '')
    if (!token) return send({ errcode: 40014, errmsg: 'invalid access_token' })
    if (token.expired) return send({ errcode: 42001, errmsg: 'access_token expired' })
    switch (url.pathname) {
      case '/cgi-bin/externalcontact/groupchat/list': {
        const ids = [...this.groups.keys()].sort()
        const start = Number(body.cursor ?? 0) || 0
        const limit = Number(body.limit ?? 100)
        if (limit < 1 || limit > 1000) return send({ errcode: 40058, errmsg: 'invalid limit' })
        const page = ids.slice(start, start + limit)
        return send({ group_chat_list: page.map((chat_id) => ({ chat_id, status: 0 })), next_cursor: start + limit < ids.length ? String(start + limit) : '' })
      }
      case '/cgi-bin/externalcontact/groupchat/get': {
        const chat = this.groups.get(String(body.chat_id))
        if (!chat) return send({ errcode: 40050, errmsg: 'chatid not exists' })
        return send({ group_chat: chat })
      }
      case '/cgi-bin/externalcontact/get': {
        const staff = this.customers.get(query.external_userid ?? '')
        if (!staff) return send({ errcode: 84061, errmsg: 'not external contact' })
        return send({ external_contact: { external_userid: query.external_userid }, follow_user: staff.map((userid) => ({ userid })) })
      }
      case '/cgi-bin/externalcontact/mark_tag': {
        const mark = body as { userid: string; external_userid: string; add_tag?: string[]; remove_tag?: string[] }
        if (!mark.add_tag?.length && !mark.remove_tag?.length) return send({ errcode: 40068, errmsg: 'invalid tagid' })
        if (this.departedStaff.has(mark.userid)) return send({ errcode: 60111, errmsg: 'userid not found' })
        this.markedTags.push(mark)
        const held = this.customerTags.get(mark.external_userid) ?? new Set<string>()
        for (const id of mark.add_tag ?? []) held.add(id)
        for (const id of mark.remove_tag ?? []) held.delete(id)
        this.customerTags.set(mark.external_userid, held)
        return send({})
      }
      default: return send({ errcode: 404, errmsg: `unknown path ${url.pathname}` })
    }
  }

  private robot(key: string, body: Record<string, unknown>): Record<string, unknown> {
    if (!key.startsWith('robot-')) return { errcode: 93000, errmsg: 'invalid webhook url' }
    const now = this.now()
    const window = (this.robotWindow.get(key) ?? []).filter((t) => t > now - 60_000)
    if (window.length >= 20) return { errcode: 45009, errmsg: 'api freq out of limit' }
    if (body.msgtype === 'image') {
      // The image's bytes as base64 with their MD5; at most 2 MB before encoding.
      const image = body.image as { base64?: string; md5?: string } | undefined
      const bytes = Buffer.from(image?.base64 ?? '', 'base64')
      if (bytes.length === 0 || createHash('md5').update(bytes).digest('hex') !== image?.md5) return { errcode: 301019, errmsg: 'media md5 not match' }
      if (bytes.length > 2 * 1024 * 1024) return { errcode: 40009, errmsg: 'invalid image size' }
    }
    window.push(now)
    this.robotWindow.set(key, window)
    this.robotMessages.push({ key, body, at: now })
    return {}
  }
}

/** Callback secrets of a test bot, and how WeCom would sign and encrypt a callback to it. */
export class CallbackSigner {
  constructor(readonly token: string, readonly encodingAesKey: string, readonly corpId: string) {}

  /** An encrypted POST callback: its query and XML body. */
  event(xml: string, opts: { timestamp: number; nonce: string; corpId?: string; tamper?: boolean }): { query: Record<string, string>; body: string } {
    const encrypted = encryptMessage(aesKeyOf(this.encodingAesKey), xml, opts.corpId ?? this.corpId)
    const ts = String(opts.timestamp)
    let sig = signature(this.token, ts, opts.nonce, encrypted)
    if (opts.tamper) sig = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`
    return {
      query: { msg_signature: sig, timestamp: ts, nonce: opts.nonce },
      body: `<xml><ToUserName>${cdata(this.corpId)}</ToUserName><Encrypt>${cdata(encrypted)}</Encrypt><AgentID>${cdata('1000002')}</AgentID></xml>`,
    }
  }

  /** The GET URL check. */
  urlCheck(echo: string, opts: { timestamp: number; nonce: string }): Record<string, string> {
    const encrypted = encryptMessage(aesKeyOf(this.encodingAesKey), echo, this.corpId)
    return { msg_signature: signature(this.token, String(opts.timestamp), opts.nonce, encrypted), timestamp: String(opts.timestamp), nonce: opts.nonce, echostr: encrypted }
  }
}

/** A change_external_chat callback body (plaintext XML, before encryption). */
export function changeExternalChat(opts: {
  corpId: string; chatId: string; changeType: 'create' | 'update' | 'dismiss'; detail?: string; createTime: number
  joinScene?: number; quitScene?: number; members?: string[]; memVer?: string
}): string {
  const parts = [
    `<ToUserName>${cdata(opts.corpId)}</ToUserName>`, `<FromUserName>${cdata('sys')}</FromUserName>`, `<CreateTime>${opts.createTime}</CreateTime>`,
    `<MsgType>${cdata('event')}</MsgType>`, `<Event>${cdata('change_external_chat')}</Event>`, `<ChatId>${cdata(opts.chatId)}</ChatId>`,
    `<ChangeType>${cdata(opts.changeType)}</ChangeType>`,
  ]
  if (opts.detail) parts.push(`<UpdateDetail>${cdata(opts.detail)}</UpdateDetail>`)
  if (opts.joinScene !== undefined) parts.push(`<JoinScene>${opts.joinScene}</JoinScene>`)
  if (opts.quitScene !== undefined) parts.push(`<QuitScene>${opts.quitScene}</QuitScene>`)
  if (opts.members) parts.push(`<MemChangeCnt>${opts.members.length}</MemChangeCnt><MemChangeList>${opts.members.map((m) => `<Item>${cdata(m)}</Item>`).join('')}</MemChangeList>`)
  if (opts.memVer) parts.push(`<LastMemVer>${cdata('prev')}</LastMemVer><CurMemVer>${cdata(opts.memVer)}</CurMemVer>`)
  return `<xml>${parts.join('')}</xml>`
}
