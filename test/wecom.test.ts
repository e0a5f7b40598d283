import { createHash } from 'node:crypto'
import { PNG } from 'pngjs'
import type { BotDefinition } from '../src/config/config.schema'
import { GroupLeft, GroupRenamed, GroupSynced, MemberJoined, MemberLeft, type EventBase } from '../src/kernel/events'
import { Runtime } from '../src/main'
import { CallbackSigner, changeExternalChat, FakeWecom } from './support/fake-wecom'
import { captureLogger, cleanup, tempDir, testConfig } from './support/env'

const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'
const CHAT = 'wrOgQhDgAAcwMTB7YmDkbeBsgT_AAAA'
const ROBOT_GROUP = 'wrOgQhDgAArobotgroup'

/** An official-API bot against the fake server. */
function officialBot(fake: FakeWecom, overrides: Partial<NonNullable<BotDefinition['wecom']>> = {}): BotDefinition {
  return {
    id: 'corp', name: 'Corp app', puppet: 'mock', tokenEnv: 'UNUSED', rulePack: 'default.yaml', groups: 'all', channel: 'official',
    resolvedPuppet: 'mock', token: null, file: '(test)',
    wecom: {
      corpId: fake.corpId, secretEnv: 'S', callbackTokenEnv: 'T', aesKeyEnv: 'K', apiBase: fake.base, timestampWindowSeconds: 300,
      reconcileCron: '*/30 * * * *', inboxPollMs: 50, pairGraceMs: 0, reconcileConcurrency: 4, markTagPerSecond: 5, requestTimeoutMs: 2_000, maxRetries: 2,
      robots: [{ groupId: ROBOT_GROUP, keyEnv: 'R' }], corpTags: { 活跃: 'etACTIVE01' }, ...overrides,
    },
    wecomSecrets: { secret: fake.secret, callbackToken: 'cb-token', encodingAesKey: AES_KEY, robotKeys: { [ROBOT_GROUP]: 'robot-key-1' } },
  }
}

function groupChat(members: Array<{ id: string; name: string; inviter?: string; scene?: number; type?: number }>, name = '读书会', owner = 'staff-zhang') {
  return {
    chat_id: CHAT, name, owner, notice: '',
    admin_list: [{ userid: 'staff-li' }],
    member_list: members.map((m) => ({ userid: m.id, name: m.name, type: m.type ?? 2, join_time: 1_780_000_000, join_scene: m.scene ?? 1, invitor: m.inviter ? { userid: m.inviter } : undefined })),
  }
}

describe('WeCom official API channel (callbacks, events, reconciliation, robots, corp tags)', () => {
  let fake: FakeWecom
  let runtime: Runtime
  let log: ReturnType<typeof captureLogger>
  const signer = new CallbackSigner('cb-token', AES_KEY, 'wwcorp0001')
  const events: EventBase[] = []
  const outcomes: Array<{ cause: string; status: string; error?: string }> = []
  let nonce = 0

  beforeAll(async () => {
    fake = new FakeWecom()
    await fake.start()
    fake.groups.set(CHAT, groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }, { id: 'staff-li', name: '李助教', type: 1 }, { id: 'wmBob', name: '阿强', inviter: 'staff-zhang' }]))
    log = captureLogger()
    runtime = new Runtime(await testConfig({ server: { host: '127.0.0.1', port: 0 } }), { log, bots: [officialBot(fake)], scheduler: false, simulation: false, sqlitePath: ':memory:' })
    await runtime.start()
    runtime.observe((o) => { if (o.kind === 'event') events.push(o.event) })
    runtime.outbound.onOutcome(({ action, status, error }) => { outcomes.push({ cause: action.cause ?? '', status, error }) })
  })

  afterAll(async () => {
    await runtime?.stop()
    await fake?.stop()
    await cleanup()
  })

  const url = (query: Record<string, string>, bot = 'corp'): string => `http://127.0.0.1:${runtime.address?.port}/wecom/callback/${bot}?${new URLSearchParams(query).toString()}`
  const now = (): number => Math.floor(Date.now() / 1000)

  /** POSTs one callback as WeCom would, waits until its events went through the pipeline. */
  async function post(xml: string, opts: { tamper?: boolean; corpId?: string; timestamp?: number; nonce?: string } = {}): Promise<{ status: number; text: string }> {
    const signed = signer.event(xml, { timestamp: opts.timestamp ?? now(), nonce: opts.nonce ?? `n${++nonce}x${Date.now()}`, corpId: opts.corpId, tamper: opts.tamper })
    const response = await fetch(url(signed.query), { method: 'POST', body: signed.body, headers: { 'content-type': 'text/xml' } })
    const text = await response.text()
    await runtime.wecom.get('corp')?.settled()
    await runtime.processor.idle()
    return { status: response.status, text }
  }

  it('logs in with an access token from the API and answers the URL check with the decrypted echostr', async () => {
    expect(runtime.channels.get('corp')?.online).toBe(true)
    expect(fake.tokenFetches).toBe(1)
    const response = await fetch(url(signer.urlCheck('4372698541231', { timestamp: now(), nonce: 'urlcheck1' })))
    expect(response.status).toBe(200)
    await expect(response.text()).resolves.toBe('4372698541231')
  })

  it('create → group.synced: the customer group and its members land in the directory', async () => {
    const answer = await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'create', createTime: now() }))
    expect(answer).toEqual({ status: 200, text: 'success' })
    expect(events.some((e) => GroupSynced.is(e) && e.groupId === CHAT)).toBe(true)
    const group = await runtime.directory.find(CHAT)
    expect(group).toMatchObject({ id: CHAT, botId: 'corp', name: '读书会', ownerId: 'staff-zhang', active: true })
    const members = await runtime.directory.members(CHAT)
    expect(members.map((m) => [m.id, m.role]).sort()).toEqual([['staff-li', 'admin'], ['staff-zhang', 'owner'], ['wmBob', 'member']])
  })

  it('acknowledges before processing: the answer does not wait for groupchat/get', async () => {
    const chatId = 'wrOgQhDgAAslowgroup'
    fake.groups.set(chatId, { ...groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }], '慢群'), chat_id: chatId })
    const release = fake.hold('/cgi-bin/externalcontact/groupchat/get')
    try {
      const signed = signer.event(changeExternalChat({ corpId: fake.corpId, chatId, changeType: 'create', createTime: now() }), { timestamp: now(), nonce: `slow${Date.now()}` })
      const response = await fetch(url(signed.query), { method: 'POST', body: signed.body })
      // Answered while groupchat/get is still held: the group is not in the directory yet.
      expect(await response.text()).toBe('success')
      expect(await runtime.directory.find(chatId)).toBeNull()
    } finally {
      release()
    }
    await runtime.wecom.get('corp')?.settled()
    await runtime.processor.idle()
    expect(await runtime.directory.find(chatId)).toMatchObject({ name: '慢群', active: true })
  })

  it('update add_member → member.joined with the inviter and join scene from groupchat/get', async () => {
    fake.groups.set(CHAT, groupChat([
      { id: 'staff-zhang', name: '张老师', type: 1 }, { id: 'staff-li', name: '李助教', type: 1 }, { id: 'wmBob', name: '阿强', inviter: 'staff-zhang' },
      { id: 'wmCarol', name: '小雨', inviter: 'staff-li', scene: 1 }, { id: 'wmDan', name: 'Dan', scene: 3 },
    ]))
    await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'add_member', joinScene: 0, members: ['wmCarol', 'wmDan'], memVer: 'v2', createTime: now() }))
    const joined = events.filter((e) => MemberJoined.is(e) && e.groupId === CHAT)
    expect(joined.map((e) => (MemberJoined.is(e) ? [e.members.map((m) => m.id), e.inviterId, e.scene] : null))).toEqual([
      [['wmCarol'], 'staff-li', 'invited'],
      [['wmDan'], undefined, 'qrcode'],
    ])
    const carol = (await runtime.directory.members(CHAT, { ids: ['wmCarol'] }))[0]
    expect(carol).toMatchObject({ id: 'wmCarol', name: '小雨', inviterId: 'staff-li', active: true })
  })

  it('processes a change delivered twice (a WeCom retry with a new nonce) once', async () => {
    const xml = changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'add_member', joinScene: 0, members: ['wmCarol'], memVer: 'v2b', createTime: now() })
    const before = events.filter((e) => MemberJoined.is(e)).length
    expect((await post(xml)).status).toBe(200)
    expect((await post(xml)).status).toBe(200)
    expect(events.filter((e) => MemberJoined.is(e)).length).toBe(before + 1)
  })

  it('update del_member → member.left', async () => {
    await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'del_member', quitScene: 0, members: ['wmDan'], memVer: 'v3', createTime: now() }))
    expect(events.find((e) => MemberLeft.is(e) && e.memberIds.includes('wmDan'))).toMatchObject({ scene: 'left' })
    // QuitScene 1: removed by the owner or an admin.
    await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'del_member', quitScene: 1, members: ['wmCarol'], memVer: 'v3b', createTime: now() }))
    expect(events.find((e) => MemberLeft.is(e) && e.memberIds.includes('wmCarol'))).toMatchObject({ scene: 'removed' })
    const dan = (await runtime.directory.members(CHAT, { ids: ['wmDan'], includeLeft: true }))[0]
    expect(dan).toMatchObject({ active: false })
  })

  it('update change_name → group.renamed with the old name from the directory', async () => {
    fake.groups.set(CHAT, { ...(fake.groups.get(CHAT) as ReturnType<typeof groupChat>), name: '读书会 2026' })
    await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'change_name', createTime: now() }))
    const renamed = events.find((e) => GroupRenamed.is(e))
    expect(renamed).toMatchObject({ groupId: CHAT, oldName: '读书会', newName: '读书会 2026' })
    expect((await runtime.directory.find(CHAT))?.name).toBe('读书会 2026')
  })

  it('update change_owner and change_notice → group.synced with the current owner', async () => {
    const chat = fake.groups.get(CHAT) as ReturnType<typeof groupChat>
    fake.groups.set(CHAT, { ...chat, owner: 'staff-li', admin_list: [] })
    await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'change_owner', createTime: now() }))
    expect((await runtime.directory.find(CHAT))?.ownerId).toBe('staff-li')
    const before = events.filter((e) => GroupSynced.is(e)).length
    await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'change_notice', createTime: now() }))
    expect(events.filter((e) => GroupSynced.is(e)).length).toBe(before + 1)
  })

  it('refuses a tampered signature, a wrong corp id, a stale timestamp and a replayed nonce with 4xx, logged without payload', async () => {
    const xml = changeExternalChat({ corpId: fake.corpId, chatId: 'wrSECRETCHAT', changeType: 'dismiss', createTime: now() })
    const before = events.length
    expect((await post(xml, { tamper: true })).status).toBe(401)
    expect((await post(xml, { corpId: 'wwintruder' })).status).toBe(400)
    expect((await post(xml, { timestamp: now() - 3_600 })).status).toBe(400)
    // A replay is the same signed request again (same timestamp and nonce).
    const ts = now()
    expect((await post(xml, { nonce: 'once-only', timestamp: ts })).status).toBe(200)
    expect((await post(xml, { nonce: 'once-only', timestamp: ts })).status).toBe(409)
    const refused = log.lines.filter((l) => l.message === 'WeCom callback refused')
    expect(refused.map((l) => l.meta.reason)).toEqual(['signature', 'receive_id', 'timestamp', 'replay'])
    // The refusals name the reason, never what the callback carried.
    expect(JSON.stringify(refused)).not.toContain('wrSECRETCHAT')
    expect(JSON.stringify(refused)).not.toContain('Encrypt')
    // Only the one genuine callback produced an event.
    expect(events.slice(before).filter((e) => GroupLeft.is(e) && e.groupId === 'wrSECRETCHAT')).toHaveLength(1)
  })

  it('dismiss → group.left: the group is no longer active', async () => {
    await post(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'dismiss', createTime: now() }))
    expect((await runtime.directory.find(CHAT))?.active).toBe(false)
  })

  it('reconciliation repairs lost callbacks and API-made changes: groups listed (paged) and synced, vanished ones left; fenced per tick', async () => {
    // Callbacks never arrived: a new group with members, the dismissed one back with other members.
    fake.groups.set('wrOgQhDgAAnewgroup', { ...groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }, { id: 'wmEve', name: 'Eve', inviter: 'staff-zhang' }], '跑步群'), chat_id: 'wrOgQhDgAAnewgroup' })
    fake.groups.set(CHAT, groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }, { id: 'wmCarol', name: '小雨' }, { id: 'wmFrank', name: 'Frank' }], '读书会'))
    // The directory knows a group WeCom no longer lists.
    await post(changeExternalChat({ corpId: fake.corpId, chatId: 'wrSECRETCHAT', changeType: 'create', createTime: now() }))
    const gone = 'wrOgQhDgAAgonegroup'
    fake.groups.set(gone, { ...groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }], '旧群'), chat_id: gone })
    await post(changeExternalChat({ corpId: fake.corpId, chatId: gone, changeType: 'create', createTime: now() }))
    fake.groups.delete(gone)
    const listCalls = fake.callsTo('/cgi-bin/externalcontact/groupchat/list')
    const tick = new Date(Math.floor(Date.now() / 60_000) * 60_000)
    await expect(runtime.scheduler.runFenced('wecom.reconcile.corp', tick)).resolves.toBe('ran')
    await runtime.processor.idle()
    expect(fake.callsTo('/cgi-bin/externalcontact/groupchat/list') - listCalls).toBe(1)
    expect(await runtime.directory.find('wrOgQhDgAAnewgroup')).toMatchObject({ name: '跑步群', active: true })
    expect((await runtime.directory.members('wrOgQhDgAAnewgroup')).map((m) => m.id).sort()).toEqual(['staff-zhang', 'wmEve'])
    expect(await runtime.directory.find(CHAT)).toMatchObject({ active: true })
    expect((await runtime.directory.members(CHAT)).map((m) => m.id).sort()).toEqual(['staff-zhang', 'wmCarol', 'wmFrank'])
    expect((await runtime.directory.find(gone))?.active).toBe(false)
    // The same tick again (another replica) does not run twice.
    await expect(runtime.scheduler.runFenced('wecom.reconcile.corp', tick)).resolves.toBe('skipped')
  })

  /** Waits for the outcome of an action with this cause. */
  async function outcome(cause: string): Promise<{ cause: string; status: string; error?: string }> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const found = outcomes.find((o) => o.cause === cause)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`no outcome for ${cause}: ${JSON.stringify(log.lines.filter((l) => /outbound|WeCom|bot/.test(l.message)).slice(-8))}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  it('sends through the group robot (text with mentions, link cards) and backs off on 45009', async () => {
    fake.failNext('/cgi-bin/webhook/send', 45009)
    runtime.outbound.enqueue({ kind: 'say', botId: 'corp', groupId: ROBOT_GROUP, text: '今晚八点读书分享', mentions: ['staff-zhang'], cause: 'share-1' })
    expect(await outcome('share-1')).toMatchObject({ status: 'sent' })
    runtime.outbound.enqueue({ kind: 'sayCard', botId: 'corp', groupId: ROBOT_GROUP, card: { url: 'https://example.com/a', title: '本周书单' }, cause: 'share-2' })
    expect(await outcome('share-2')).toMatchObject({ status: 'sent' })
    // Two messages spaced by the robot's bucket (one per 3.1 s) — real time, so the send waited.
    expect(fake.robotMessages.map((m) => m.body)).toEqual([
      { msgtype: 'text', text: { content: '今晚八点读书分享', mentioned_list: ['staff-zhang'] } },
      { msgtype: 'news', news: { articles: [{ title: '本周书单', url: 'https://example.com/a' }] } },
    ])
    expect(log.lines.some((l) => l.message.startsWith('WeCom rate limit') && l.meta.errcode === 45009)).toBe(true)
    // A group without a robot cannot be sent to through the official API.
    runtime.outbound.enqueue({ kind: 'say', botId: 'corp', groupId: CHAT, text: 'x', cause: 'share-3' })
    expect(await outcome('share-3')).toMatchObject({ status: 'failed' })
  })

  it('sends a stored image through the group robot as base64 with its MD5; a non-stored image fails', async () => {
    const admin = await runtime.access.createToken({ name: 'img-admin', role: 'admin', groupIds: [], allGroups: true, createdBy: 'test' })
    const image = new PNG({ width: 4, height: 3 })
    image.data.fill(200)
    const bytes = PNG.sync.write(image)
    const uploaded = await fetch(`http://127.0.0.1:${runtime.address?.port}/api/v1/share-images`, {
      method: 'POST', headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ mime: 'image/png', data: bytes.toString('base64') }),
    })
    expect(uploaded.status).toBe(201)
    const ref = `media:share-image:${(await uploaded.json() as { id: number }).id}`
    runtime.outbound.enqueue({ kind: 'sayImage', botId: 'corp', groupId: ROBOT_GROUP, imageUrl: ref, cause: 'image-1' })
    expect(await outcome('image-1')).toMatchObject({ status: 'sent' })
    const sent = fake.robotMessages.at(-1)?.body as { msgtype: string; image: { base64: string; md5: string } }
    expect(sent.msgtype).toBe('image')
    expect(Buffer.from(sent.image.base64, 'base64')).toEqual(bytes)
    expect(sent.image.md5).toBe(createHash('md5').update(bytes).digest('hex'))
    // A URL is not something the robot can send (it takes the bytes): failed, not retried.
    runtime.outbound.enqueue({ kind: 'sayImage', botId: 'corp', groupId: ROBOT_GROUP, imageUrl: 'https://example.com/a.png', cause: 'image-2' })
    expect(await outcome('image-2')).toMatchObject({ status: 'failed' })
  })

  it('maps the tag verb to corp tags on a staff member\'s customer (mark_tag add_tag / remove_tag); unmapped tags and non-customers fail', async () => {
    fake.customers.set('wmCarol', ['staff-li'])
    runtime.outbound.enqueue({ kind: 'tag', botId: 'corp', groupId: CHAT, memberId: 'wmCarol', tag: '活跃', cause: 'tag-1' })
    expect(await outcome('tag-1')).toMatchObject({ status: 'sent' })
    expect(fake.markedTags).toEqual([{ userid: 'staff-li', external_userid: 'wmCarol', add_tag: ['etACTIVE01'] }])
    runtime.outbound.enqueue({ kind: 'tag', botId: 'corp', memberId: 'wmCarol', tag: '沉睡', cause: 'tag-2' })
    expect(await outcome('tag-2')).toMatchObject({ status: 'failed' })
    runtime.outbound.enqueue({ kind: 'tag', botId: 'corp', memberId: 'wmNobody', tag: '活跃', cause: 'tag-3' })
    expect(await outcome('tag-3')).toMatchObject({ status: 'failed' })
    expect(fake.markedTags).toHaveLength(1)
    // The untag (the same action with remove: true) takes the corp tag off again with remove_tag.
    expect(fake.customerTags.get('wmCarol')).toEqual(new Set(['etACTIVE01']))
    runtime.outbound.enqueue({ kind: 'tag', botId: 'corp', groupId: CHAT, memberId: 'wmCarol', tag: '活跃', remove: true, cause: 'untag-1' })
    expect(await outcome('untag-1')).toMatchObject({ status: 'sent' })
    expect(fake.markedTags[1]).toEqual({ userid: 'staff-li', external_userid: 'wmCarol', remove_tag: ['etACTIVE01'] })
    expect(fake.customerTags.get('wmCarol')).toEqual(new Set())
    // The first staff contact left the company: the next one who has the customer marks them.
    fake.customers.set('wmGrace', ['staff-gone', 'staff-li'])
    fake.departedStaff.add('staff-gone')
    runtime.outbound.enqueue({ kind: 'tag', botId: 'corp', memberId: 'wmGrace', tag: '活跃', cause: 'tag-5' })
    expect(await outcome('tag-5')).toMatchObject({ status: 'sent' })
    expect(fake.customerTags.get('wmGrace')).toEqual(new Set(['etACTIVE01']))
    expect(fake.markedTags.at(-1)).toEqual({ userid: 'staff-li', external_userid: 'wmGrace', add_tag: ['etACTIVE01'] })
  })

  it('fails an action on a configuration error (60020: IP not trusted) with a clear log line', async () => {
    fake.failNext('/cgi-bin/externalcontact/get', 60020)
    runtime.outbound.enqueue({ kind: 'tag', botId: 'corp', memberId: 'wmCarol', tag: '活跃', cause: 'tag-4' })
    expect(await outcome('tag-4')).toMatchObject({ status: 'failed' })
    expect(log.lines.some((l) => l.message === 'WeCom configuration problem; the action fails' && String(l.meta.hint).includes('trusted IP'))).toBe(true)
  })

  it('reconciles in batches; a 45009 ends the tick early and the next tick resumes where it stopped', async () => {
    for (let i = 0; i < 6; i++) fake.groups.set(`wrBatch${i}`, { ...groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }], `批量${i}`), chat_id: `wrBatch${i}` })
    const total = fake.groups.size
    const gets = fake.callsTo('/cgi-bin/externalcontact/groupchat/get')
    // The third batch (groups 5–8 with 4 at once) meets the rate limit.
    fake.failNext('/cgi-bin/externalcontact/groupchat/get', 0, 0, 0, 0, 0, 0, 0, 0, 45009)
    const channel = runtime.wecom.get('corp')
    const first = await channel?.reconcile(Date.now())
    expect(first?.remaining).toBeGreaterThan(0)
    expect(log.lines.some((l) => l.message === 'WeCom rate limit during reconciliation; the next tick resumes' && l.meta.errcode === 45009)).toBe(true)
    const listCalls = fake.callsTo('/cgi-bin/externalcontact/groupchat/list')
    const second = await channel?.reconcile(Date.now() + 1)
    // Resumed from the stored progress: no new listing, only the groups left over.
    expect(fake.callsTo('/cgi-bin/externalcontact/groupchat/list')).toBe(listCalls)
    expect(second).toMatchObject({ remaining: 0 })
    expect(second?.groups).toBe(total)
    expect(fake.callsTo('/cgi-bin/externalcontact/groupchat/get') - gets).toBe(total + 1)
    await runtime.processor.idle()
    for (let i = 0; i < 6; i++) expect(await runtime.directory.find(`wrBatch${i}`)).toMatchObject({ active: true })
  })

  it('lists the callback endpoint in the OpenAPI document', async () => {
    const doc = await (await fetch(`http://127.0.0.1:${runtime.address?.port}/api/v1/openapi.json`)).json() as { paths: Record<string, Record<string, { parameters: Array<{ name: string }>; responses: Record<string, unknown> }>> }
    const path = doc.paths['/wecom/callback/{botId}']
    expect(Object.keys(path ?? {}).sort()).toEqual(['get', 'post'])
    expect(path?.post?.parameters.map((p) => p.name)).toEqual(['botId', 'msg_signature', 'timestamp', 'nonce'])
    expect(Object.keys(path?.post?.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '409', '503']))
  })

  it('answers 404 for a bot that does not run the official API', async () => {
    const response = await fetch(url({ msg_signature: 'x', timestamp: '1', nonce: '1', echostr: 'x' }, 'nobody'))
    expect(response.status).toBe(404)
  })
})

describe('WeCom callback inbox: acknowledged once stored, processed once after a crash', () => {
  it('a callback acknowledged but not processed when the runtime stops is processed once at the next start', async () => {
    const fake = new FakeWecom()
    await fake.start()
    const chatId = `wrInbox${Date.now()}`
    fake.groups.set(chatId, { ...groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }, { id: 'wmIvy', name: 'Ivy' }], '重启群'), chat_id: chatId })
    const sqlitePath = `${tempDir()}/inbox.sqlite`
    const signer = new CallbackSigner('cb-token', AES_KEY, 'wwcorp0001')
    // One configuration for both runs: the same database (and key prefix) after the restart.
    const config = await testConfig({ server: { host: '127.0.0.1', port: 0 } })
    const boot = async (): Promise<{ runtime: Runtime; events: EventBase[] }> => {
      const runtime = new Runtime(config, { log: captureLogger(), bots: [officialBot(fake)], scheduler: false, simulation: false, sqlitePath })
      const events: EventBase[] = []
      runtime.observe((o) => { if (o.kind === 'event') events.push(o.event) })
      await runtime.start()
      return { runtime, events }
    }
    try {
      const first = await boot()
      const release = fake.hold('/cgi-bin/externalcontact/groupchat/get')
      const signed = signer.event(changeExternalChat({ corpId: fake.corpId, chatId, changeType: 'create', createTime: Math.floor(Date.now() / 1000) }), { timestamp: Math.floor(Date.now() / 1000), nonce: `crash${Date.now()}` })
      const response = await fetch(`http://127.0.0.1:${first.runtime.address?.port}/wecom/callback/corp?${new URLSearchParams(signed.query).toString()}`, { method: 'POST', body: signed.body })
      expect(await response.text()).toBe('success')
      // Processing is under way (held at groupchat/get) when the process goes down.
      const deadline = Date.now() + 5_000
      while (fake.callsTo('/cgi-bin/externalcontact/groupchat/get') === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
      await first.runtime.stop()
      release()
      expect(first.events.filter((e) => GroupSynced.is(e) && e.groupId === chatId)).toHaveLength(0)

      const second = await boot()
      try {
        const until = Date.now() + 10_000
        while (!(await second.runtime.directory.find(chatId)) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
        await second.runtime.wecom.get('corp')?.settled()
        await second.runtime.processor.idle()
        expect(await second.runtime.directory.find(chatId)).toMatchObject({ name: '重启群', active: true })
        expect(second.events.filter((e) => GroupSynced.is(e) && e.groupId === chatId)).toHaveLength(1)
        expect(await second.runtime.wecomStore?.count('corp', 'pending')).toBe(0)
      } finally {
        await second.runtime.stop()
      }
    } finally {
      await fake.stop()
      await cleanup()
    }
  })
})

describe('WeCom bot whose lease moves away and comes back to the same replica', () => {
  it('logs in again and works: robot messages, callbacks, corp tags and reconciliation after the lease was lost and re-acquired', async () => {
    const fake = new FakeWecom()
    await fake.start()
    const signer = new CallbackSigner('cb-token', AES_KEY, fake.corpId)
    fake.groups.set(CHAT, groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }, { id: 'wmBob', name: '阿强', inviter: 'staff-zhang' }]))
    fake.customers.set('wmBob', ['staff-zhang'])
    const log = captureLogger()
    const runtime = new Runtime(await testConfig({ server: { host: '127.0.0.1', port: 0 } }), { log, bots: [officialBot(fake)], scheduler: false, simulation: false, sqlitePath: ':memory:' })
    const outcomes: Array<{ cause: string; status: string; error?: string }> = []
    const changes: boolean[] = []
    try {
      await runtime.start()
      runtime.outbound.onOutcome(({ action, status, error }) => { outcomes.push({ cause: action.cause ?? '', status, error }) })
      runtime.ownership.onChange(({ botId, held }) => { if (botId === 'corp') changes.push(held) })
      const waitFor = async (what: string, done: () => boolean): Promise<void> => {
        for (let i = 0; i < 1_000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
        if (!done()) throw new Error(`${what} never happened: ${JSON.stringify(log.lines.filter((l) => /outbound|WeCom|bot/.test(l.message)).slice(-8).map((l) => l.message))}`)
      }
      const logins = (): number => log.lines.filter((l) => l.message === 'WeCom official API connected').length
      expect(runtime.channels.get('corp')?.online).toBe(true)
      expect(logins()).toBe(1)

      // The coordination store lost the lease (Redis back empty): the next renewal fails, the bot stops
      // here, and the same round acquires the free lease again and starts it on this replica.
      expect(await runtime.ports.keys.deleteKeys('corp', { alsoOneOf: ['bot'] })).toBe(1)
      await runtime.ownership.tick()
      await waitFor('the bot\'s restart', () => changes.length === 2)
      expect(changes).toEqual([false, true])
      expect(runtime.ownership.holds('corp')).toBe(true)
      // A new login (BotLoggedIn resumes the bot's outbound lanes).
      expect(logins()).toBe(2)
      expect(runtime.channels.get('corp')?.online).toBe(true)

      runtime.outbound.enqueue({ kind: 'say', botId: 'corp', groupId: ROBOT_GROUP, text: '回来了', cause: 'after-handover' })
      runtime.outbound.enqueue({ kind: 'tag', botId: 'corp', groupId: CHAT, memberId: 'wmBob', tag: '活跃', cause: 'tag-after-handover' })
      await waitFor('the robot message and the corp tag', () => ['after-handover', 'tag-after-handover'].every((c) => outcomes.some((o) => o.cause === c)))
      expect(outcomes.map((o) => [o.cause, o.status])).toEqual(expect.arrayContaining([['after-handover', 'sent'], ['tag-after-handover', 'sent']]))
      expect(fake.robotMessages.map((m) => m.body)).toEqual([{ msgtype: 'text', text: { content: '回来了' } }])

      // A callback is processed by the new run's inbox worker (groupchat/get through the new run's client).
      const signed = signer.event(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'create', createTime: Math.floor(Date.now() / 1000) }), { timestamp: Math.floor(Date.now() / 1000), nonce: `back${Date.now()}` })
      const response = await fetch(`http://127.0.0.1:${runtime.address?.port}/wecom/callback/corp?${new URLSearchParams(signed.query).toString()}`, { method: 'POST', body: signed.body })
      expect(await response.text()).toBe('success')
      await runtime.wecom.get('corp')?.settled()
      await runtime.processor.idle()
      expect(await runtime.directory.find(CHAT)).toMatchObject({ name: '读书会', active: true })
      expect(await runtime.wecomStore?.count('corp', 'pending')).toBe(0)

      // Reconciliation (the fenced job's channel object) still reaches WeCom.
      fake.groups.set('wrOgQhDgAAbackgroup', { ...groupChat([{ id: 'staff-zhang', name: '张老师', type: 1 }], '回归群'), chat_id: 'wrOgQhDgAAbackgroup' })
      await expect(runtime.scheduler.runFenced('wecom.reconcile.corp', new Date(Math.floor(Date.now() / 60_000) * 60_000))).resolves.toBe('ran')
      await runtime.processor.idle()
      expect(await runtime.directory.find('wrOgQhDgAAbackgroup')).toMatchObject({ name: '回归群', active: true })
      expect(log.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([])
    } finally {
      await runtime.stop()
      await fake.stop()
      await cleanup()
    }
  }, 180_000)
})
