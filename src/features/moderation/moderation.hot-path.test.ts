import { join } from 'node:path'
import { Chat, type Person } from '../../../test/support/chat'
import { apiAs } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE, tempDir } from '../../../test/support/env'
import { recordStatements } from '../../../test/support/statements'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const G1 = 'g1@chatroom'
const alice: Person = { id: 'alice', name: 'Alice' }
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }
const mallory: Person = { id: 'mallory', name: '新来的' }
const START = Date.parse('2026-11-23T10:00:00+08:00')
const DAY = 86_400_000


describe(`moderation's message path in the steady state (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('runs no query per message, violations included: strikes from memory, events written with the flush', async () => {
    chat = await Chat.start({
      http: true, start: START,
      // No timer flush inside the measured stretch: the test flushes itself.
      configOverrides: { activity: { flushIntervalMs: 60_000 } },
      groups: [{ id: 'g1', name: '读书会', members: [
        { id: 'alice', name: 'Alice', role: 'owner' as const, joinedAt: START - 400 * DAY },
        { id: 'bob', name: '阿强', joinedAt: START - 100 * DAY },
        { id: 'carol', name: '小雨', joinedAt: START - 30 * DAY },
        { id: 'mallory', name: '新来的', joinedAt: START - 30 * DAY },
      ] }],
    })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    await owner.put(`/api/v1/groups/${encodeURIComponent(G1)}/moderation`, { rules: { enabled: true, flood: { enabled: false }, duplicates: { enabled: false } } }).expect(200)
    const g1 = chat.group('g1')
    // Warm-up: caches filled (directory, rules, matchers, auto-reply index), carol's first strike.
    await g1.say(alice, '大家好')
    await g1.say(carol, '资料请 加.V.信 领取')
    g1.expectReply(/第 1 次提醒/, carol)
    await chat.runtime.flush()

    const recorded = recordStatements(chat)
    await g1.say(bob, '今天读到第三章了')
    await g1.say(carol, '加 v 信 看看')
    g1.expectReply(/最后一次提醒/, carol)
    await g1.say(mallory, '加微信领红包')
    g1.expectReply(/第 1 次提醒/, mallory)
    await g1.say(bob, '好的，明天继续')
    recorded.stop()
    // The outbound queue keeps its own durable record of each reply (one row per action); moderation's
    // strikes and events, activity and dedupe wait for the flush. (Scoped to their tables: the features
    // that landed later — tagging's first-message-of-the-day read, its history rows — are measured by
    // bench/pipeline, not held to this here.)
    const mine = /qy_moderation_event|qy_strike_reset|qy_word_list|qy_activity_daily|qy_activity_hourly|qy_message_log|qy_seen_message|qy_group_rule|qy_rule_version/
    expect(recorded.statements.filter((sql) => mine.test(sql))).toEqual([])

    // Nothing is lost: the flush writes the events, and the ladder counted from memory.
    const events = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/events`).expect(200)
    const counted = events.body.items.filter((e: { strike: number | null }) => e.strike !== null)
    expect(counted.map((e: { memberId: string; action: string; strike: number }) => [e.memberId, e.action, e.strike]))
      .toEqual([['mallory', 'warn', 1], ['carol', 'final_warning', 2], ['carol', 'warn', 1]])
  })

  it('with every feature on (the default rule pack, moderation on) runs no query per message: first message of the day, violations and chat', async () => {
    chat = await Chat.start({
      http: true, start: START,
      configOverrides: { activity: { flushIntervalMs: 60_000 } },
      groups: [{ id: 'g1', name: '读书会', members: [
        { id: 'alice', name: 'Alice', role: 'owner' as const, joinedAt: START - 400 * DAY },
        { id: 'bob', name: '阿强', joinedAt: START - 100 * DAY },
        { id: 'carol', name: '小雨', joinedAt: START - 30 * DAY },
        { id: 'mallory', name: '新来的', joinedAt: START - 30 * DAY },
      ] }],
    })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    await owner.put(`/api/v1/groups/${encodeURIComponent(G1)}/moderation`, { rules: { enabled: true, flood: { enabled: false }, duplicates: { enabled: false } } }).expect(200)
    const g1 = chat.group('g1')
    // Warm-up, day 1: the group's caches (directory, rules, matchers), everyone speaks once, carol's first strike.
    await g1.say(alice, '大家好')
    await g1.say(bob, '早')
    await g1.say(mallory, '大家好呀')
    await g1.say(carol, '资料请 加.V.信 领取')
    g1.expectReply(/第 1 次提醒/, carol)
    await chat.runtime.flush()
    // Day 2: the first message of the day in the group (alice's) may read what the group needs for the day.
    await chat.clock.advance(DAY)
    await g1.say(alice, '早上好')
    await chat.runtime.flush()

    // Bob, carol and mallory speak for the first time today (tagging's once-a-day lifecycle check), carol and
    // mallory violate (moderation's strikes, tagging's timeline), chat goes through stats, share lift,
    // lottery (its keyword with no lottery open) and auto-reply.
    const recorded = recordStatements(chat)
    await g1.say(bob, '今天读到第三章了')
    await g1.say(carol, '加 v 信 看看')
    g1.expectReply(/最后一次提醒/, carol)
    await g1.say(mallory, '加微信领红包')
    g1.expectReply(/第 1 次提醒/, mallory)
    await g1.say(bob, '好的，明天继续')
    await g1.say(alice, '参与抽奖')
    recorded.stop()
    // Written at once: the outbound queue's own durable record of each reply (one row per action), and the
    // stats rollups of events (joins, strikes, replies …, and the all-groups day row recomputed from the group
    // rows that batch touched, and the running totals of the touched groups' and members' days), which the batched event bus delivers after the chain, off the message path,
    // one transaction per delivered batch. Nothing else: the message steps'
    // reads and writes (tagging's first message of the day included) are served from memory and the flush.
    const offPath = /qy_outbound|qy_stats_event|qy_stats_rule_day|qy_stats_group_day \(group_id,\s*day,\s*joins|qy_stats_all_day \(day[,)]|qy_stats_(group|member)_running|^(BEGIN|START TRANSACTION|COMMIT|ROLLBACK)/
    expect(recorded.statements.filter((sql) => !offPath.test(sql))).toEqual([])

    // Nothing is lost: the flush writes the strikes into the members' timelines (tagging) and the events (moderation).
    await chat.runtime.flush()
    const strikes = async (id: string) => ((await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/members/${id}`).expect(200)).body as { timeline: Array<{ kind: string; detail: string }> })
      .timeline.filter((t) => t.kind === 'strike').map((t) => t.detail)
    expect(await strikes('carol')).toEqual(['final_warning (strike 2): words', 'warn (strike 1): words'])
    expect(await strikes('mallory')).toEqual(['warn (strike 1): words'])
    const events = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/events`).expect(200)
    expect(events.body.items.filter((e: { strike: number | null }) => e.strike !== null).map((e: { memberId: string; strike: number }) => [e.memberId, e.strike]))
      .toEqual([['mallory', 1], ['carol', 2], ['carol', 1]])
  })

  it('serves strikes recorded before a restart from the book it loads at start', async () => {
    chat = await Chat.start({ http: true, start: START, sqlitePath: join(tempDir(), 'strikes.sqlite'), groups: [{ id: 'g1', name: '读书会', members: [
      { id: 'alice', name: 'Alice', role: 'owner' as const, joinedAt: START - 400 * DAY },
      { id: 'carol', name: '小雨', joinedAt: START - 30 * DAY },
    ] }] })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    await owner.put(`/api/v1/groups/${encodeURIComponent(G1)}/moderation`, { rules: { enabled: true, flood: { enabled: false }, duplicates: { enabled: false } } }).expect(200)
    const g1 = chat.group('g1')
    await g1.say(carol, '加微信领红包')
    g1.expectReply(/第 1 次提醒/, carol)
    await chat.rehearsal.restart()
    await chat.group('g1').say(carol, '加v信看看')
    chat.group('g1').expectReply(/最后一次提醒/, carol)
  })
})
