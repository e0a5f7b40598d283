import { join } from 'node:path'
import { apiAs, type ApiClient } from '../../../test/support/api'
import { Chat, type Person } from '../../../test/support/chat'
import { cleanup, COORDINATION, STORAGE, tempDir } from '../../../test/support/env'
import { G1 } from '../../../test/support/groups'
import { STATS_REBUILD, type StatsRebuild } from '../../contracts/stats'
import { SEED_DAY, SEED_FROM } from './stats.lifecycle-seed'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB
// Two restarts each, on a loaded shared database.
jest.setTimeout(180_000)

const MINUTE = 60_000
/** A time in Shanghai (the server runs in UTC). */
const shanghai = (date: string, time = '10:00:00'): number => Date.parse(`${date}T${time}+08:00`)
type Json = Record<string, unknown>

const alice: Person = { id: 'alice', name: 'Alice' }
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨🌸' }
const dan: Person = { id: 'dan', name: '小丹' }

async function body(api: ApiClient, path: string): Promise<Json> {
  const res = await api.get(path)
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as Json
}

/**
 * Waits until stats applied `n` lifecycle transitions of the group on `day`: they come as events, which
 * stats applies in batches apart from the message path (the rehearsal's quiesce and a flush do not wait for them).
 */
async function transitionsApplied(chat: Chat, day: string, n: number): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const rows: Array<{ n: number | string | null }> = await chat.runtime.db.query('SELECT SUM(n) AS n FROM qy_stats_lifecycle_day WHERE group_id = ? AND day = ?', [G1, day])
    const applied = Number(rows[0]?.n ?? 0)
    if (applied >= n) return
    if (Date.now() > deadline) throw new Error(`${applied} of ${n} lifecycle transitions of ${day} applied`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

describe(`stats across restarts (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('keeps open questions across a restart: the answer after it resolves the question, from another member only, at the right minute', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-23', '10:00:00'), http: true, sqlitePath: join(tempDir(), 'stats-questions.sqlite'), rules: { g1: { stats: { questions: { answerWithinMinutes: 10 } } } } })
    const g1 = chat.group('g1')
    // 10:00 bob asks; 10:01 carol asks too (her window ends 10:11).
    await g1.say(bob, '明天几点上课？')
    await chat.rehearsal.advance(MINUTE)
    await g1.say(carol, '有人带书吗')
    await chat.runtime.flush()
    const open: Array<Record<string, unknown>> = await chat.runtime.db.query('SELECT message_id, sender_id, day, hour FROM qy_stats_open_question WHERE group_id = ? ORDER BY at', [G1])
    expect(open.map((r) => [r.sender_id, r.day, Number(r.hour)])).toEqual([['bob', '2026-11-23', 10], ['carol', '2026-11-23', 10]])

    await chat.rehearsal.restart()
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    // 10:03 bob writes again: his own message answers carol's question (the oldest from someone else), not his.
    await chat.rehearsal.advance(2 * MINUTE)
    await g1.say(bob, '我带了')
    // 10:06 alice answers: bob's question, 6 minutes after it was asked.
    await chat.rehearsal.advance(3 * MINUTE)
    await g1.say(alice, '十点')
    await chat.runtime.flush()

    const q = await body(owner, `/api/v1/groups/${G1}/stats/questions?from=2026-11-23&to=2026-11-23`)
    // Answers at 2 minutes (carol's, by bob) and 6 minutes (bob's, by alice): median 2.
    expect(q.total).toEqual({ questions: 2, resolved: 2, byAutoReply: 0, resolutionRate: 1, medianMinutesToAnswer: 2 })
    const minutes: Array<Record<string, unknown>> = await chat.runtime.db.query('SELECT minute, n FROM qy_stats_answer_minute WHERE group_id = ? ORDER BY minute', [G1])
    expect(minutes.map((r) => [Number(r.minute), Number(r.n)])).toEqual([[2, 1], [6, 1]])
    // Answered questions leave the table.
    expect(await chat.runtime.db.query('SELECT message_id FROM qy_stats_open_question WHERE group_id = ?', [G1])).toEqual([])

    // A question whose window ends during a restart is not resolved by a later answer, and its row goes.
    await chat.rehearsal.advance(MINUTE)
    await g1.say(carol, '下周还上课吗')
    await chat.runtime.flush()
    await chat.rehearsal.restart()
    await chat.rehearsal.advance(11 * MINUTE)
    await g1.say(bob, '上的')
    await chat.runtime.flush()
    const after = await body(await apiAs(chat, 'owner', { groups: [G1] }), `/api/v1/groups/${G1}/stats/questions?from=2026-11-23&to=2026-11-23`)
    expect(after.total).toMatchObject({ questions: 3, resolved: 2 })
    expect(await chat.runtime.db.query('SELECT message_id FROM qy_stats_open_question WHERE group_id = ?', [G1])).toEqual([])
  })

  it('seeds the lifecycle mix with members whose lifecycle was assigned before stats saw it, from the tagging service, idempotently (start, rebuild)', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-23', '09:00:00'), http: true, sqlitePath: join(tempDir(), 'stats-lifecycle.sqlite') })
    const g1 = chat.group('g1')
    // Before "stats existed": bob and carol speak (first seen → active), dan joins (→ new).
    await g1.say(bob, '早上好')
    await g1.say(carol, '早')
    await g1.join([dan], alice)
    await chat.rehearsal.quiesce()
    await chat.runtime.flush()
    await chat.rehearsal.quiesce()
    // Stats saw the three (none → active twice, none → new) …
    await transitionsApplied(chat, '2026-11-23', 3)
    // … and forgets every transition (as if installed after them); then carol leaves (active → churned), which it sees.
    await chat.runtime.db.query('DELETE FROM qy_stats_lifecycle_day WHERE group_id = ?', [G1])
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '09:00:00'))
    await g1.leave([carol])
    await chat.rehearsal.quiesce()
    await chat.runtime.flush()
    await chat.rehearsal.quiesce()
    await transitionsApplied(chat, '2026-11-24', 1)
    const mixPath = `/api/v1/groups/${G1}/stats/lifecycle?from=2026-11-23&to=2026-11-24`
    const unseeded = await body(await apiAs(chat, 'owner', { groups: [G1] }), mixPath)
    // Without the seed: bob and dan are missing and carol's churn takes her from a state she was never in.
    expect(unseeded.mix).toEqual([
      { day: '2026-11-23', new: 0, active: 0, dormant: 0, churned: 0, returned: 0 },
      { day: '2026-11-24', new: 0, active: -1, dormant: 0, churned: 1, returned: 0 },
    ])

    // On start the seed reads the tagging service's counts (bob active, dan new, carol churned).
    await chat.rehearsal.restart()
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const expected = [
      { day: '2026-11-23', new: 1, active: 2, dormant: 0, churned: 0, returned: 0 },
      { day: '2026-11-24', new: 1, active: 1, dormant: 0, churned: 1, returned: 0 },
    ]
    expect((await body(owner, mixPath)).mix).toEqual(expected)
    const seedRows = async (): Promise<string[]> => {
      const rows: Array<Record<string, unknown>> = await chat.runtime.db.query('SELECT to_state, n FROM qy_stats_lifecycle_day WHERE group_id = ? AND day = ? AND from_state = ? ORDER BY to_state', [G1, SEED_DAY, SEED_FROM])
      return rows.map((r) => `${String(r.to_state)}:${Number(r.n)}`)
    }
    expect(await seedRows()).toEqual(['active:2', 'new:1'])
    // The transitions report of the range is unchanged (the seed lies before every real day).
    expect((await body(owner, `/api/v1/groups/${G1}/stats/transitions?from=2026-11-23&to=2026-11-24`)).transitions).toEqual([{ from: 'active', to: 'churned', count: 1 }])

    // Idempotent: another start and a rebuild (which seeds its group first) leave the same rows and mix.
    await chat.rehearsal.restart()
    expect(await seedRows()).toEqual(['active:2', 'new:1'])
    const rebuild: StatsRebuild = chat.runtime.host.service(STATS_REBUILD)
    await chat.rehearsal.advanceTo(shanghai('2026-11-25', '09:00:00'))
    await rebuild.rebuild(G1, '2026-11-23', '2026-11-24')
    expect(await seedRows()).toEqual(['active:2', 'new:1'])
    expect((await body(await apiAs(chat, 'owner', { groups: [G1] }), mixPath)).mix).toEqual(expected)
  })
})
