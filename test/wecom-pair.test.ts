import request from 'supertest'
import type { PuppetLike } from '../src/adapters/wechaty/channel'
import { roomId, SimWorld } from '../src/adapters/wechaty/sim-world'
import type { BotDefinition } from '../src/config/config.schema'
import { MemberJoined, MemberLeft, type EventBase } from '../src/kernel/events'
import { Runtime } from '../src/main'
import { CallbackSigner, changeExternalChat, FakeWecom } from './support/fake-wecom'
import { captureLogger, cleanup, testConfig } from './support/env'

const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'
const CHAT = 'wrPairChat000001'
const ROOM = roomId('g-pair')
const GRACE_MS = 400

/** channel both: the same group seen by the puppet (real wechaty on the mock puppet) and by the official API (fake WeCom). */
describe('channel both: one group, one join, one welcome across the puppet and the official API', () => {
  let fake: FakeWecom
  let world: SimWorld
  let runtime: Runtime
  const signer = new CallbackSigner('cb-token', AES_KEY, 'wwcorp0001')
  const events: EventBase[] = []
  let nonce = 0

  const member = (userid: string, name: string, type = 2) => ({ userid, name, type, join_time: 1_780_000_000, join_scene: 1, invitor: { userid: 'zhang' } })

  beforeAll(async () => {
    fake = new FakeWecom()
    await fake.start()
    // WeCom's view: the owner (staff), the bot's own staff account and two customers — four, like the room.
    fake.groups.set(CHAT, { chat_id: CHAT, name: '读书会', owner: 'zhang', admin_list: [], member_list: [member('zhang', 'Alice', 1), member('botstaff', '群运助手', 1), member('wmBob', '阿强'), member('wmCarol', '小雨')] })
    // Another customer group of the app, no puppet counterpart.
    fake.groups.set('wrOnlyOfficial01', { chat_id: 'wrOnlyOfficial01', name: '跑步群', owner: 'zhang', member_list: [member('zhang', 'Alice', 1)] })
    world = new SimWorld({ now: () => Date.now() })
    for (const [id, name] of [['alice', 'Alice'], ['bob', '阿强'], ['carol', '小雨']] as const) world.contact(id, name)
    world.room('g-pair', '读书会', ['alice', 'bob', 'carol'], 'alice')
    const bot: BotDefinition = {
      id: 'corp', name: '群运助手', puppet: 'mock', tokenEnv: 'UNUSED', rulePack: 'default.yaml', groups: 'all', channel: 'both', resolvedPuppet: 'mock', token: null, file: '(test)',
      wecom: {
        corpId: fake.corpId, secretEnv: 'S', callbackTokenEnv: 'T', aesKeyEnv: 'K', apiBase: fake.base, timestampWindowSeconds: 300, reconcileCron: '*/30 * * * *',
        inboxPollMs: 50, pairGraceMs: GRACE_MS, reconcileConcurrency: 2, markTagPerSecond: 5, requestTimeoutMs: 2_000, maxRetries: 1, robots: [], corpTags: {},
      },
      wecomSecrets: { secret: fake.secret, callbackToken: 'cb-token', encodingAesKey: AES_KEY, robotKeys: {} },
    }
    runtime = new Runtime(await testConfig({ server: { host: '127.0.0.1', port: 0 } }), {
      log: captureLogger(), bots: [bot], scheduler: false, simulation: false, sqlitePath: ':memory:', puppetFor: () => world.puppet as unknown as PuppetLike,
    })
    runtime.observe((o) => { if (o.kind === 'event') events.push(o.event) })
    await runtime.start()
    world.login()
    await until(async () => (await runtime.directory.find(ROOM))?.active === true)
    await runtime.rules.write(ROOM, 'moderation', { enabled: true, welcome: { enabled: true, windowSeconds: 0 } }, { by: null, note: 'test' })
  })

  afterAll(async () => {
    await runtime?.stop()
    await fake?.stop()
    await cleanup()
  })

  async function until(test: () => Promise<boolean> | boolean, what = 'condition'): Promise<void> {
    const deadline = Date.now() + 15_000
    while (!(await test())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  const now = (): number => Math.floor(Date.now() / 1000)

  /** POSTs a callback; waits until it is due (the pairing grace) and processed. */
  async function callback(xml: string): Promise<void> {
    const signed = signer.event(xml, { timestamp: now(), nonce: `p${++nonce}x${Date.now()}` })
    const response = await fetch(`http://127.0.0.1:${runtime.address?.port}/wecom/callback/corp?${new URLSearchParams(signed.query).toString()}`, { method: 'POST', body: signed.body })
    expect(await response.text()).toBe('success')
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 50))
    await runtime.wecom.get('corp')?.settled()
    await runtime.processor.idle()
  }

  const welcomes = (): string[] => world.puppet.actions.filter((a) => a.kind === 'say' && a.groupId === ROOM && /欢迎/.test(a.text ?? '')).map((a) => a.text ?? '')
  const joinsOf = (memberId: string): EventBase[] => events.filter((e) => MemberJoined.is(e) && e.members.some((m) => m.id === memberId))

  it('links the WeCom chat to the puppet group (same name, same member count): the group shows once, under the room id', async () => {
    await callback(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'create', createTime: now() }))
    await callback(changeExternalChat({ corpId: fake.corpId, chatId: 'wrOnlyOfficial01', changeType: 'create', createTime: now() }))
    const active = (await runtime.directory.activeGroups()).map((g) => g.id).sort()
    expect(active).toEqual([ROOM, 'wrOnlyOfficial01'].sort())
    expect(await runtime.directory.find(CHAT)).toBeNull()
    expect((await runtime.wecomStore?.links('corp'))?.map((l) => [l.chatId, l.roomId, l.source])).toEqual([[CHAT, ROOM, 'auto']])
    // The members are the puppet's (ids from wechaty), not a second set from WeCom.
    expect((await runtime.directory.members(ROOM)).map((m) => m.id).sort()).toEqual(['alice', 'bob', 'carol'])
  })

  it('a join seen by the puppet and then by the callback: one member.joined, one welcome, one member', async () => {
    world.contact('dan', 'Dan')
    const chat = fake.groups.get(CHAT)
    chat?.member_list.push(member('wmDan', 'Dan'))
    const before = welcomes().length
    world.join('g-pair', ['dan'], 'alice')
    await until(() => joinsOf('dan').length === 1, 'the puppet join')
    await callback(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'add_member', joinScene: 0, members: ['wmDan'], memVer: 'v1', createTime: now() }))
    await runtime.outbound.drain(5_000)
    expect(joinsOf('dan')).toHaveLength(1)
    expect(joinsOf('wmDan')).toHaveLength(0)
    await until(() => welcomes().length > before, 'the welcome')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(welcomes().length - before).toBe(1)
    expect((await runtime.directory.members(ROOM)).map((m) => m.id).sort()).toEqual(['alice', 'bob', 'carol', 'dan'])
    expect(await runtime.wecomStore?.memberLinks('corp', ['wmDan'])).toEqual(new Map([['wmDan', 'dan']]))
  })

  it('a join reported by the callback first and the puppet within the grace: still one', async () => {
    world.contact('erin', 'Erin')
    fake.groups.get(CHAT)?.member_list.push(member('wmErin', 'Erin'))
    const before = welcomes().length
    const signed = signer.event(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'add_member', joinScene: 0, members: ['wmErin'], memVer: 'v2', createTime: now() }), { timestamp: now(), nonce: `early${Date.now()}` })
    const response = await fetch(`http://127.0.0.1:${runtime.address?.port}/wecom/callback/corp?${new URLSearchParams(signed.query).toString()}`, { method: 'POST', body: signed.body })
    expect(await response.text()).toBe('success')
    world.join('g-pair', ['erin'], 'alice')
    await until(() => joinsOf('erin').length === 1, 'the puppet join')
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 50))
    await runtime.wecom.get('corp')?.settled()
    await runtime.processor.idle()
    await runtime.outbound.drain(5_000)
    expect(joinsOf('erin')).toHaveLength(1)
    expect(joinsOf('wmErin')).toHaveLength(0)
    await until(() => welcomes().length > before, 'the welcome')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(welcomes().length - before).toBe(1)
  })

  it('a leave seen by both sides is one member.left; a rejoin afterwards counts again', async () => {
    const leaves = (): EventBase[] => events.filter((e) => MemberLeft.is(e) && e.memberIds.includes('dan'))
    world.leave('g-pair', ['dan'])
    await until(() => leaves().length === 1, 'the puppet leave')
    const chat = fake.groups.get(CHAT)
    if (chat) chat.member_list = chat.member_list.filter((m) => m.userid !== 'wmDan')
    await callback(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'del_member', quitScene: 0, members: ['wmDan'], memVer: 'v3', createTime: now() }))
    expect(leaves()).toHaveLength(1)
    expect(events.filter((e) => MemberLeft.is(e) && e.memberIds.includes('wmDan'))).toHaveLength(0)
    world.join('g-pair', ['dan'], 'alice')
    await until(() => joinsOf('dan').length === 2, 'the rejoin')
  })

  it('a new member named like a former member is not linked to the former one (names match members in the room only)', async () => {
    // 小王 (wang-old) was a member and left.
    world.contact('wang-old', '小王')
    world.join('g-pair', ['wang-old'], 'alice')
    await until(() => joinsOf('wang-old').length === 1, 'the former member\'s join')
    world.leave('g-pair', ['wang-old'])
    await until(async () => (await runtime.directory.members(ROOM, { ids: ['wang-old'], includeLeft: true }))[0]?.active === false, 'the former member\'s leave')
    // Another 小王 joins; WeCom's callback is processed before the puppet reports the join.
    fake.groups.get(CHAT)?.member_list.push(member('wmWangNew', '小王'))
    await callback(changeExternalChat({ corpId: fake.corpId, chatId: CHAT, changeType: 'update', detail: 'add_member', joinScene: 0, members: ['wmWangNew'], memVer: 'v4', createTime: now() }))
    // No permanent link to the former member, who has not come back.
    expect(await runtime.wecomStore?.memberLinks('corp', ['wmWangNew'])).toEqual(new Map())
    expect(joinsOf('wang-old')).toHaveLength(1)
    expect((await runtime.directory.members(ROOM, { ids: ['wang-old'], includeLeft: true }))[0]).toMatchObject({ id: 'wang-old', active: false })
  })

  it('owners fix a link through the admin API: owner-scoped, validated, audited; the chat\'s own entry retires', async () => {
    const owner = await runtime.access.createToken({ name: 'owner-pair', role: 'owner', groupIds: [ROOM], allGroups: false, createdBy: 'test' })
    const stranger = await runtime.access.createToken({ name: 'owner-other', role: 'owner', groupIds: ['wrOnlyOfficial01'], allGroups: false, createdBy: 'test' })
    const api = request(`http://127.0.0.1:${runtime.address?.port}`)
    const path = `/api/v1/groups/${encodeURIComponent(ROOM)}/wecom-link`
    const as = (t: request.Test, token: string): request.Test => t.set('Authorization', `Bearer ${token}`)
    expect((await as(api.get(path), owner.token)).body).toMatchObject({ groupId: ROOM, chatId: CHAT, source: 'auto' })
    // Outside the caller's scope: 404, as for a group that does not exist.
    expect((await as(api.put(path).send({ chatId: 'wrOnlyOfficial01' }), stranger.token)).status).toBe(404)
    // Invalid input and unknown chats: 400.
    expect((await as(api.put(path).send({ chatId: 'bad id!' }), owner.token)).status).toBe(400)
    const unknown = await as(api.put(path).send({ chatId: 'wrNoSuchChat0001' }), owner.token)
    expect([unknown.status, unknown.body.error.code]).toEqual([400, 'unknown_chat'])
    // A chat that is another owner's group: refused without naming it.
    const taken = await as(api.put(path).send({ chatId: 'wrOnlyOfficial01' }), owner.token)
    expect([taken.status, taken.body.error.code]).toEqual([409, 'chat_unavailable'])
    expect(JSON.stringify(taken.body)).not.toContain('跑步群')
    // An admin links it: the chat's own directory entry is retired, the group shows once.
    const admin = await runtime.access.createToken({ name: 'admin-pair', role: 'admin', groupIds: [], allGroups: true, createdBy: 'test' })
    const linked = await as(api.put(path).send({ chatId: 'wrOnlyOfficial01' }), admin.token)
    expect(linked.status).toBe(200)
    expect(linked.body).toMatchObject({ groupId: ROOM, chatId: 'wrOnlyOfficial01', source: 'manual' })
    await runtime.processor.idle()
    expect((await runtime.directory.find('wrOnlyOfficial01'))?.active).toBe(false)
    expect((await runtime.directory.activeGroups()).map((g) => g.id)).toEqual([ROOM])
    expect((await runtime.wecomStore?.links('corp'))?.map((l) => [l.chatId, l.roomId, l.source])).toEqual([['wrOnlyOfficial01', ROOM, 'manual']])
    const audit = await as(api.get('/api/v1/audit-log'), admin.token)
    expect(JSON.stringify(audit.body)).toContain('wecom-link')
    // Unlinking is audited too.
    expect((await as(api.delete(path), owner.token)).status).toBe(200)
    expect(await runtime.wecomStore?.links('corp')).toEqual([])
  })
})
