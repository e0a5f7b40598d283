import { join } from 'node:path'
import { Chat, alice, bob, carol } from '../../../test/support/chat'
import { cleanup, COORDINATION, STORAGE, tempDir } from '../../../test/support/env'
import { WITH_PROBE } from '../../../test/support/probe-feature'
import type { IncomingMessage } from '../../kernel/context'

afterAll(cleanup)

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
