import { Chat, type Person } from '../../../test/support/chat'
import { cleanup, COORDINATION, STORAGE } from '../../../test/support/env'
import { G1 } from '../../../test/support/groups'
import { STATS_REBUILD, type StatsRebuild } from '../../contracts/stats'
import { seededRandom } from '../../ports/random'
import { apiAs } from '../../../test/support/api'
import * as statsEvents from './stats.events'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB
// The generated community is ~75 messages through real wechaty, flushed as production does.
jest.setTimeout(180_000)

const MINUTE = 60_000
/** A time in Shanghai (the server runs in UTC). */
const shanghai = (date: string, time = '10:00:00'): number => Date.parse(`${date}T${time}+08:00`)
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨🌸' }
const alice: Person = { id: 'alice', name: 'Alice' }
const dan: Person = { id: 'dan', name: '小丹' }

/** Every message-derived rollup row of g1 on the range's days (sorted, as text), table by table. */
const TABLES: Array<[string, string]> = [
  ['qy_stats_group_day', 'group_id, day, messages, text_count, media_count, card_count, other_count, active'],
  ['qy_stats_group_hour', 'group_id, day, hour, weekday, messages, speakers'],
  ['qy_stats_member_day', 'group_id, day, member_id, week, messages, checkins, streak'],
  ['qy_stats_member_hour', 'group_id, day, hour, member_id'],
  ['qy_stats_term_day', 'group_id, day, term, n'],
  ['qy_stats_question_hour', 'group_id, day, hour, weekday, questions, resolved, by_autoreply'],
  ['qy_stats_answer_minute', 'group_id, day, minute, n'],
]

async function snapshot(chat: Chat, from: string, to: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const [table, columns] of TABLES) {
    const rows: Array<Record<string, unknown>> = await chat.runtime.db.query(`SELECT ${columns} FROM ${table} WHERE group_id = ? AND day >= ? AND day <= ?`, [G1, from, to])
    out[table] = rows.map((r) => Object.values(r).map(String).join('|')).sort()
  }
  const months: Array<Record<string, unknown>> = await chat.runtime.db.query('SELECT month, member_id, days FROM qy_stats_member_month WHERE group_id = ? ORDER BY month, member_id', [G1])
  out.qy_stats_member_month = months.map((r) => `${String(r.month)}|${String(r.member_id)}|${Number(r.days)}`)
  // The all-group rollups (every group of this database) follow the rebuilt group rows.
  for (const [table, columns] of [['qy_stats_all_day', 'day, messages, text_count, media_count, card_count, other_count, active'], ['qy_stats_all_hour', 'day, hour, weekday, messages, speakers']]) {
    const rows: Array<Record<string, unknown>> = await chat.runtime.db.query(`SELECT ${String(columns)} FROM ${String(table)} WHERE day >= ? AND day <= ?`, [from, to])
    out[String(table)] = rows.map((r) => Object.values(r).map(String).join('|')).sort()
  }
  return out
}

/**
 * Check-in counts and streaks of member-day rows come from events, delivered in batches apart from the
 * message path (the rehearsal's quiesce does not wait for them). `who` checks in on `day`: once that event
 * is applied, so is every earlier one (a consumer gets events in emission order), and a snapshot of the
 * live rollups is complete.
 */
async function checkInApplied(chat: Chat, who: Person, day: string): Promise<void> {
  await chat.group('g1').say(who, '签到')
  await chat.rehearsal.quiesce()
  const deadline = Date.now() + 30_000
  for (;;) {
    const rows: Array<{ checkins: number | string }> = await chat.runtime.db.query('SELECT checkins FROM qy_stats_member_day WHERE group_id = ? AND day = ? AND member_id = ?', [G1, day, who.id])
    if (Number(rows[0]?.checkins ?? 0) > 0) return
    if (Date.now() > deadline) throw new Error(`the check-in of ${who.id} on ${day} was not applied`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe(`stats rebuild from the message log (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('recomputes exactly the live rollups (also after they were damaged), twice in a row, and refuses today, days the log lost and a concurrent rebuild', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-28', '21:00:00'), http: true })
    const g1 = chat.group('g1')
    // Four local days across a month end, near midnight on both sides, with topics, questions and answers.
    await g1.say(bob, '直播回放在哪裡看？')
    await chat.rehearsal.advance(3 * MINUTE)
    await g1.say(carol, '群公告里有直播链接')
    await g1.say(alice, { type: 'image' })
    // Written as production does, within seconds (hour speakers are recounted from staging rows kept a few days).
    await chat.runtime.flush()
    await chat.rehearsal.advanceTo(shanghai('2026-11-29', '23:58:00'))
    await g1.say(carol, '明天的讀書會幾點開始')
    await chat.rehearsal.advance(4 * MINUTE)
    await g1.say(bob, '晚上八点 读书会 老地方')
    await chat.runtime.flush()
    await chat.rehearsal.advanceTo(shanghai('2026-11-30', '12:00:00'))
    await g1.say(alice, 'ＰＹＴＨＯＮ 入门课程 推荐')
    await g1.say(bob, 'python 课程 有没有 推荐的')
    await chat.runtime.flush()
    await chat.rehearsal.advanceTo(shanghai('2026-12-01', '23:58:30'))
    await g1.say(carol, '还有人在吗')
    await chat.rehearsal.advance(2 * MINUTE)
    await g1.say(alice, '在的 直播刚结束')
    await chat.runtime.flush()
    await chat.rehearsal.advanceTo(shanghai('2026-12-02', '10:00:00'))
    await g1.say(bob, '早')
    await chat.runtime.flush()

    const from = '2026-11-28'
    const to = '2026-12-01'
    const live = await snapshot(chat, from, to)
    // The live rollups are what the reports show (a quick sanity check of the fixture itself).
    expect(live.qy_stats_group_day).toHaveLength(4)
    expect(live.qy_stats_term_day.some((r) => r.startsWith(`${G1}|2026-11-30|python|2`))).toBe(true)
    expect(live.qy_stats_question_hour.map((r) => r.split('|').slice(1).join('|'))).toEqual(['2026-11-28|21|5|1|1|0', '2026-11-29|23|6|1|1|0', '2026-11-30|12|0|1|0|0', '2026-12-01|23|1|1|1|0'])

    const rebuild: StatsRebuild = chat.runtime.host.service(STATS_REBUILD)
    // Damage: doubled counters, lost terms, a wiped month mask, a stray hour.
    await chat.runtime.db.query('UPDATE qy_stats_group_day SET messages = messages * 2, active = 9 WHERE group_id = ?', [G1])
    await chat.runtime.db.query('DELETE FROM qy_stats_term_day WHERE group_id = ? AND day = ?', [G1, '2026-11-30'])
    await chat.runtime.db.query('UPDATE qy_stats_member_month SET days = 0 WHERE group_id = ? AND month = ?', [G1, '2026-11'])
    await chat.runtime.db.query('UPDATE qy_stats_group_hour SET speakers = 7 WHERE group_id = ?', [G1])
    // … and an all-group hour no group row backs (only the rebuild's recompute of its whole range removes it).
    await chat.runtime.db.query("INSERT INTO qy_stats_all_hour (day, hour, weekday, messages, speakers) VALUES ('2026-11-29', 3, 6, 5, 5)")
    expect(await snapshot(chat, from, to)).not.toEqual(live)

    const report = await rebuild.rebuild(G1, from, to)
    expect(report).toEqual({ groupId: G1, from, to, messages: 8, content: true, days: 4 })
    const rebuilt = await snapshot(chat, from, to)
    expect(rebuilt).toEqual(live)

    // Idempotent: again, same rows.
    await rebuild.rebuild(G1, from, to)
    expect(await snapshot(chat, from, to)).toEqual(rebuilt)

    // Refused: today; beyond the log's rows (message-metadata retention, 180 days by default); a rebuild already running for the group.
    await expect(rebuild.rebuild(G1, '2026-12-01', '2026-12-02')).rejects.toThrow(/only past days/)
    await expect(rebuild.rebuild(G1, '2026-05-01', '2026-05-02')).rejects.toThrow(/message log holds complete days from/)
    await expect(rebuild.rebuild('nope@chatroom', from, to)).rejects.toThrow(/no such group/)
    const fence = await chat.runtime.ports.leases.acquire(`stats.rebuild:${G1}`, 'someone-else', 60_000)
    expect(fence).not.toBeNull()
    await expect(rebuild.rebuild(G1, from, to)).rejects.toThrow(/another rebuild/)
  })

  it('rebuilds a generated community with commands and auto-reply answers to exactly the live rollups (the log says how each message was handled)', async () => {
    chat = await Chat.start({
      start: shanghai('2026-11-27', '20:00:00'), http: true,
      groups: [{ id: 'g1', name: '测试群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨🌸' }, { id: 'dan', name: '小丹' }] }],
      rules: { g1: { 'check-in': { batch: { windowMs: 0 } }, stats: { questions: { answerWithinMinutes: 15 } } } },
    })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    // An auto-reply with a group cooldown: some hits answer (resolving the question), some are only suppressed.
    await owner.post('/api/v1/auto-replies', { name: '价格', trigger: { type: 'contains', keywords: ['价格'] }, cooldown: { groupSeconds: 600 }, answer: { variants: [{ text: '课程价格是 99 元' }] } }).expect(201)
    const g1 = chat.group('g1')
    const people = [alice, bob, carol, dan]
    const lines = ['明天几点上课？', '有人去吗', '课程价格是多少', '怎么报名', '十点', '我去', '好的 收到', '直播 回放 已经 上传', '签到', '签到', '价格 贵不贵', '读书会 在 群公告']
    // Fixed opening: bob asks, carol's check-in is not an answer (a command), dan's reply is.
    await g1.say(bob, '读书会几点开始？')
    await chat.rehearsal.advance(MINUTE)
    await g1.say(carol, '签到')
    await chat.rehearsal.advance(2 * MINUTE)
    await g1.say(dan, '八点')
    const random = seededRandom(15)
    for (let i = 0; i < 70; i++) {
      // Mostly minutes apart, sometimes hours (the community spans local midnights).
      await chat.rehearsal.advance(random.next() < 0.15 ? Math.floor(random.next() * 5 * 60) * MINUTE : (1 + Math.floor(random.next() * 12)) * MINUTE)
      const who = people[Math.floor(random.next() * people.length)] as Person
      if (random.next() < 0.1) await g1.say(who, { type: 'image' })
      else await g1.say(who, lines[Math.floor(random.next() * lines.length)] as string)
      if (i % 5 === 4) { await chat.rehearsal.quiesce(); await chat.runtime.flush() }
    }
    await chat.rehearsal.advanceTo(shanghai('2026-12-02', '10:00:00'))
    await g1.say(bob, '早')
    await checkInApplied(chat, bob, '2026-12-02')
    await chat.runtime.flush()

    const from = '2026-11-27'
    const to = '2026-12-01'
    const live = await snapshot(chat, from, to)
    // The fixture has what a rebuild must tell apart: check-ins (commands), auto-reply answers and resolved questions.
    const handled: Array<Record<string, unknown>> = await chat.runtime.db.query('SELECT handled_by, auto_answered, COUNT(*) AS n FROM qy_message_log WHERE group_id = ? GROUP BY handled_by, auto_answered', [G1])
    const byHandling = Object.fromEntries(handled.map((r) => [`${String(r.handled_by)}/${Number(r.auto_answered)}`, Number(r.n)]))
    expect(byHandling['check-in/0']).toBeGreaterThan(2)
    expect(byHandling['auto-reply/1']).toBeGreaterThan(0)
    expect(byHandling['auto-reply/0']).toBeGreaterThan(0)
    const sum = (i: number): number => live.qy_stats_question_hour.reduce((a, r) => a + Number(r.split('|')[i]), 0)
    expect(sum(6)).toBeGreaterThan(0)
    expect(sum(5)).toBeGreaterThan(sum(6))

    // Damage everything the rebuild recomputes, then rebuild: the rows are the live ones.
    for (const table of ['qy_stats_term_day', 'qy_stats_question_hour', 'qy_stats_answer_minute']) await chat.runtime.db.query(`DELETE FROM ${table} WHERE group_id = ?`, [G1])
    await chat.runtime.db.query('UPDATE qy_stats_group_day SET messages = messages + 5 WHERE group_id = ?', [G1])
    const rebuild: StatsRebuild = chat.runtime.host.service(STATS_REBUILD)
    const report = await rebuild.rebuild(G1, from, to)
    expect(report.content).toBe(true)
    expect(await snapshot(chat, from, to)).toEqual(live)
  })

  it('counts an auto-reply answer at its message however late the batched event delivery runs, so live equals the rebuild', async () => {
    // The stats event consumer is held on its first batch (a slow write, as on a loaded database) while the
    // group's next messages go through: the auto-reply's event for the question waits behind it.
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => { release = resolve })
    const real = statsEvents.applyEvents
    const spy = jest.spyOn(statsEvents, 'applyEvents').mockImplementation(async (...args) => { await held; return real(...args) })
    try {
      chat = await Chat.start({
        start: shanghai('2026-11-27', '20:00:00'), http: true,
        groups: [{ id: 'g1', name: '测试群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨🌸' }, { id: 'dan', name: '小丹' }] }],
        rules: { g1: { 'check-in': { batch: { windowMs: 0 } }, stats: { questions: { answerWithinMinutes: 15 } } } },
      })
      const owner = await apiAs(chat, 'owner', { groups: [G1] })
      await owner.post('/api/v1/auto-replies', { name: '价格', trigger: { type: 'contains', keywords: ['价格'] }, answer: { variants: [{ text: '课程价格是 99 元' }] } }).expect(201)
      const g1 = chat.group('g1')
      // carol's check-in event is the batch the consumer is held on.
      await g1.say(carol, '签到')
      await chat.rehearsal.advance(MINUTE)
      // bob's question is answered by the auto-reply (0 minutes) …
      await g1.say(bob, '课程价格是多少')
      g1.expectReply(/课程价格是 99 元/)
      // … before dan speaks 2 minutes later (no answer of an open question: bob's is resolved already).
      await chat.rehearsal.advance(2 * MINUTE)
      await g1.say(dan, '八点')
      await chat.rehearsal.advance(20 * MINUTE)
      await g1.say(alice, '好的 收到')
      release()
      await chat.rehearsal.advanceTo(shanghai('2026-11-29', '10:00:00'))
      await checkInApplied(chat, bob, '2026-11-29')
      await chat.runtime.flush()

      const day = '2026-11-27'
      const live = await snapshot(chat, day, day)
      expect(live.qy_stats_question_hour).toEqual([`${G1}|${day}|20|4|1|1|1`])
      expect(live.qy_stats_answer_minute).toEqual([`${G1}|${day}|0|1`])
      const rebuild: StatsRebuild = chat.runtime.host.service(STATS_REBUILD)
      await rebuild.rebuild(G1, day, day)
      expect(await snapshot(chat, day, day)).toEqual(live)
    } finally {
      release()
      spy.mockRestore()
    }
  })
})
