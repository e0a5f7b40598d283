import { Chat, bob, carol } from './support/chat'
import { apiAs, type ApiClient } from './support/api'
import { cleanup, COORDINATION, STORAGE, captureLogger } from './support/env'
import { WITH_PROBE, brokenFeature, probeFeature, probeSeen } from './support/probe-feature'
import { FEATURES } from '../src/features'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

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
