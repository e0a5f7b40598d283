import { join } from 'node:path'
import { Chat, alice, bob, carol } from '../../../test/support/chat'
import { cleanup, COORDINATION, STORAGE, tempDir } from '../../../test/support/env'
import { WITH_PROBE } from '../../../test/support/probe-feature'
import { defineFeature, FeatureStore } from '../../adapters/db/feature-store'
import { FEATURES } from '../../features'
import { CheckInCompleted } from '../../contracts/check-in'
import type { IncomingMessage, MessageType } from '../../kernel/context'
import { localTime } from '../../kernel/time'
import { ActivityBuffer, codePoints } from './activity.buffer'
import { ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity } from './activity.entity'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

type Daily = { member_id: string; day: string; messages: number; chars: number; text_count: number; media_count: number; card_count: number; other_count: number }

const rows_ = async <T>(chat: Chat, sql: string): Promise<T[]> => chat.runtime.db.query(sql) as Promise<T[]>
const rows = async <T>(chat: Chat, sql: string, params: unknown[] = []): Promise<T[]> => {
  const result: Array<Record<string, unknown>> = await chat.runtime.db.query(sql, params)
  // MySQL returns SUMs/bigints as strings: normalise numbers for comparisons.
  return result.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) && k !== 'day' && !k.endsWith('_id') && k !== 'id' ? Number(v) : v])) as T)
}

describe(`activity (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('counts days and hours in the group timezone while the server runs in UTC', async () => {
    // 23:59 in Shanghai is 15:59 UTC.
    chat = await Chat.start({ start: Date.parse('2026-11-23T15:59:00Z') })
    const g1 = chat.group('g1')
    await g1.say(bob, '晚安')
    await chat.rehearsal.advance(2 * 60_000) // 00:01 Shanghai, next day
    await g1.say(bob, '早')
    await chat.runtime.flush()
    const daily = await rows<Daily>(chat, 'SELECT member_id, day, messages FROM qy_activity_daily ORDER BY day')
    expect(daily).toEqual([
      { member_id: 'bob', day: '2026-11-23', messages: 1 },
      { member_id: 'bob', day: '2026-11-24', messages: 1 },
    ])
    const hourly = await rows<{ day: string; hour: number; messages: number }>(chat, 'SELECT day, hour, messages FROM qy_activity_hourly ORDER BY day')
    expect(hourly).toEqual([{ day: '2026-11-23', hour: 23, messages: 1 }, { day: '2026-11-24', hour: 0, messages: 1 }])
  })

  it('counts messages, characters and types per member per day', async () => {
    chat = await Chat.start({ start: Date.parse('2026-11-23T02:00:00Z') })
    const g1 = chat.group('g1')
    await g1.say(bob, '你好👍')
    await g1.say(bob, { type: 'image' })
    await g1.say(bob, { type: 'url', title: '报名链接', url: 'https://example.com/x' })
    await g1.say(carol, { type: 'miniprogram', title: '拼团' })
    await g1.say(carol, { type: 'file' })
    await chat.runtime.flush()
    const daily = await rows<Daily>(chat, 'SELECT member_id, messages, chars, text_count, media_count, card_count, other_count FROM qy_activity_daily ORDER BY member_id')
    expect(daily).toEqual([
      // '你好👍' is 3 characters; the link card counts its title (4).
      { member_id: 'bob', messages: 3, chars: 7, text_count: 1, media_count: 1, card_count: 1, other_count: 0 },
      { member_id: 'carol', messages: 2, chars: 2, text_count: 0, media_count: 1, card_count: 1, other_count: 0 },
    ])
    const log = await rows<{ type: string; text: string | null }>(chat, 'SELECT type, text FROM qy_message_log ORDER BY at, id')
    expect(log.map((l) => l.type).sort()).toEqual(['file', 'image', 'miniprogram', 'text', 'url'])
  })

  it('keeps only metadata in the message log when a group turns logText off', async () => {
    chat = await Chat.start({ rules: { g1: { activity: { logText: false } } } })
    await chat.group('g1').say(bob, '我的手机号是 13800000000')
    await chat.runtime.flush()
    const log = await rows<{ sender_id: string; text: string | null }>(chat, 'SELECT sender_id, text FROM qy_message_log')
    expect(log).toEqual([{ sender_id: 'bob', text: null }])
  })

  it('clears the message log\'s text after the message-text retention period and drops its rows after the metadata one, once per tick', async () => {
    chat = await Chat.start({ start: Date.parse('2026-11-01T02:00:00Z'), configOverrides: { retention: { classes: { 'message-text': { days: 30, maxDays: 30 }, 'message-metadata': { days: 60, maxDays: 60 } } } } })
    const g1 = chat.group('g1')
    await g1.say(bob, '很久以前')
    await chat.rehearsal.advance(29 * 86_400_000)
    await g1.say(bob, '最近')
    await chat.rehearsal.advance(2 * 86_400_000)
    await chat.runtime.flush()
    const tick = new Date(chat.clock.now())
    expect(await chat.runtime.scheduler.runFenced('retention.message-text', tick)).toBe('ran')
    expect(await chat.runtime.scheduler.runFenced('retention.message-text', tick)).toBe('skipped')
    // The text of the old message is gone; who posted when stays (message metadata) until its own boundary.
    const log = await rows<{ sender_id: string; text: string | null }>(chat, 'SELECT sender_id, text FROM qy_message_log ORDER BY at')
    expect(log).toEqual([{ sender_id: 'bob', text: null }, { sender_id: 'bob', text: '最近' }])
    expect(await chat.runtime.scheduler.runFenced('retention.message-metadata', tick)).toBe('ran')
    expect(await rows(chat, 'SELECT text FROM qy_message_log')).toHaveLength(2)
    await chat.rehearsal.advance(30 * 86_400_000)
    const later = new Date(chat.clock.now())
    expect(await chat.runtime.scheduler.runFenced('retention.message-metadata', later)).toBe('ran')
    expect(await rows(chat, 'SELECT text FROM qy_message_log')).toEqual([{ text: '最近' }])
    // Counters are aggregates without text: they stay.
    const daily = await rows<{ n: number }>(chat, 'SELECT SUM(messages) AS n FROM qy_activity_daily')
    expect(daily[0]?.n).toBe(2)
  })
})

describe(`flush guarantees (${STORAGE} + ${COORDINATION})`, () => {
  it('flush() covers everything recorded before the call, even while an earlier write is running', async () => {
    const chat = await Chat.start()
    try {
      const message = (i: number): IncomingMessage => ({
        id: `f-${i}`, botId: 'rehearsal', groupId: 'g1@chatroom', senderId: 'bob', senderName: '阿强', type: 'text',
        text: `第 ${i} 条`, mentions: [], mentionsBot: false, at: chat.clock.now(),
      })
      await Promise.all(Array.from({ length: 3000 }, (_, i) => chat.runtime.submit(message(i))))
      const running = chat.runtime.flush()
      await Promise.all(Array.from({ length: 3000 }, (_, i) => chat.runtime.submit(message(3000 + i))))
      await chat.runtime.flush()
      const rows = await rows_<{ n: number }>(chat, 'SELECT COUNT(*) AS n FROM qy_message_log')
      expect(Number(rows[0]?.n)).toBe(6000)
      await running
    } finally { await chat.close() }
  })
})

describe(`dedupe marks follow the effects (${STORAGE} + ${COORDINATION})`, () => {
  it('makes a mark durable only with a flush that wrote its message\'s effects (one processed while the buffers are written waits for the next)', async () => {
    // A feature flushed after the product's, holding the first flush open: activity's rows of that flush are written by then.
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => { release = resolve })
    let entered: () => void = () => undefined
    const inGate = new Promise<void>((resolve) => { entered = resolve })
    const gate = defineFeature({ name: 'gate', setup: () => ({ flush: async () => { entered(); await held } }) })
    const chat = await Chat.start({ features: [...FEATURES, gate] })
    try {
      const message = (id: string): IncomingMessage => ({
        id, botId: 'rehearsal', groupId: 'g1@chatroom', senderId: 'bob', senderName: '阿强', type: 'text',
        text: '收到', mentions: [], mentionsBot: false, at: chat.clock.now(),
      })
      const marked = async (id: string): Promise<boolean> => (await rows_<{ id: string }>(chat, `SELECT id FROM qy_seen_message WHERE id LIKE '%${id}'`)).length > 0
      const logged = async (id: string): Promise<boolean> => (await rows_<{ id: string }>(chat, `SELECT id FROM qy_message_log WHERE id = '${id}'`)).length > 0
      expect(await chat.runtime.submit(message('before-flush'))).toBe('processed')
      const running = chat.runtime.flush()
      await inGate
      // Processed while the flush is writing: its activity row is still in memory (a kill now loses it).
      expect(await chat.runtime.submit(message('during-flush'))).toBe('processed')
      release()
      await running
      expect({ logged: await logged('before-flush'), marked: await marked('before-flush') }).toEqual({ logged: true, marked: true })
      // Confirming its mark now would make the platform's redelivered copy (after a crash) a "duplicate": lost.
      expect({ logged: await logged('during-flush'), marked: await marked('during-flush') }).toEqual({ logged: false, marked: false })
      await chat.runtime.flush()
      expect({ logged: await logged('during-flush'), marked: await marked('during-flush') }).toEqual({ logged: true, marked: true })
    } finally { await chat.close() }
  })

  it('confirms a mark only once its message\'s events reached the batched consumers (a consumer lagging behind holds the mark back)', async () => {
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => { release = resolve })
    const taken: string[] = []
    const slow = defineFeature({
      name: 'slow-consumer', events: { consumes: [CheckInCompleted] },
      setup: () => ({ onEvents: async (events) => { await held; taken.push(...events.map((e) => e.id)) } }),
    })
    const chat = await Chat.start({ features: [...FEATURES, slow] })
    try {
      const marked = async (id: string): Promise<boolean> => (await rows_<{ id: string }>(chat, `SELECT id FROM qy_seen_message WHERE id LIKE '%${id}'`)).length > 0
      const id = await chat.group('g1').say(bob, '签到')
      chat.group('g1').expectReply(/签到成功/, bob)
      await chat.runtime.flush()
      // The check-in row is written; its event is still on its way to a consumer's buffer: a kill now would lose
      // that consumer's effect, so the mark is not made durable (the copy would be processed again, idempotently).
      expect(await marked(id)).toBe(false)
      release()
      await chat.runtime.flush()
      expect(taken).toHaveLength(1)
      expect(await marked(id)).toBe(true)
    } finally { await chat.close() }
  })
})

describe(`restarts (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('keeps counters and dedupe across a graceful restart', async () => {
    const dir = tempDir()
    chat = await Chat.start({ features: WITH_PROBE, sqlitePath: join(dir, 'restart.sqlite') })
    const g1 = chat.group('g1')
    const first = await g1.say(bob, 'ping')
    await g1.say(alice, '收到')
    g1.expectReply(/pong/)
    await chat.rehearsal.restart()
    // The platform re-delivers a message from before the restart: not processed again, not answered again.
    await chat.rehearsal.redeliver('g1', bob.id, 'ping', first)
    g1.expectNoReply()
    await g1.say(bob, '重启后的新消息')
    await chat.runtime.flush()
    const daily = await rows<{ member_id: string; messages: number }>(chat, 'SELECT member_id, SUM(messages) AS messages FROM qy_activity_daily GROUP BY member_id ORDER BY member_id')
    expect(daily).toEqual([{ member_id: 'alice', messages: 1 }, { member_id: 'bob', messages: 2 }])
  })

  it('resumes queued replies after a restart instead of losing them', async () => {
    const dir = tempDir()
    chat = await Chat.start({
      features: WITH_PROBE, sqlitePath: join(dir, 'resume.sqlite'),
      // One send per minute per group and a short drain: most replies are still queued at shutdown.
      configOverrides: { outbound: { perGroup: { perMinute: 1, burst: 1 } }, shutdown: { drainTimeoutMs: 100 } },
    })
    const g1 = chat.group('g1')
    for (const who of [alice, bob, carol]) void chat.rehearsal.world.say('g1', who.id, 'ping', `p-${who.id}`)
    await chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === 'p-carol')
    await chat.rehearsal.runtime.processor.idle()
    // Alice's reply goes out at once (the burst); bob's and carol's wait on the per-minute limit.
    // Waited for in real time only (no virtual time passes, so the limit holds): storing the action comes first.
    const sent = (): Array<string | undefined> => chat.pending().filter((a) => a.kind === 'say').map((a) => a.mentions?.[0])
    for (const deadline = Date.now() + 15_000; sent().length === 0 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(sent()).toEqual(['alice'])
    await chat.rehearsal.restart()
    await chat.rehearsal.advance(5 * 60_000)
    // The two replies still queued at shutdown are sent after the restart — once each.
    const after = chat.pending().filter((a) => a.kind === 'say').map((a) => a.mentions?.[0])
    expect(after.sort()).toEqual(['bob', 'carol'])
    g1.expectReply(/pong/, bob)
  })
})

describe(`counted once per message id (${STORAGE} + ${COORDINATION})`, () => {
  const TZ = 'Asia/Shanghai'
  const START = Date.parse('2026-11-23T02:00:00Z')
  const TYPES: MessageType[] = ['text', 'text', 'image', 'url', 'file', 'text', 'miniprogram']
  const COLUMN: Partial<Record<MessageType, string>> = { text: 'text_count', image: 'media_count', file: 'media_count', url: 'card_count', miniprogram: 'card_count' }
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  /** 2,500 messages (more than one SQLite slice and several MySQL parts) of 3 groups and 5 senders over two local days. */
  const message = (prefix: string, i: number): IncomingMessage => ({
    id: `${prefix}-${i}`, botId: 'rehearsal', groupId: `g${i % 3}@chatroom`, senderId: `m${i % 5}`, senderName: `成员 ${i % 5}`,
    type: TYPES[i % TYPES.length] as MessageType, text: i % 2 === 0 ? `第 ${i} 条👍` : '收到', mentions: [], mentionsBot: false, at: START + i * 30_000,
  })
  const store = (): FeatureStore => new FeatureStore(chat.runtime.db, 'activity', [ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity])

  /** The counters equal the brute-force count of the message log, which holds every message once. */
  async function expectCountersFromLog(messages: number): Promise<void> {
    const log = await rows<{ id: string; group_id: string; sender_id: string; type: MessageType; text: string; at: number }>(chat, 'SELECT id, group_id, sender_id, type, text, at FROM qy_message_log')
    expect(log).toHaveLength(messages)
    const daily: Record<string, Record<string, number>> = {}
    const hourly: Record<string, number> = {}
    for (const m of log) {
      const { day, hour } = localTime(Number(m.at), TZ)
      const d = (daily[`${m.group_id}|${m.sender_id}|${day}`] ??= { messages: 0, chars: 0, text_count: 0, media_count: 0, card_count: 0, other_count: 0 })
      d.messages = (d.messages ?? 0) + 1
      d.chars = (d.chars ?? 0) + codePoints(m.text)
      const column = COLUMN[m.type] ?? 'other_count'
      d[column] = (d[column] ?? 0) + 1
      hourly[`${m.group_id}|${day}|${hour}`] = (hourly[`${m.group_id}|${day}|${hour}`] ?? 0) + 1
    }
    const dailyRows = await rows<Daily & { group_id: string }>(chat, 'SELECT group_id, member_id, day, messages, chars, text_count, media_count, card_count, other_count FROM qy_activity_daily')
    expect(Object.fromEntries(dailyRows.map(({ group_id, member_id, day, ...counts }) => [`${group_id}|${member_id}|${day}`, counts]))).toEqual(daily)
    const hourlyRows = await rows<{ group_id: string; day: string; hour: number; messages: number }>(chat, 'SELECT group_id, day, hour, messages FROM qy_activity_hourly')
    expect(Object.fromEntries(hourlyRows.map((h) => [`${h.group_id}|${h.day}|${h.hour}`, h.messages]))).toEqual(hourly)
  }

  it('counts a message recorded again by another buffer over the same database once (redelivered after a crash lost its dedupe mark)', async () => {
    chat = await Chat.start({ sqlitePath: join(tempDir(), 'once.sqlite') })
    const first = new ActivityBuffer(store())
    const second = new ActivityBuffer(store())
    for (let i = 0; i < 2500; i++) first.record(message('r', i), TZ, true)
    // The second runtime processes the redelivered copies of 1,000 of them, one of them twice, while the first writes.
    for (let i = 1000; i < 2500; i++) second.record(message('r', i), TZ, true)
    second.record(message('r', 1200), TZ, true)
    await Promise.all([first.flush(), second.flush()])
    // Later, the first one sees 100 of them again.
    for (let i = 0; i < 100; i++) first.record(message('r', i), TZ, true)
    await first.flush()
    expect(first.pending + second.pending).toBe(0)
    // Each id logged and counted by exactly one of them; the other found it logged (1,500 + 100).
    expect(first.written.messages + second.written.messages).toBe(2500)
    expect(first.written.alreadyLogged + second.written.alreadyLogged).toBe(1600)
    await expectCountersFromLog(2500)
  })

  it('counts once a write retried after a commit whose outcome was lost', async () => {
    chat = await Chat.start({ sqlitePath: join(tempDir(), 'lost.sqlite') })
    // The first write of the buffer commits, then its connection fails before the outcome is known.
    const writes = new Set<string | symbol>(['write', 'transaction', 'upsertIncrement', 'insertIgnore', 'upsertRows'])
    let lost = false
    const lossy = new Proxy(store(), {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target)
        if (typeof value !== 'function') return value
        const fn = value as (...args: unknown[]) => unknown
        if (!writes.has(prop)) return fn.bind(target)
        return async (...args: unknown[]): Promise<unknown> => {
          const result = await fn.apply(target, args)
          if (!lost) {
            lost = true
            throw Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST' })
          }
          return result
        }
      },
    })
    const buffer = new ActivityBuffer(lossy)
    for (let i = 0; i < 2500; i++) buffer.record(message('l', i), TZ, true)
    await expect(buffer.flush()).rejects.toThrow(/Connection lost/)
    expect(lost).toBe(true)
    expect(buffer.pending).toBeGreaterThan(0)
    await buffer.flush()
    expect(buffer.pending).toBe(0)
    await expectCountersFromLog(2500)
  })
})
