import { InvitationReceived } from '../src/kernel/events'
import { Chat, alice, bob, carol } from './support/chat'
import { apiAs, type ApiClient } from './support/api'
import { cleanup, COORDINATION, STORAGE, captureLogger } from './support/env'
import { WITH_PROBE, brokenFeature, probeFeature, probeSeen } from './support/probe-feature'
import { FEATURES } from '../src/features'

afterAll(cleanup)

const count = async (chat: Chat, sql: string, params: unknown[] = []): Promise<number> => {
  const rows: Array<{ n: number | string }> = await chat.runtime.db.query(sql, params)
  return Number(rows[0]?.n ?? 0)
}

/** An admin creates a real auto-reply rule answering messages that contain 价格 (no cooldown); returns the admin. */
async function priceRule(chat: Chat, answer: string): Promise<ApiClient> {
  const admin = await apiAs(chat, 'admin')
  await admin.post('/api/v1/auto-replies', {
    name: '价格', trigger: { type: 'contains', keywords: ['价格'] }, cooldown: { groupSeconds: 0, memberSeconds: 0 }, answer: { variants: [{ text: answer }] },
  }).expect(201)
  return admin
}

describe(`conversations through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('answers, mentions the asker, and stays quiet otherwise', async () => {
    chat = await Chat.start({ features: WITH_PROBE })
    const g1 = chat.group('g1')
    await g1.say(bob, '大家好')
    g1.expectNoReply()
    await g1.say(bob, 'ping')
    g1.expectReply(/收到 pong（阿强）/, bob)
    g1.expectNoReply()
  })

  it('ignores its own messages and records everyone else', async () => {
    chat = await Chat.start({ features: WITH_PROBE })
    const g1 = chat.group('g1')
    await g1.say(bob, 'ping')
    g1.expectReply(/pong/)
    // The platform echoes the reply back from the bot's own account; the next message of the group is
    // processed after it would have been.
    await g1.say(carol, '好的')
    await chat.runtime.flush()
    expect(await count(chat, 'SELECT COUNT(*) AS n FROM qy_message_log')).toBe(2)
    expect(await count(chat, "SELECT COUNT(*) AS n FROM qy_activity_daily WHERE member_id = 'rehearsal'")).toBe(0)
    expect(await count(chat, 'SELECT COUNT(*) AS n FROM qy_activity_daily WHERE member_id = ?', [chat.rehearsal.world.botId])).toBe(0)
  })

  it('never answers or counts its own messages, though the platform echoes them back', async () => {
    // Answers that would trigger themselves: an auto-reply containing its own keyword, and a check-in
    // answer that is the check-in keyword. A bot hearing itself would answer forever.
    chat = await Chat.start({ http: true, rules: { g1: { 'check-in': { batch: { windowMs: 0 }, texts: { checkedIn: '签到' } } } } })
    await priceRule(chat, '课程价格请看群公告，价格每周更新')
    const g1 = chat.group('g1')
    await g1.say(bob, '价格是多少')
    g1.expectReply(/^课程价格请看群公告，价格每周更新$/)
    await g1.say(carol, '签到')
    g1.expectReply(/^@小雨🌸 签到$/, carol)
    // The echoes of both replies are read before this message (a group's messages keep their order).
    await g1.say(bob, '好的')
    g1.expectNoReply()
    const world = chat.rehearsal.world
    const echoes = [...world.mocker.cacheMessagePayload.values()].filter((p) => p.talkerId === world.botId)
    expect(echoes.map((p) => p.text)).toEqual(['课程价格请看群公告，价格每周更新', '@小雨🌸 签到'])
    await chat.runtime.flush()
    expect(await count(chat, 'SELECT COUNT(*) AS n FROM qy_message_log')).toBe(3)
    expect(await count(chat, 'SELECT COUNT(*) AS n FROM qy_activity_daily WHERE member_id = ?', [world.botId])).toBe(0)
    expect(await count(chat, 'SELECT COUNT(*) AS n FROM qy_checkin')).toBe(1)
  })

  it('runs moderation before auto-reply: an advert containing an answer keyword is warned, never answered', async () => {
    chat = await Chat.start({ http: true, rules: { g1: { moderation: { enabled: true } } } })
    const admin = await priceRule(chat, '课程价格请看群公告')
    const g1 = chat.group('g1')
    await g1.say(bob, '请问价格多少')
    g1.expectReply(/^课程价格请看群公告$/)
    await g1.say(carol, '兼职日结，价格面议，加V信 abc888')
    g1.expectReply(/请遵守群规：禁止发布广告和敏感内容（第 1 次提醒）/, carol)
    g1.expectNoReply()
    const events = await admin.get(`/api/v1/groups/${encodeURIComponent('g1@chatroom')}/moderation/events`).expect(200)
    const acted = events.body.items.filter((e: { action: string }) => e.action !== 'none')
    expect(acted.map((e: { memberId: string; action: string; strike: number }) => [e.memberId, e.action, e.strike])).toEqual([['carol', 'warn', 1]])
  })

  it('processes a message id delivered twice only once', async () => {
    chat = await Chat.start({ features: WITH_PROBE })
    const g1 = chat.group('g1')
    const id = await g1.say(bob, 'ping')
    await chat.rehearsal.redeliver('g1', bob.id, 'ping', id)
    g1.expectReply(/pong/)
    g1.expectNoReply()
    await chat.runtime.flush()
    expect(await count(chat, 'SELECT SUM(messages) AS n FROM qy_activity_daily')).toBe(1)
  })

  it('keeps the messages of one group in order and runs groups side by side', async () => {
    chat = await Chat.start({
      features: WITH_PROBE,
      groups: [
        { id: 'a', name: 'A', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: 'Bob' }] },
        { id: 'b', name: 'B', members: [{ id: 'carol', name: 'Carol', role: 'owner' }] },
      ],
    })
    probeSeen.length = 0
    const ids: string[] = []
    // Fire without waiting between messages: the adapter and the per-group queue must keep the order.
    for (let i = 0; i < 30; i++) ids.push(chat.rehearsal.world.say('a', i % 2 ? 'alice' : 'bob', `msg ${i}`, `a-${i}`))
    for (let i = 0; i < 10; i++) chat.rehearsal.world.say('b', 'carol', `msg ${i}`, `b-${i}`)
    await chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === 'a-29')
    await chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === 'b-9')
    await chat.rehearsal.quiesce()
    expect(probeSeen.filter((id) => id.startsWith('a-'))).toEqual(ids)
    expect(probeSeen.filter((id) => id.startsWith('b-'))).toEqual(Array.from({ length: 10 }, (_, i) => `b-${i}`))
  })

  it('removes and tags through the outbound queue, and records a failed removal', async () => {
    chat = await Chat.start({ features: WITH_PROBE })
    const g1 = chat.group('g1')
    await g1.say(carol, 'kick me')
    g1.expectRemoved(carol)
    expect(chat.rehearsal.world.members('g1')).not.toContain('carol')
    await g1.say(bob, 'tag me')
    chat.take((a) => a.kind === 'tag' && a.memberId === 'bob' && a.tag === 'vip', 'tag vip on bob')
    // The platform refuses the next removal (bot not an admin): recorded as failed, nothing retried forever.
    chat.rehearsal.world.puppet.failures.push({ kind: 'remove', error: new Error('permission denied: bot is not a group admin'), times: 1 })
    await g1.say(bob, 'kick me')
    expect(chat.rehearsal.world.members('g1')).toContain('bob')
    const rows: Array<{ status: string; error: string; attempts: number }> = await chat.runtime.db.query("SELECT status, error, attempts FROM qy_outbound WHERE kind = 'remove' ORDER BY id")
    expect(rows.map((r) => r.status)).toEqual(['sent', 'failed'])
    expect(rows[1]?.error).toMatch(/not a group admin/)
    expect(Number(rows[1]?.attempts)).toBe(1)
  })

  it('retries a transient send failure', async () => {
    chat = await Chat.start({ features: WITH_PROBE })
    const g1 = chat.group('g1')
    chat.rehearsal.world.puppet.failures.push({ kind: 'say', error: new Error('request timeout'), times: 2 })
    await g1.say(bob, 'ping')
    g1.expectReply(/pong/)
    const rows: Array<{ status: string; attempts: number }> = await chat.runtime.db.query("SELECT status, attempts FROM qy_outbound WHERE kind = 'say'")
    expect(rows).toEqual([{ status: 'sent', attempts: 3 }])
  })

  it('keeps going when one feature throws (error boundary per feature)', async () => {
    const log = captureLogger()
    const features = [brokenFeature, ...FEATURES, probeFeature]
    chat = await Chat.start({ features, log })
    const g1 = chat.group('g1')
    await g1.say(bob, 'ping')
    g1.expectReply(/pong/)
    await g1.say(bob, 'boom')
    await chat.runtime.flush()
    expect(await count(chat, 'SELECT SUM(messages) AS n FROM qy_activity_daily')).toBe(2)
    const failures = log.lines.filter((l) => l.message === 'feature failed on message')
    expect(failures.map((l) => l.meta.feature)).toEqual(['broken', 'broken', 'probe'])
    expect(failures[0]?.meta).toMatchObject({ bot: 'rehearsal', group: 'g1@chatroom' })
    // Message text never reaches the logs at info level or above.
    expect(JSON.stringify(log.lines.filter((l) => l.level !== 'debug'))).not.toContain('boom"')
  })
})

describe(`groups registry (${STORAGE})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('registers groups and members with roles at login', async () => {
    chat = await Chat.start({
      groups: [{ id: 'g1', name: '测试群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强', role: 'admin' }, { id: 'carol', name: '小雨🌸' }] }],
    })
    const groups: Array<{ id: string; name: string; owner_id: string; member_count: number }> = await chat.runtime.db.query('SELECT id, name, owner_id, member_count FROM qy_group')
    expect(groups).toEqual([{ id: 'g1@chatroom', name: '测试群', owner_id: 'alice', member_count: 3 }])
    const members: Array<{ member_id: string; role: string; name: string }> = await chat.runtime.db.query('SELECT member_id, role, name FROM qy_member ORDER BY member_id')
    expect(members).toEqual([
      { member_id: 'alice', role: 'owner', name: 'Alice' },
      { member_id: 'bob', role: 'admin', name: '阿强' },
      { member_id: 'carol', role: 'member', name: '小雨🌸' },
    ])
  })

  it('records joins with inviter and time, leaves, and renames', async () => {
    chat = await Chat.start()
    const g1 = chat.group('g1')
    const dave = { id: 'dave', name: '新同学' }
    await chat.rehearsal.advance(60_000)
    const joinedAt = chat.clock.now()
    await g1.join([dave], alice)
    await g1.leave([carol])
    await g1.rename('测试群·二期', alice)
    const dm: Array<{ joined_at: string | number; inviter_id: string; active: number | boolean }> = await chat.runtime.db.query("SELECT joined_at, inviter_id, active FROM qy_member WHERE member_id = 'dave'")
    expect(Number(dm[0]?.joined_at)).toBe(joinedAt)
    expect(dm[0]?.inviter_id).toBe('alice')
    const cm: Array<{ active: number | boolean }> = await chat.runtime.db.query("SELECT active FROM qy_member WHERE member_id = 'carol'")
    expect(Boolean(cm[0]?.active)).toBe(false)
    const events: Array<{ kind: string; member_id: string | null; actor_id: string | null }> = await chat.runtime.db.query('SELECT kind, member_id, actor_id FROM qy_group_event ORDER BY id')
    expect(events).toEqual([
      { kind: 'joined', member_id: 'dave', actor_id: 'alice' },
      { kind: 'left', member_id: 'carol', actor_id: 'carol' },
      { kind: 'renamed', member_id: null, actor_id: 'alice' },
    ])
    const g: Array<{ name: string; member_count: number }> = await chat.runtime.db.query('SELECT name, member_count FROM qy_group')
    expect(g).toEqual([{ name: '测试群·二期', member_count: 3 }])
    // A message from the newcomer carries their join time into the pipeline.
    await g1.say(dave, '大家好')
  })

  it('stores a member first seen through a message', async () => {
    chat = await Chat.start()
    chat.rehearsal.world.contact('ghost', '潜水员')
    await chat.group('g1').say({ id: 'ghost', name: '潜水员' }, '冒个泡')
    const rows: Array<{ name: string; joined_at: unknown }> = await chat.runtime.db.query("SELECT name, joined_at FROM qy_member WHERE member_id = 'ghost'")
    expect(rows).toEqual([{ name: '潜水员', joined_at: null }])
  })

  it('accepts room invitations from allowed inviters only', async () => {
    chat = await Chat.start({ configOverrides: { groups: { acceptInvitations: true, inviterAllowlist: ['alice'] } } })
    const world = chat.rehearsal.world
    world.contact('mallory', 'Mallory')
    world.mocker.createRoom({ id: 'new-room@chatroom', topic: '新群', memberIdList: ['alice', 'mallory'] })
    world.mocker.createRoom({ id: 'spam-room@chatroom', topic: '广告群', memberIdList: ['mallory'] })
    const joined = chat.rehearsal.waitFor((o) => o.kind === 'event' && o.event.type === 'group.synced' && o.event.groupId === 'new-room@chatroom')
    world.puppet.invite({ id: 'inv-1', inviterId: 'alice', roomId: 'new-room@chatroom', topic: '新群', memberCount: 2 })
    await joined
    const declined = chat.rehearsal.waitFor((o) => o.kind === 'event' && InvitationReceived.is(o.event) && o.event.invitationId === 'inv-2')
    world.puppet.invite({ id: 'inv-2', inviterId: 'mallory', roomId: 'spam-room@chatroom', topic: '广告群', memberCount: 1 })
    await declined
    await chat.rehearsal.quiesce()
    expect(chat.pending().filter((a) => a.kind === 'acceptInvitation').map((a) => a.invitationId)).toEqual(['inv-1'])
    const groups: Array<{ id: string }> = await chat.runtime.db.query('SELECT id FROM qy_group ORDER BY id')
    expect(groups.map((g) => g.id)).toEqual(['g1@chatroom', 'new-room@chatroom'])
    const events: Array<{ kind: string }> = await chat.runtime.db.query("SELECT kind FROM qy_group_event WHERE kind LIKE 'invitation%' ORDER BY id")
    expect(events.map((e) => e.kind)).toEqual(['invitation_accepted', 'invitation_declined'])
  })
})

describe(`directory names (${STORAGE})`, () => {
  it('keeps every member’s own name after a multi-row sync (ids that sort differently from insertion order)', async () => {
    const crowd = Array.from({ length: 12 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    const chat = await Chat.start({ groups: [{ id: 'g1', name: 'x', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, ...crowd] }] })
    try {
      const directory = chat.runtime.directory
      for (const m of crowd) expect((await directory?.member('g1@chatroom', m.id, '?'))?.name).toBe(m.name)
    } finally { await chat.close() }
  })
})
