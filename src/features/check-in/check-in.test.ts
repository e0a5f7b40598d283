import { join } from 'node:path'
import fc from 'fast-check'
import { Chat, type Person } from '../../../test/support/chat'
import { apiAs } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE, tempDir, testConfig } from '../../../test/support/env'
import type { RehearsalGroup } from '../../simulation/rehearsal'
import { CheckInService, checkInDay, currentStreak, streakOf } from './check-in.service'
import { CheckInRuleSchema } from './check-in.rules'
import { parseMakeUpDay } from './check-in.commands'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../adapters/db/data-source'
import { FeatureStore } from '../../adapters/db/feature-store'
import { checkInFeature } from './index'
import { addDays } from '../../kernel/time'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const DAY = 86_400_000
const alice: Person = { id: 'alice', name: 'Alice' }
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }

/** 09:00 in Shanghai on a date (the server runs in UTC). */
const shanghai = (date: string, time = '09:00'): number => Date.parse(`${date}T${time}:00+08:00`)

function group(extra: RehearsalGroup['members'] = []): RehearsalGroup[] {
  return [{ id: 'g1', name: '打卡群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }, ...extra] }]
}

/** A chat whose check-in rules are the defaults plus `rules`, answers not batched unless asked. */
function start(opts: { at: number; rules?: Record<string, unknown>; groups?: RehearsalGroup[]; sqlitePath?: string; http?: boolean }): Promise<Chat> {
  return Chat.start({ start: opts.at, groups: opts.groups ?? group(), sqlitePath: opts.sqlitePath, http: opts.http, rules: { g1: { 'check-in': { batch: { windowMs: 0 }, ...opts.rules } } } })
}

describe(`check-ins through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('checks in once a day with rank, streak, total and points; a second attempt gets its rank back', async () => {
    chat = await start({ at: shanghai('2026-11-23') })
    const g1 = chat.group('g1')
    await g1.say(bob, '签到')
    // wechaty puts the @-mention in front of the text.
    g1.expectReply(/^@阿强 签到成功！今天第 1 个签到，连续签到 1 天，累计 1 天，\+10 积分$/, bob)
    await g1.say(alice, '打卡！')
    g1.expectReply(/今天第 2 个签到/, alice)
    await g1.say(bob, ' 签 到 ')
    g1.expectReply(/今天已经签到过啦（今天第 1 个），连续 1 天/, bob)
    await g1.say(carol, '签到了吗大家')
    g1.expectNoReply()
    const rows: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_checkin')
    expect(Number(rows[0]?.n)).toBe(2)
  })

  it('answers check-ins written the way members write them, and not chat that merely contains the keyword', async () => {
    // WeChat emoji codes (the simulated community sends them too), emoji, traditional characters, width, @-mentions.
    const variants = ['签到[呲牙]', '签到 [强]', '簽到', '打卡✅', '签到！', '@群运助手\u2005签到', 'ＱＤ', '打卡[OK]', '［玫瑰］签到', '簽 到[Smile]']
    const members = variants.map((_, i) => ({ id: `v${i}`, name: `成员${i}` }))
    chat = await start({ at: shanghai('2026-11-23'), groups: group(members), rules: { keywords: ['签到', '打卡', 'qd'] } })
    const g1 = chat.group('g1')
    for (const [i, text] of variants.entries()) {
      const member = members[i] as Person
      await g1.say(member, text.startsWith('@') ? { text, mentions: ['qunyun-bot'] } : text)
      g1.expectReply(new RegExp(`^@${member.name} 签到成功！今天第 ${i + 1} 个签到`), member)
    }
    const chatter = [
      '今天也来签到一下吧', '[公告]签到', '签到[公告]', '签到签到', '[强]', '👍', '[强][强][强]',
      '大家早上好，今天的阅读任务是第三章，读完记得来签到打卡哦，有问题随时在群里问，明天见', // longer than any command
    ]
    for (const text of chatter) {
      await g1.say(bob, text)
      g1.expectNoReply()
    }
    const rows: Array<{ member_id: string }> = await chat.runtime.db.query('SELECT member_id FROM qy_checkin ORDER BY member_id')
    expect(rows.map((r) => r.member_id)).toEqual(members.map((m) => m.id).sort())
  })

  it('counts days in the group timezone while the server runs in UTC (23:59 vs 00:01 Shanghai)', async () => {
    chat = await start({ at: shanghai('2026-11-23', '23:59') })
    const g1 = chat.group('g1')
    await g1.say(bob, '签到')
    g1.expectReply(/连续签到 1 天/)
    await chat.rehearsal.advance(2 * 60_000)
    await g1.say(bob, '签到')
    g1.expectReply(/今天第 1 个签到，连续签到 2 天，累计 2 天/)
    const days: Array<{ day: string }> = await chat.runtime.db.query('SELECT day FROM qy_checkin ORDER BY day')
    expect(days.map((d) => d.day)).toEqual(['2026-11-23', '2026-11-24'])
  })

  it('honours a custom day start (04:00): 03:59 still belongs to yesterday', async () => {
    chat = await start({ at: shanghai('2026-11-24', '03:59'), rules: { dayStart: '04:00' } })
    const g1 = chat.group('g1')
    await g1.say(bob, '签到')
    await chat.rehearsal.advance(2 * 60_000)
    await g1.say(bob, '签到')
    g1.expectReply(/连续签到 1 天/)
    g1.expectReply(/连续签到 2 天/)
    const days: Array<{ day: string }> = await chat.runtime.db.query('SELECT day FROM qy_checkin ORDER BY day')
    expect(days.map((d) => d.day)).toEqual(['2026-11-23', '2026-11-24'])
  })

  it('follows daylight saving time in America/New_York', async () => {
    // 2026-03-07 23:30 EST = 04:30Z on the 8th.
    chat = await start({ at: Date.parse('2026-03-08T04:30:00Z'), http: true })
    const admin = await apiAs(chat, 'admin')
    await admin.patch('/api/v1/groups/g1%40chatroom', { timezone: 'America/New_York' }).expect(200)
    const g1 = chat.group('g1')
    await g1.say(bob, '签到') // 03-07
    await chat.rehearsal.advanceTo(Date.parse('2026-03-08T05:30:00Z')) // 03-08 00:30 EST
    await g1.say(bob, '签到')
    await chat.rehearsal.advanceTo(Date.parse('2026-03-09T03:30:00Z')) // 03-08 23:30 EDT: same day
    await g1.say(bob, '签到')
    // 03-09 00:30 EDT = 04:30Z; a fixed UTC-5 offset would still say 03-08 23:30.
    await chat.rehearsal.advanceTo(Date.parse('2026-03-09T04:30:00Z'))
    await g1.say(bob, '签到')
    g1.expectReply(/连续签到 1 天/)
    g1.expectReply(/连续签到 2 天/)
    g1.expectReply(/已经签到过啦/)
    g1.expectReply(/连续签到 3 天/)
    const days: Array<{ day: string }> = await chat.runtime.db.query('SELECT day FROM qy_checkin ORDER BY day')
    expect(days.map((d) => d.day)).toEqual(['2026-03-07', '2026-03-08', '2026-03-09'])
  })

  it('keeps streaks across month and year ends, breaks them on a missed day, and pays the 7-day bonus', async () => {
    chat = await start({ at: shanghai('2026-12-26') })
    const g1 = chat.group('g1')
    for (let i = 0; i < 8; i++) {
      await g1.say(bob, '签到')
      await chat.rehearsal.advance(DAY)
    }
    const replies = chat.pending().filter((a) => a.kind === 'say').map((a) => a.text ?? '')
    expect(replies[5]).toMatch(/连续签到 6 天/) // 12-31
    expect(replies[6]).toMatch(/连续签到 7 天，累计 7 天，\+30 积分/) // 2027-01-01, 7th day: 10 + 20 bonus
    expect(replies[7]).toMatch(/连续签到 8 天/)
    chat.skip()
    await chat.rehearsal.advance(DAY) // miss one day
    await g1.say(bob, '签到')
    g1.expectReply(/连续签到 1 天，累计 9 天/)
  })

  it('processes a re-delivered check-in message once', async () => {
    chat = await start({ at: shanghai('2026-11-23') })
    const g1 = chat.group('g1')
    const id = await g1.say(bob, '签到')
    await chat.rehearsal.redeliver('g1', bob.id, '签到', id)
    g1.expectReply(/签到成功/)
    g1.expectNoReply()
    const ledger: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_points_ledger')
    expect(Number(ledger[0]?.n)).toBe(1)
  })

  it('makes one check-in from two simultaneous messages of one member', async () => {
    chat = await start({ at: shanghai('2026-11-23') })
    const world = chat.rehearsal.world
    world.say('g1', bob.id, '签到', 'twin-1')
    world.say('g1', bob.id, '打卡', 'twin-2')
    await chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === 'twin-2')
    await chat.rehearsal.waitFor((o) => o.kind === 'message' && o.id === 'twin-1')
    await chat.rehearsal.quiesce()
    const texts = chat.pending().filter((a) => a.kind === 'say').map((a) => a.text ?? '')
    expect(texts.filter((t) => t.includes('签到成功！')).length).toBe(1)
    expect(texts.filter((t) => t.includes('已经签到过啦')).length).toBe(1)
    // And at the storage level, two concurrent attempts (as two replicas would make) still make one.
    const service = new CheckInService(new FeatureStore(chat.runtime.db, checkInFeature.name, checkInFeature.entities ?? []))
    const rule = CheckInRuleSchema.parse({})
    const both = await Promise.all([1, 2].map((i) => service.checkIn({ groupId: 'g1@chatroom', memberId: 'carol', name: '小雨', day: '2026-11-23', at: Date.now(), messageId: `c${i}`, rule })))
    expect(both.map((r) => r.status).sort()).toEqual(['already', 'new'])
  })

  it('makes up missed days from the variants members write (emoji codes, traditional, mention, punctuation)', async () => {
    chat = await start({ at: shanghai('2026-11-24'), rules: { makeUp: { windowDays: 7, cost: 'points', pointsCost: 0 } } })
    const g1 = chat.group('g1')
    await g1.say(bob, '补签[呲牙] 昨天')
    g1.expectReply(/^@阿强 补签 2026-11-23 成功/, bob)
    await g1.say(bob, '補簽 前天')
    g1.expectReply(/补签 2026-11-22 成功/, bob)
    await g1.say(bob, { text: '@群运助手\u2005补签 11-21[强]', mentions: ['qunyun-bot'] })
    g1.expectReply(/补签 2026-11-21 成功/, bob)
    await g1.say(bob, '补 签！11月20日✅')
    g1.expectReply(/补签 2026-11-20 成功/, bob)
    await g1.say(bob, '[玫瑰]补签 19號')
    g1.expectReply(/补签 2026-11-19 成功，消耗 0 积分，当前连续签到 5 天/, bob)
    await g1.say(bob, '补签[强]')
    g1.expectReply(/补签格式/, bob)
    const days: Array<{ day: string }> = await chat.runtime.db.query("SELECT day FROM qy_checkin WHERE member_id = 'bob' ORDER BY day")
    expect(days.map((d) => d.day)).toEqual(['2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23'])
  })

  it('keeps the day across a restart', async () => {
    chat = await start({ at: shanghai('2026-11-23'), sqlitePath: join(tempDir(), 'checkin.sqlite') })
    const g1 = chat.group('g1')
    await g1.say(alice, '签到')
    await g1.say(bob, '签到')
    await chat.rehearsal.restart()
    await chat.rehearsal.advance(3 * 3_600_000)
    await g1.say(bob, '签到')
    g1.expectReply(/已经签到过啦（今天第 2 个）/, bob)
    await g1.say(carol, '签到')
    g1.expectReply(/今天第 3 个签到/, carol)
  })

  it('makes up a missed day within the rules, recomputing the streak', async () => {
    chat = await start({
      at: shanghai('2026-11-20'),
      groups: group([{ id: 'dave', name: '新人', joinedAt: shanghai('2026-11-22', '08:00') }]),
      rules: { makeUp: { windowDays: 7, cost: 'points', pointsCost: 15 } },
    })
    const g1 = chat.group('g1')
    await g1.say(bob, '签到') // 11-20: +10
    await chat.rehearsal.advance(2 * DAY)
    await g1.say(bob, '签到') // 11-22: +10, streak 1 (21st missed)
    chat.skip()
    await g1.say(bob, '补签 2026-11-25')
    g1.expectReply(/不能补签今天或以后的日期/, bob)
    await g1.say(bob, '补签 11-22') // today: not a missed day
    g1.expectReply(/不能补签今天或以后的日期/, bob)
    await g1.say(bob, '补签 11-01')
    g1.expectReply(/只能补签最近 7 天内的日期/, bob)
    await g1.say(bob, '补签 前天') // 11-20: checked in already
    g1.expectReply(/2026-11-20 已经签到过了/, bob)
    await g1.say(bob, '补签 昨天') // 11-21: pays 15 of 20
    g1.expectReply(/补签 2026-11-21 成功，消耗 15 积分，当前连续签到 3 天/, bob)
    await g1.say(carol, '补签 昨天')
    g1.expectReply(/补签需要 15 积分，你当前有 0 积分/, carol)
    await g1.say({ id: 'dave', name: '新人' }, '补签 11-21')
    g1.expectReply(/不能补签入群之前的日期/)
    await g1.say(bob, '补签 随便哪天')
    g1.expectReply(/补签格式/)
    const member: Array<{ streak: number; total_days: number }> = await chat.runtime.db.query("SELECT streak, total_days FROM qy_checkin_member WHERE member_id = 'bob'")
    expect(member.map((m) => [Number(m.streak), Number(m.total_days)])).toEqual([[3, 3]])
    const balance: Array<{ b: number | string }> = await chat.runtime.db.query("SELECT SUM(delta) AS b FROM qy_points_ledger WHERE member_id = 'bob' AND currency = 'points'")
    expect(Number(balance[0]?.b)).toBe(5)
  })

  it('batches answers at busy moments into messages that @-mention several members', async () => {
    const crowd = Array.from({ length: 12 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    chat = await start({ at: shanghai('2026-11-23', '07:00'), groups: group(crowd), rules: { batch: { windowMs: 5000, maxPerMessage: 10 } } })
    const g1 = chat.group('g1')
    for (const m of crowd) await g1.say(m, '签到')
    // The first answer went out at once; the rest wait for the window to close.
    expect(chat.pending().filter((a) => a.kind === 'say')).toHaveLength(1)
    await chat.rehearsal.advance(5_000)
    const says = chat.pending().filter((a) => a.kind === 'say')
    expect(says).toHaveLength(3)
    expect(says[0]?.mentions).toEqual(['m0'])
    expect(says[1]?.mentions).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'])
    expect(says[1]?.text).toMatch(/^@成员1\s@成员2\s.*@成员10\s签到成功 10 位：\n成员1 第2名·连续1天·\+10\n成员2 第3名/)
    expect(says[2]?.mentions).toEqual(['m11'])
    expect(says[2]?.text).toMatch(/^@成员11\s签到成功！今天第 12 个/)
    // Quiet again: the next answer goes out at once.
    chat.skip()
    await chat.rehearsal.advance(10_000)
    await g1.say(bob, '签到')
    g1.expectReply(/今天第 13 个/, bob)
  })

  it('sends the answers a crash left in a batch window after restart, each member exactly once', async () => {
    const crowd = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    chat = await start({ at: shanghai('2026-11-23', '07:00'), groups: group(crowd), sqlitePath: join(tempDir(), 'checkin-crash.sqlite'), rules: { batch: { windowMs: 5000, maxPerMessage: 10 } } })
    const g1 = chat.group('g1')
    for (const m of crowd) await g1.say(m, '签到')
    // The first answer went out at once; four wait in the open window (in memory).
    expect(chat.pending().filter((a) => a.kind === 'say').map((a) => a.mentions)).toEqual([['m0']])
    // Crash: the process dies with the window open, so nothing drains the batcher.
    await chat.killWithWindowOpen('check-in')
    // The new process sweeps once the window (and a grace) is over; a second sweep sends nothing again.
    await chat.rehearsal.advance(5_000 + 60_000)
    for (let i = 0; i < 2; i++) {
      await chat.runtime.scheduler.runFenced('check-in.answers', new Date(chat.clock.now()))
      await chat.rehearsal.quiesce()
      await chat.rehearsal.advance(60_000)
    }
    const says = chat.pending().filter((a) => a.kind === 'say')
    expect(says.map((a) => a.mentions)).toEqual([['m1', 'm2', 'm3', 'm4']])
    expect(says[0]?.text).toMatch(/签到成功 4 位：\n成员1 第2名·连续1天·\+10\n成员2 第3名/)
    const open: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_checkin_answer WHERE answered_at IS NULL')
    expect(Number(open[0]?.n)).toBe(0)
  })

  it('sends an answer once when a crash came after its message was stored but before it was marked answered', async () => {
    const crowd = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    chat = await start({ at: shanghai('2026-11-23', '07:00'), groups: group(crowd), sqlitePath: join(tempDir(), 'checkin-marked.sqlite'), rules: { batch: { windowMs: 5000, maxPerMessage: 10 } } })
    const g1 = chat.group('g1')
    for (const m of crowd) await g1.say(m, '签到')
    await chat.rehearsal.advance(5_000)
    await chat.rehearsal.quiesce()
    // Sent: the first alone, the other four in one batch.
    expect(chat.pending().filter((a) => a.kind === 'say').map((a) => a.mentions)).toEqual([['m0'], ['m1', 'm2', 'm3', 'm4']])
    // The crash between "the answers' messages stored in the outbound queue" and "their rows marked answered".
    await chat.runtime.db.query('UPDATE qy_checkin_answer SET answered_at = NULL')
    await chat.rehearsal.restart()
    chat.skip()
    // The sweeps (after restarts) find the answers' keyed messages stored already: nothing goes out again.
    const says = await chat.sweepAcrossRestarts('check-in.answers', 65_000)
    expect(says.filter((a) => /签到成功/.test(a.text ?? '')).map((a) => a.mentions)).toEqual([])
    const open: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_checkin_answer WHERE answered_at IS NULL')
    expect(Number(open[0]?.n)).toBe(0)
    // One keyed action per batch (the lone answer, the batch of four), each stored once.
    const keyed: Array<{ n: number | string }> = await chat.runtime.db.query("SELECT COUNT(*) AS n FROM qy_outbound WHERE action_key LIKE 'check-in.answer:%'")
    expect(Number(keyed[0]?.n)).toBe(2)
  }, 120_000)

  it('answers a check-in redelivered after a kill with its own held answer, once, never "already checked in"', async () => {
    const crowd = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    chat = await start({ at: shanghai('2026-11-23', '07:00'), groups: group(crowd), sqlitePath: join(tempDir(), 'checkin-redelivered.sqlite'), rules: { batch: { windowMs: 5000, maxPerMessage: 10 } } })
    const g1 = chat.group('g1')
    const ids: string[] = []
    for (const m of crowd) ids.push(await g1.say(m, '签到'))
    // Killed with m1–m4 in the open window; WeCom delivers m2's message again to the new process, whose
    // dedupe mark of it was lost with the kill (as when the killed process had not written it yet).
    await chat.killWithWindowOpen('check-in')
    await chat.loseDedupeMark(ids[2] as string)
    await chat.rehearsal.redeliver('g1', 'm2', '签到', ids[2] as string)
    await chat.rehearsal.quiesce()
    const now = chat.pending().filter((a) => a.kind === 'say')
    expect(now.map((a) => a.mentions)).toEqual([['m2']])
    expect(now[0]?.text).toMatch(/签到成功！今天第 3 个/)
    chat.skip()
    // The sweep sends the rest once; m2 is not answered again.
    const says = await chat.sweepAcrossRestarts('check-in.answers', 65_000)
    expect(says.filter((a) => /签到/.test(a.text ?? '')).map((a) => a.mentions)).toEqual([['m1', 'm3', 'm4']])
    // Once more after its answer went out: nothing at all (not "already checked in" — one message was sent).
    await chat.loseDedupeMark(ids[2] as string)
    await chat.rehearsal.redeliver('g1', 'm2', '签到', ids[2] as string)
    await chat.rehearsal.quiesce()
    expect(chat.pending().filter((a) => a.kind === 'say')).toEqual([])
  }, 120_000)

  it('answers the leaderboard with ties sharing a rank', async () => {
    chat = await start({ at: shanghai('2026-11-21') })
    const g1 = chat.group('g1')
    await g1.say(alice, '签到'); await g1.say(bob, '签到')
    await chat.rehearsal.advance(DAY)
    await g1.say(alice, '签到'); await g1.say(bob, '签到')
    await chat.rehearsal.advance(DAY)
    await g1.say(carol, '签到'); await g1.say(bob, '签到'); await g1.say(alice, '签到')
    chat.skip()
    await g1.say(carol, '排行榜')
    const board = g1.expectReply(/连续签到排行榜/)
    expect(board.text?.split('\n').slice(1)).toEqual(['1. Alice 3 天', '1. 阿强 3 天', '3. 小雨 1 天'])
    await g1.say(carol, '积分榜')
    g1.expectReply(/积分排行榜\n1\. Alice 30 分\n1\. 阿强 30 分\n3\. 小雨 10 分/)
  })

  it('sends one reminder a day at the set time', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:59'), rules: { reminder: { enabled: true, time: '09:00' } } })
    const tick = async (): Promise<void> => {
      await chat.runtime.scheduler.runFenced('check-in.reminders', new Date(chat.clock.now()))
      await chat.rehearsal.quiesce()
    }
    await tick()
    expect(chat.pending()).toHaveLength(0)
    await chat.rehearsal.advance(60_000)
    await tick()
    await chat.rehearsal.advance(60_000)
    await tick()
    const says = chat.pending().filter((a) => a.kind === 'say')
    expect(says.map((a) => [a.text, a.mentions])).toEqual([['⏰ 今天签到了吗？发送「签到」即可', []]])
  })

  it('can require an @-mention of the bot and custom keywords', async () => {
    chat = await start({ at: shanghai('2026-11-23'), rules: { requireMention: true, keywords: ['qd'] } })
    const g1 = chat.group('g1')
    await g1.say(bob, 'QD')
    g1.expectNoReply()
    await g1.say(bob, { text: '@群运助手 ＱＤ', mentions: ['qunyun-bot'] })
    g1.expectReply(/签到成功/)
  })
})

describe(`check-in admin API (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterAll(async () => { await chat?.close() })

  it('lists the day, the leaderboard, stats, a member, CSV, and audits adjustments', async () => {
    chat = await start({ at: shanghai('2026-11-22'), http: true })
    const g1 = chat.group('g1')
    await g1.say(bob, '签到')
    await chat.rehearsal.advance(DAY)
    await g1.say(bob, '签到'); await g1.say(carol, '签到')
    const owner = await apiAs(chat, 'owner', { groups: ['g1@chatroom'] })
    const base = '/api/v1/groups/g1%40chatroom/check-ins'
    const today = await owner.get(base).expect(200)
    expect(today.body).toMatchObject({ day: '2026-11-23', count: 2 })
    expect(today.body.items.map((i: { memberId: string; rank: number }) => [i.memberId, i.rank])).toEqual([['bob', 1], ['carol', 2]])
    const board = await owner.get(`${base}/leaderboard?by=streak`).expect(200)
    expect(board.body.items[0]).toMatchObject({ rank: 1, memberId: 'bob', name: '阿强', value: 2 })
    const stats = await owner.get(`${base}/stats?days=2`).expect(200)
    expect(stats.body.days).toEqual([
      { day: '2026-11-22', checkIns: 1, makeUps: 0, rate: 0.3333 },
      { day: '2026-11-23', checkIns: 2, makeUps: 0, rate: 0.6667 },
    ])
    await owner.post(`${base}/members/carol/adjustments`, { delta: 50, reason: '活动奖励' }).expect(201)
    await owner.post(`${base}/members/carol/adjustments`, { delta: 0, reason: 'x' }).expect(400)
    const carolView = await owner.get(`${base}/members/carol`).expect(200)
    expect(carolView.body).toMatchObject({ streak: 1, total: 1, balance: 60 })
    expect(carolView.body.ledger[0]).toMatchObject({ source: 'admin', delta: 50, reason: '活动奖励' })
    const audit = await owner.get('/api/v1/audit-log').expect(200)
    expect(audit.body.items[0]).toMatchObject({ route: '/api/v1/groups/:id/check-ins/members/:memberId/adjustments', groupId: 'g1@chatroom' })
    const csv = await owner.get(`${base}/export.csv?from=2026-11-22&to=2026-11-23`).expect(200)
    expect(csv.headers['content-type']).toMatch(/text\/csv/)
    expect(csv.text.replace('\ufeff', '').split('\r\n').filter(Boolean)).toEqual([
      'day,member_id,name,kind,rank,at',
      `2026-11-22,bob,阿强,normal,1,${new Date(shanghai('2026-11-22')).toISOString()}`,
      expect.stringMatching(/^2026-11-23,bob,阿强,normal,1,/),
      expect.stringMatching(/^2026-11-23,carol,小雨,normal,2,/),
    ])
    // The configuration is the generic rules route, validated by the check-in schema.
    await owner.put('/api/v1/groups/g1%40chatroom/rules/check-in', { keywords: [] }).expect(400)
    await owner.put('/api/v1/groups/g1%40chatroom/rules/check-in', { keywords: ['签到'], dayStart: '04:00' }).expect(200)
  })
})

describe('check-in rules, parsing and streak arithmetic', () => {
  it('parses make-up days relative to today', () => {
    const today = '2026-01-03'
    expect(parseMakeUpDay(' 昨天', today)).toBe('2026-01-02')
    expect(parseMakeUpDay('前天', today)).toBe('2026-01-01')
    expect(parseMakeUpDay('3天前', today)).toBe('2025-12-31')
    expect(parseMakeUpDay('12-31', today)).toBe('2025-12-31')
    expect(parseMakeUpDay('12月30日', today)).toBe('2025-12-30')
    expect(parseMakeUpDay('2026-01-02', today)).toBe('2026-01-02')
    expect(parseMakeUpDay('2号', today)).toBe('2026-01-02')
    expect(parseMakeUpDay('31号', today)).toBe('2025-12-31')
    expect(parseMakeUpDay('2-30', today)).toBeNull()
    expect(parseMakeUpDay('明年', today)).toBeNull()
  })

  it('parses make-up days written with emoji, emoji codes and traditional characters', () => {
    const today = '2026-01-03'
    expect(parseMakeUpDay('昨天[强]', today)).toBe('2026-01-02')
    expect(parseMakeUpDay(' 12-31 👍🏻', today)).toBe('2025-12-31')
    expect(parseMakeUpDay('[呲牙]2號！', today)).toBe('2026-01-02')
    expect(parseMakeUpDay('[公告]昨天', today)).toBeNull()
  })

  it('rejects invalid configuration with paths', () => {
    const bad = CheckInRuleSchema.safeParse({ dayStart: '25:00', keywords: ['补签'], points: { base: -1 } })
    expect(bad.success).toBe(false)
    const paths = bad.success ? [] : bad.error.issues.map((i) => i.path.join('.'))
    expect(paths).toEqual(expect.arrayContaining(['dayStart', 'points.base']))
    expect(CheckInRuleSchema.safeParse({ keywords: ['补签'] }).success).toBe(false)
  })

  it('computes check-in days with a day start', () => {
    expect(checkInDay(Date.parse('2026-11-23T19:59:00Z'), 'Asia/Shanghai', '04:00')).toBe('2026-11-23')
    expect(checkInDay(Date.parse('2026-11-23T20:00:00Z'), 'Asia/Shanghai', '04:00')).toBe('2026-11-24')
  })

  it('property: for any sequence of check-ins and make-ups, streak and total equal a simple reference', async () => {
    const config = await testConfig()
    const db = await openDatabase(dataSourceOptions(config, databaseSchema([checkInFeature]), ':memory:'))
    const rule = CheckInRuleSchema.parse({ makeUp: { windowDays: 5, pointsCost: 10 }, points: { base: 10, streakBonuses: [] } })
    const service = new CheckInService(new FeatureStore(db, checkInFeature.name, checkInFeature.entities ?? []))
    let run = 0
    try {
      await fc.assert(fc.asyncProperty(
        fc.array(fc.record({ advance: fc.integer({ min: 0, max: 3 }), makeUpBack: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }) }), { minLength: 1, maxLength: 25 }),
        async (steps) => {
          const member = `p${run++}`
          const days = new Set<string>()
          let balance = 0
          let today = '2026-12-20'
          for (const step of steps) {
            today = addDays(today, step.advance)
            if (step.makeUpBack === undefined) {
              const r = await service.checkIn({ groupId: 'prop', memberId: member, name: member, day: today, at: 0, messageId: null, rule })
              if (!days.has(today)) { days.add(today); balance += 10; expect(r.status).toBe('new') } else expect(r.status).toBe('already')
            } else {
              const day = addDays(today, -step.makeUpBack)
              const r = await service.makeUp({ groupId: 'prop', memberId: member, name: member, day, today, joinedDay: null, at: 0, rule })
              const allowed = day < today && day >= addDays(today, -5) && !days.has(day) && balance >= 10
              expect(r.status).toBe(allowed ? 'done' : 'refused')
              if (allowed) { days.add(day); balance -= 10 }
            }
            // Reference: walk back from today (or yesterday) over consecutive days.
            let expected = 0
            let cursor = days.has(today) ? today : addDays(today, -1)
            while (days.has(cursor)) { expected++; cursor = addDays(cursor, -1) }
            const standing = await service.standing('prop', member, today)
            expect(standing.total).toBe(days.size)
            expect(standing.streak).toBe(expected)
            expect(standing.balance).toBe(balance)
            expect(currentStreak(streakOf(days), today)).toBe(expected)
          }
        },
      ), { numRuns: 60, seed: 7 })
    } finally { await db.destroy() }
  }, 60_000)
})
