import { join } from 'node:path'
import { Chat, type Person } from '../../../test/support/chat'
import { apiAs, type ApiClient } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE, tempDir, testConfig } from '../../../test/support/env'
import type { Config } from '../../config/config.schema'
import type { RehearsalGroup, RehearsalOptions } from '../../simulation/rehearsal'
import { defineFeature } from '../../adapters/db/feature-store'
import { LotteryDrawn, LotteryEntered } from '../../contracts/lottery'
import { FEATURES } from '../../features'
import type { EventBase } from '../../kernel/events'
import { canonicalOrder, listHash, verifyProof, type LotteryProof } from './lottery.draw'
import { instantIn } from './lottery.service'

// Every runtime of this file has its own MySQL database; dropping them all takes a while on a busy machine.
afterAll(cleanup, 180_000)

const MINUTE = 60_000
const G1 = 'g1@chatroom'
const alice: Person = { id: 'alice', name: 'Alice' }
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }
const dave: Person = { id: 'dave', name: 'Dave' }
const erin: Person = { id: 'erin', name: 'Erin' }

/** Lottery events a consumer received (a test-only feature after the product's). */
const recorded: EventBase[] = []
const eventProbe = defineFeature({
  name: 'lottery-event-probe',
  events: { consumes: [LotteryEntered, LotteryDrawn] },
  setup: () => ({ onEvents: async (events) => { recorded.push(...events) } }),
})

/** A time in Shanghai on a date (the server runs in UTC). */
const shanghai = (date: string, time = '09:00'): number => Date.parse(`${date}T${time}:00+08:00`)
const iso = (ms: number): string => new Date(ms).toISOString()
const START = shanghai('2026-11-23')

function groups(extra: RehearsalGroup['members'] = []): RehearsalGroup[] {
  return [{ id: 'g1', name: '抽奖群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }, { id: 'dave', name: 'Dave' }, ...extra] }]
}

/** A chat with the admin API, lottery answers not batched unless `rules` says so. */
function start(opts: { rules?: Record<string, unknown>; groups?: RehearsalGroup[]; sqlitePath?: string; config?: Config; features?: RehearsalOptions['features'] } = {}): Promise<Chat> {
  return Chat.start({ start: START, http: true, groups: opts.groups ?? groups(), sqlitePath: opts.sqlitePath, config: opts.config, features: opts.features, rules: { g1: { lottery: { batch: { windowMs: 0 }, ...opts.rules }, 'check-in': { batch: { windowMs: 0 } } } } })
}

/** A lottery definition in g1: closes in an hour, draws ten minutes later. */
function definition(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: '周五读书抽奖', description: '感谢大家', groupIds: [G1], prizes: [{ name: '新书', quantity: 1 }],
    times: { closesAt: iso(START + 60 * MINUTE), drawAt: iso(START + 70 * MINUTE) }, ...extra,
  }
}

/** Runs the lottery job for the current (fake) time and lets its messages go out. */
async function tick(chat: Chat): Promise<void> {
  expect(await chat.runtime.scheduler.runFenced('lottery.tick', new Date(chat.clock.now()))).toBe('ran')
  await chat.rehearsal.quiesce()
}

/** A member's id in lottery proofs: their pseudonym in this deployment. */
const tok = (chat: Chat, memberId: string): string => chat.runtime.erasure.pseudonym(memberId)

async function count(chat: Chat, sql: string): Promise<number> {
  const rows: Array<{ n: number | string }> = await chat.runtime.db.query(sql)
  return Number(rows[0]?.n)
}

describe(`lotteries through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let owner: ApiClient
  afterEach(async () => { await chat?.close() })

  it('announce → members enter by keyword → close → draw → winners @-mentioned, with a proof that recomputes', async () => {
    chat = await start({ features: [...FEATURES, eventProbe] })
    recorded.length = 0
    const events: EventBase[] = []
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const created = await owner.post('/api/v1/lotteries', definition({ prizes: [{ name: '新书', quantity: 2 }] })).expect(201)
    const id = created.body.id as number
    expect(created.body).toMatchObject({ status: 'draft', commitment: null, seed: null })
    g1.expectNoReply()

    // Nobody can enter a draft.
    await g1.say(bob, '参与抽奖')
    g1.expectNoReply()

    const opened = await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    expect(opened.body.status).toBe('open')
    expect(opened.body.commitment).toMatch(/^[0-9a-f]{64}$/)
    expect(opened.body.seed).toBeNull()
    await chat.rehearsal.quiesce()
    g1.expectReply(new RegExp(`抽奖开始：周五读书抽奖[\\s\\S]*发送「参与抽奖」[\\s\\S]*${opened.body.commitment as string}`))

    await g1.say(bob, '参与抽奖')
    g1.expectReply(/已参与「周五读书抽奖」抽奖，当前 1 人参与/, bob)
    // Written the way members write it: traditional characters, an emoji code, full-width punctuation.
    await g1.say(carol, '參與抽獎[呲牙]！')
    g1.expectReply(/当前 2 人参与/, carol)
    await g1.say(dave, '参与 抽奖')
    g1.expectReply(/当前 3 人参与/, dave)
    await g1.say(bob, '参与抽奖')
    g1.expectReply(/你已经参与过「周五读书抽奖」啦/, bob)
    // The group owner is staff: not eligible by default.
    await g1.say(alice, '参与抽奖')
    g1.expectReply(/暂不符合「周五读书抽奖」的参与条件：群主和管理员不参与/, alice)
    // Chat that merely contains the keyword is no entry.
    await g1.say(carol, '大家记得参与抽奖哦')
    g1.expectNoReply()
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_entry WHERE lottery_id = ${id}`)).toBe(3)

    // Editing is refused once open.
    await owner.put(`/api/v1/lotteries/${id}`, definition()).expect(409)

    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick(chat)
    const closing = g1.expectReply(/报名截止，共 3 人参与。参与名单哈希：([0-9a-f]{64})/)
    await g1.say(dave, '参与抽奖')
    g1.expectReply(/已截止报名/, dave)
    g1.expectNoReply()

    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await tick(chat)
    const detail = await owner.get(`/api/v1/lotteries/${id}`).expect(200)
    expect(detail.body.status).toBe('drawn')
    const winners = (detail.body.winners as Array<{ memberId: string; prize: string; claimCode: string }>)
    expect(winners).toHaveLength(2)
    expect(new Set(winners.map((w) => w.memberId)).size).toBe(2)
    for (const w of winners) expect(['bob', 'carol', 'dave']).toContain(w.memberId)
    for (const w of winners) expect(w.claimCode).toMatch(/^[A-Z2-9]{8}$/)
    const announcement = g1.expectReply(/开奖啦/)
    expect([...(announcement.mentions ?? [])].sort()).toEqual(winners.map((w) => w.memberId).sort())
    expect(announcement.text).toContain(detail.body.seed as string)

    const proof = (await owner.get(`/api/v1/lotteries/${id}/proof`).expect(200)).body as LotteryProof
    // Proofs name entrants by pseudonym (no member id in a published proof; it stays verifiable after an erasure).
    expect(proof.entrants).toEqual(canonicalOrder(['bob', 'carol', 'dave'].map((m) => tok(chat, m))))
    expect(closing.text).toContain(proof.entrantsHash as string)
    expect(proof.commitment).toBe(opened.body.commitment)
    expect(proof.rounds[0]?.winners).toEqual(winners.map((w) => tok(chat, w.memberId)))
    expect(proof.beacon.used).toBe(false)
    expect(verifyProof(proof)).toEqual([])

    // A second tick draws nothing more and announces nothing more.
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    g1.expectNoReply()
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_winner WHERE lottery_id = ${id}`)).toBe(2)

    const csv = await owner.get(`/api/v1/lotteries/${id}/winners.csv`).expect(200)
    expect(csv.text).toContain(winners[0]?.claimCode as string)
    const entrants = await owner.get(`/api/v1/lotteries/${id}/entrants?limit=2`).expect(200)
    expect(entrants.body.items.map((e: { memberId: string }) => e.memberId)).toEqual(['bob', 'carol'])
    const rest = await owner.get(`/api/v1/lotteries/${id}/entrants?limit=2&after=${entrants.body.next as number}`).expect(200)
    expect(rest.body.items.map((e: { memberId: string }) => e.memberId)).toEqual(['dave'])

    // Events for stats and tagging: one per entry, one per group drawn (consumers get them at least once).
    await chat.rehearsal.quiesce()
    const unique = new Map(recorded.map((e) => [e.id, e]))
    events.push(...unique.values())
    const entered = events.filter((e) => e.type === 'lottery.entered') as Array<EventBase & { memberId: string; lotteryId: number }>
    expect(entered.map((e) => e.memberId)).toEqual(['bob', 'carol', 'dave'])
    const drawn = events.filter((e) => e.type === 'lottery.drawn') as Array<EventBase & { winnerIds: string[]; eligible: number }>
    expect(drawn).toHaveLength(1)
    expect(drawn[0]?.winnerIds).toEqual(winners.map((w) => w.memberId))
    expect(drawn[0]?.eligible).toBe(3)
  })

  it('batches entry confirmations in a busy group instead of one reply per entrant', async () => {
    const crowd = Array.from({ length: 12 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    chat = await start({ groups: groups(crowd), rules: { batch: { windowMs: 5000, maxPerMessage: 10 } } })
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const id = (await owner.post('/api/v1/lotteries', definition()).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.rehearsal.quiesce()
    chat.skip()
    for (const m of crowd) await chat.group('g1').say(m, '参与抽奖')
    await chat.rehearsal.finish()
    const said = chat.pending().filter((a) => a.kind === 'say')
    // The first alone, the other 11 in two batched messages (10 + 1).
    expect(said.length).toBeLessThanOrEqual(3)
    expect(said.flatMap((a) => a.mentions ?? []).sort()).toEqual(crowd.map((m) => m.id).sort())
    expect(said.some((a) => /新增 10 位参与/.test(a.text ?? ''))).toBe(true)
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_entry WHERE lottery_id = ${id}`)).toBe(12)
  })

  it('sends the confirmations a kill left in a batch window after restart, each entrant exactly once', async () => {
    const crowd = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    chat = await start({ groups: groups(crowd), sqlitePath: join(tempDir(), 'lottery-window.sqlite'), rules: { batch: { windowMs: 5000, maxPerMessage: 10 } } })
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const id = (await owner.post('/api/v1/lotteries', definition()).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.rehearsal.quiesce()
    chat.skip()
    for (const m of crowd) await chat.group('g1').say(m, '参与抽奖')
    // The first confirmation went out at once; four wait in the open window.
    expect(chat.pending().filter((a) => a.kind === 'say').map((a) => a.mentions)).toEqual([['m0']])
    // Killed with the window open: nothing drains it (the answers are stored, nothing else).
    await chat.killWithWindowOpen('lottery')
    // The new process sends them once they are older than the window could be (its minute sweep); never again.
    const says = await chat.sweepAcrossRestarts('lottery.answers', 65_000)
    expect(says.map((a) => a.mentions)).toEqual([['m1', 'm2', 'm3', 'm4']])
    expect(says[0]?.text).toMatch(/新增 4 位参与/)
    expect(await count(chat, 'SELECT COUNT(*) AS n FROM qy_lottery_answer WHERE answered_at IS NULL')).toBe(0)
    expect(await count(chat, 'SELECT COUNT(*) AS n FROM qy_lottery_answer')).toBe(5)
  }, 120_000)

  it('answers an entry redelivered after a kill with its own confirmation, once, never "already entered"', async () => {
    const crowd = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    chat = await start({ groups: groups(crowd), sqlitePath: join(tempDir(), 'lottery-redelivered.sqlite'), rules: { batch: { windowMs: 5000, maxPerMessage: 10 } } })
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const id = (await owner.post('/api/v1/lotteries', definition()).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.rehearsal.quiesce()
    chat.skip()
    const ids: string[] = []
    for (const m of crowd) ids.push(await chat.group('g1').say(m, '参与抽奖'))
    await chat.killWithWindowOpen('lottery')
    // WeCom delivers m2's message again to the new process, whose dedupe mark of it was lost with the kill.
    const lose = (messageId: string): Promise<void> => chat.loseDedupeMark(messageId)
    await lose(ids[2] as string)
    await chat.rehearsal.redeliver('g1', 'm2', '参与抽奖', ids[2] as string)
    await chat.rehearsal.quiesce()
    const now = chat.pending().filter((a) => a.kind === 'say')
    expect(now.map((a) => a.mentions)).toEqual([['m2']])
    expect(now[0]?.text).not.toMatch(/已经参与过/)
    chat.skip()
    const says = await chat.sweepAcrossRestarts('lottery.answers', 65_000)
    expect(says.map((a) => a.mentions)).toEqual([['m1', 'm3', 'm4']])
    // Once more after its confirmation went out: nothing at all.
    await lose(ids[2] as string)
    await chat.rehearsal.redeliver('g1', 'm2', '参与抽奖', ids[2] as string)
    await chat.rehearsal.quiesce()
    expect(chat.pending().filter((a) => a.kind === 'say')).toEqual([])
    // A crash between the entry and its stored confirmation: the redelivered copy stores and sends it.
    await chat.runtime.db.query('DELETE FROM qy_lottery_answer WHERE member_id = ?', ['m4'])
    await lose(ids[4] as string)
    await chat.rehearsal.redeliver('g1', 'm4', '参与抽奖', ids[4] as string)
    await chat.rehearsal.quiesce()
    expect(chat.pending().filter((a) => a.kind === 'say').map((a) => [a.mentions, /已经参与过/.test(a.text ?? '')])).toEqual([[['m4'], false]])
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_entry WHERE lottery_id = ${id}`)).toBe(5)
  }, 120_000)

  it('keeps each owner to their own lotteries (404 like a missing id) and validates definitions', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const other = await apiAs(chat, 'owner', { groups: [G1], name: 'other-owner' })
    const admin = await apiAs(chat, 'admin')
    const id = (await owner.post('/api/v1/lotteries', definition({ title: 'MINE-ONLY' })).expect(201)).body.id as number
    const theirs = await other.get(`/api/v1/lotteries/${id}`).expect(404)
    const missing = await other.get('/api/v1/lotteries/999999').expect(404)
    expect(theirs.body.error.message).toBe(missing.body.error.message)
    await other.post(`/api/v1/lotteries/${id}/open`).expect(404)
    await other.post(`/api/v1/lotteries/${id}/cancel`).expect(404)
    await other.get(`/api/v1/lotteries/${id}/proof`).expect(404)
    expect((await other.get('/api/v1/lotteries').expect(200)).text).not.toContain('MINE-ONLY')
    expect((await owner.get('/api/v1/lotteries').expect(200)).text).toContain('MINE-ONLY')
    expect((await admin.get('/api/v1/lotteries').expect(200)).text).toContain('MINE-ONLY')
    expect((await owner.get(`/api/v1/lotteries/${id}`).expect(200)).body.status).toBe('draft')

    // Bad input: draw before close, a group that is not the owner's, unknown fields.
    const early = await owner.post('/api/v1/lotteries', definition({ times: { closesAt: iso(START + 60 * MINUTE), drawAt: iso(START + 30 * MINUTE) } })).expect(400)
    expect(JSON.stringify(early.body)).toContain('the draw cannot be before the close')
    await owner.post('/api/v1/lotteries', definition({ groupIds: ['g9@chatroom'] })).expect(400)
    await owner.post('/api/v1/lotteries', { ...definition(), winnerId: 'bob' }).expect(400)
    await owner.post('/api/v1/lotteries', definition({ times: {} })).expect(400)

    // Drafts are edited in place; cancelled ones cannot be opened, cancelled twice or edited.
    const edited = await owner.put(`/api/v1/lotteries/${id}`, definition({ title: '改过的标题' })).expect(200)
    expect(edited.body).toMatchObject({ title: '改过的标题', version: 2 })
    await owner.post(`/api/v1/lotteries/${id}/cancel`).expect(200)
    await owner.post(`/api/v1/lotteries/${id}/cancel`).expect(409)
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(409)
    await owner.put(`/api/v1/lotteries/${id}`, definition()).expect(409)

    // Every change is in the audit log (like other owned objects, not tied to a group: admins read it).
    const audit = await admin.get('/api/v1/audit-log').expect(200)
    const lotteryRoutes = (audit.body.items as Array<{ route: string; status: number; summary: { target?: string } }>).filter((a) => a.route.startsWith('/api/v1/lotteries'))
    expect(lotteryRoutes.filter((a) => a.status < 300).map((a) => [a.route, a.summary?.target])).toEqual([
      ['/api/v1/lotteries/:lotteryId/cancel', `lottery:${id}`], ['/api/v1/lotteries/:lotteryId', `lottery:${id}`], ['/api/v1/lotteries', `lottery:${id}`],
    ])
  })

  it('takes entry points exactly once, refuses members who cannot pay, and refunds everyone on cancel', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const admin = await apiAs(chat, 'admin')
    const g1 = chat.group('g1')
    const points = `/api/v1/groups/${encodeURIComponent(G1)}/check-ins/members`
    await admin.post(`${points}/bob/adjustments`, { delta: 50, reason: '测试' }).expect(201)
    await admin.post(`${points}/carol/adjustments`, { delta: 10, reason: '测试' }).expect(201)
    const balance = async (member: string): Promise<number> => count(chat, `SELECT COALESCE(SUM(delta), 0) AS n FROM qy_points_ledger WHERE member_id = '${member}' AND currency = 'points'`)
    const id = (await owner.post('/api/v1/lotteries', definition({ entry: { pointsCost: 30 } })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.rehearsal.quiesce()
    chat.skip()

    await g1.say(bob, '参与抽奖')
    g1.expectReply(/已参与/, bob)
    await g1.say(bob, '参与抽奖')
    g1.expectReply(/已经参与过/, bob)
    expect(await balance('bob')).toBe(20)
    await g1.say(carol, '参与抽奖')
    g1.expectReply(/参与「周五读书抽奖」需要 30 积分，你当前有 10 积分/, carol)
    expect(await balance('carol')).toBe(10)
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_entry WHERE member_id = 'carol'`)).toBe(0)

    await owner.post(`/api/v1/lotteries/${id}/cancel`).expect(200)
    await chat.rehearsal.quiesce()
    g1.expectReply(/已取消/)
    expect(await balance('bob')).toBe(50)
    // The job re-runs refunds of recently cancelled lotteries (a crash after the status flip): never twice.
    await tick(chat)
    expect(await balance('bob')).toBe(50)
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_points_ledger WHERE source = 'lottery'`)).toBe(2)
  })

  it('never takes points twice when the same member enters concurrently', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const admin = await apiAs(chat, 'admin')
    await admin.post(`/api/v1/groups/${encodeURIComponent(G1)}/check-ins/members/bob/adjustments`, { delta: 100, reason: '测试' }).expect(201)
    const id = (await owner.post('/api/v1/lotteries', definition({ entry: { pointsCost: 40 } })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    const g1 = chat.group('g1')
    await Promise.all(Array.from({ length: 5 }, (_, i) => g1.say(bob, '参与抽奖', `concurrent-${i}`)))
    expect(await count(chat, `SELECT COALESCE(SUM(delta), 0) AS n FROM qy_points_ledger WHERE member_id = 'bob'`)).toBe(60)
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_entry WHERE lottery_id = ${id}`)).toBe(1)
    expect(await count(chat, `SELECT entrant_count AS n FROM qy_lottery WHERE id = ${id}`)).toBe(1)
  })

  it('announces an empty lottery, and draws all eligible entrants when prizes outnumber them (saying so)', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const empty = (await owner.post('/api/v1/lotteries', definition({ title: '没人来' })).expect(201)).body.id as number
    const many = (await owner.post('/api/v1/lotteries', definition({ title: '奖品多', entry: { keyword: '我要奖品' }, prizes: [{ name: '徽章', quantity: 5 }] })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${empty}/open`).expect(200)
    await owner.post(`/api/v1/lotteries/${many}/open`).expect(200)
    await g1.say(bob, '我要奖品')
    await g1.say(carol, '我要奖品')
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await tick(chat) // closes both
    await chat.rehearsal.advance(MINUTE)
    await tick(chat) // draws both
    g1.expectReply(/「没人来」没有人参与，本次不开奖/)
    const short = g1.expectReply(/「奖品多」开奖啦[\s\S]*奖品 5 份，符合条件的参与者只有 2 位，全部中奖/)
    expect([...(short.mentions ?? [])].sort()).toEqual(['bob', 'carol'])
    const detail = await owner.get(`/api/v1/lotteries/${many}`).expect(200)
    expect(detail.body.winners.map((w: { memberId: string }) => w.memberId).sort()).toEqual(['bob', 'carol'])
    expect((await owner.get(`/api/v1/lotteries/${empty}`).expect(200)).body).toMatchObject({ status: 'drawn', winners: [] })
    const texts = (await chat.runtime.db.query(`SELECT COUNT(*) AS n FROM qy_lottery_draw`) as Array<{ n: number | string }>)
    expect(Number(texts[0]?.n)).toBe(2)
    const proof = (await owner.get(`/api/v1/lotteries/${empty}/proof`).expect(200)).body as LotteryProof
    expect(verifyProof(proof)).toEqual([])
  })

  it('makes members who left before the draw ineligible, and records why in the proof', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const id = (await owner.post('/api/v1/lotteries', definition({ prizes: [{ name: '书', quantity: 3 }] })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    for (const m of [bob, carol, dave]) await g1.say(m, '参与抽奖')
    await g1.leave([carol])
    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick(chat)
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await tick(chat)
    const proof = (await owner.get(`/api/v1/lotteries/${id}/proof`).expect(200)).body as LotteryProof
    expect(proof.entrants).toEqual(canonicalOrder(['bob', 'carol', 'dave'].map((m) => tok(chat, m))))
    expect(proof.rounds[0]?.excluded).toEqual([{ memberId: tok(chat, 'carol'), reason: 'not in the group' }])
    expect(proof.rounds[0]?.winners.slice().sort()).toEqual(['bob', 'dave'].map((m) => tok(chat, m)).sort())
    expect(verifyProof(proof)).toEqual([])
  })

  it('applies eligibility filters at entry: joined before, streak, exclusions, recent winners', async () => {
    const early = START - 30 * 86_400_000
    chat = await start({
      groups: [{ id: 'g1', name: '抽奖群', members: [
        { id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强', joinedAt: early }, { id: 'carol', name: '小雨', joinedAt: START - MINUTE },
        { id: 'dave', name: 'Dave', joinedAt: early }, { id: 'erin', name: 'Erin', joinedAt: early },
      ] }],
    })
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const id = (await owner.post('/api/v1/lotteries', definition({ eligibility: { joinedBefore: iso(START - 86_400_000), excludeMemberIds: ['dave'] } })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await g1.say(carol, '参与抽奖')
    g1.expectReply(/入群时间不符合/, carol)
    await g1.say(dave, '参与抽奖')
    g1.expectReply(/主办方设置/, dave)
    await g1.say(bob, '参与抽奖')
    g1.expectReply(/已参与/, bob)
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await tick(chat)
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    expect((await owner.get(`/api/v1/lotteries/${id}`).expect(200)).body.winners.map((w: { memberId: string }) => w.memberId)).toEqual(['bob'])

    // A streak requirement (check-in facts) and "not a winner of the last lottery".
    const second = (await owner.post('/api/v1/lotteries', definition({ times: { closesAt: iso(START + 200 * MINUTE), drawAt: iso(START + 210 * MINUTE) }, eligibility: { minStreak: 1, notWinnerOfLast: 1 } })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${second}/open`).expect(200)
    chat.skip()
    await g1.say(erin, '参与抽奖')
    g1.expectReply(/连续签到天数不够/, erin)
    await g1.say(erin, '签到')
    g1.expectReply(/签到成功/, erin)
    await g1.say(erin, '参与抽奖')
    g1.expectReply(/已参与/, erin)
    await g1.say(bob, '签到')
    await g1.say(bob, '参与抽奖')
    g1.expectReply(/最近已中过奖/, bob)

    // The dry run says the same about member states the caller describes.
    const dry = await owner.post('/api/v1/lotteries/dry-run', {
      eligibility: { activeInLastDays: 7, minStreak: 3 }, today: '2026-11-23',
      members: [{ id: 'a', lastActiveDay: '2026-11-20', streak: 5 }, { id: 'b', lastActiveDay: '2026-11-10', streak: 5 }, { id: 'c', lastActiveDay: '2026-11-23', streak: 1 }, { id: 'd', role: 'admin', lastActiveDay: '2026-11-23', streak: 9 }],
    }).expect(200)
    expect(dry.body.eligible).toEqual(['a'])
    expect(dry.body.members.map((m: { reason: string | null }) => m.reason)).toEqual([null, 'not active in the last 7 days', 'check-in streak below 3', 'group staff'])
  })

  it('opens, closes and draws by itself from the definition times (draw when N entries too)', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const id = (await owner.post('/api/v1/lotteries', definition({ times: { opensAt: iso(START + 5 * MINUTE), drawWhenEntries: 2 } })).expect(201)).body.id as number
    await tick(chat)
    g1.expectNoReply()
    await chat.rehearsal.advanceTo(START + 5 * MINUTE)
    await tick(chat)
    g1.expectReply(/抽奖开始/)
    await g1.say(bob, '参与抽奖')
    await g1.say(carol, '参与抽奖')
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    g1.expectReply(/报名截止，共 2 人参与/)
    g1.expectReply(/开奖啦/)
    expect((await owner.get(`/api/v1/lotteries/${id}`).expect(200)).body.status).toBe('drawn')
  })

  it('stores at close how a lottery names entrants: detail and winner views read no entry; lotteries closed before the change still show the same', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const id = (await owner.post('/api/v1/lotteries', definition({ prizes: [{ name: '书', quantity: 2 }] })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    for (const m of [bob, carol, dave]) await g1.say(m, '参与抽奖')
    const mode = async (): Promise<string | null> => ((await chat.runtime.db.query(`SELECT draw_ids FROM qy_lottery WHERE id = ${id}`)) as Array<{ draw_ids: string | null }>)[0]?.draw_ids ?? null
    expect(await mode()).toBeNull()
    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick(chat)
    expect(await mode()).toBe('pseudonym')
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await tick(chat)

    // Every statement the views run (the database's own query log).
    const db = chat.runtime.db
    const statements: string[] = []
    const logQuery = db.logger.logQuery.bind(db.logger)
    db.logger.logQuery = (query, parameters, runner) => { statements.push(query); return logQuery(query, parameters, runner) }
    const views = async (): Promise<Array<{ memberId: string; drawId: string }>> => {
      statements.length = 0
      const detail = (await owner.get(`/api/v1/lotteries/${id}`).expect(200)).body.winners as Array<{ memberId: string; drawId: string }>
      const listed = (await owner.get(`/api/v1/lotteries/${id}/winners`).expect(200)).body.items as Array<{ memberId: string; drawId: string }>
      expect(listed).toEqual(detail)
      return detail.map((w) => ({ memberId: w.memberId, drawId: w.drawId }))
    }
    const entryReads = (): string[] => statements.filter((q) => /qy_lottery_entry/.test(q))
    const shown = await views()
    expect(shown).toHaveLength(2)
    // Named as in the proof (by pseudonym), without reading the entries.
    const proof = (await owner.get(`/api/v1/lotteries/${id}/proof`).expect(200)).body as LotteryProof
    expect(shown.map((w) => w.drawId)).toEqual(proof.rounds[0]?.winners)
    expect(shown.map((w) => w.drawId)).toEqual(shown.map((w) => tok(chat, w.memberId)))
    await views()
    expect(entryReads()).toEqual([])

    // Closed before the mode was stored (the migration leaves it null): found out once from the published hash, then stored.
    await db.query(`UPDATE qy_lottery SET draw_ids = NULL WHERE id = ${id}`)
    expect(await views()).toEqual(shown)
    expect(entryReads().length).toBeGreaterThan(0)
    expect(await mode()).toBe('pseudonym')
    expect(await views()).toEqual(shown)
    expect(entryReads()).toEqual([])

    // Closed before pseudonyms: its published hash covers the member ids, and the views name winners by id.
    await db.query(`UPDATE qy_lottery SET draw_ids = NULL, entrants_hash = '${listHash(['bob', 'carol', 'dave'])}' WHERE id = ${id}`)
    const legacy = await views()
    expect(legacy).toEqual(shown.map((w) => ({ memberId: w.memberId, drawId: w.memberId })))
    expect(await mode()).toBe('member-id')
    expect(await views()).toEqual(legacy)
    expect(entryReads()).toEqual([])
    db.logger.logQuery = logQuery
  })

  it('draws exactly once after a restart, and announces a draw a crash left unannounced exactly once', async () => {
    chat = await start({ sqlitePath: join(tempDir(), 'lottery.sqlite') })
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const id = (await owner.post('/api/v1/lotteries', definition()).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.group('g1').say(bob, '参与抽奖')
    await chat.group('g1').say(carol, '参与抽奖')
    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick(chat)
    // The process stops at the draw instant; the new one draws at its next tick.
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await chat.rehearsal.restart()
    await tick(chat)
    chat.group('g1').expectReply(/开奖啦/)
    const winner = (await chat.runtime.db.query(`SELECT member_id FROM qy_lottery_winner WHERE lottery_id = ${id}`) as Array<{ member_id: string }>)
    expect(winner).toHaveLength(1)
    // A crash after the announcement was stored but before the lottery was marked announced: the next
    // runtime queues it again under the same key — stored already, so nothing goes out twice — and marks it.
    await chat.runtime.db.query(`UPDATE qy_lottery SET announced_at = NULL WHERE id = ${id}`)
    await chat.rehearsal.restart()
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    chat.group('g1').expectNoReply()
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery WHERE id = ${id} AND announced_at IS NOT NULL`)).toBe(1)
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    chat.group('g1').expectNoReply()
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_draw WHERE lottery_id = ${id}`)).toBe(1)
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_outbound WHERE action_key = 'lottery:${id}:drawn:${G1}'`)).toBe(1)
  })

  it('announces a draw whose announcement a crash lost before it was stored, once, after the restart', async () => {
    chat = await start({ sqlitePath: join(tempDir(), 'lottery-lost.sqlite') })
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const id = (await owner.post('/api/v1/lotteries', definition()).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.group('g1').say(bob, '参与抽奖')
    await chat.group('g1').say(carol, '参与抽奖')
    // The process dies as the announcement reaches the outbound queue (after the draw's commit): the
    // enqueue throws, so nothing after it in that process runs.
    const enqueue = chat.runtime.outbound.enqueue.bind(chat.runtime.outbound)
    chat.runtime.outbound.enqueue = (action) => {
      if (action.cause === `lottery:${id}:drawn`) throw new Error('process killed')
      enqueue(action)
    }
    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick(chat)
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await tick(chat)
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery WHERE id = ${id} AND status = 'drawn'`)).toBe(1)
    // (What the bot said before: the opening, two confirmations, the close — no announcement.)
    expect(chat.pending().filter((a) => /开奖啦/.test(a.text ?? ''))).toEqual([])
    chat.skip()
    await chat.rehearsal.restart()
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    const winner = (await chat.runtime.db.query(`SELECT member_id FROM qy_lottery_winner WHERE lottery_id = ${id}`) as Array<{ member_id: string }>)
    const announced = chat.group('g1').expectReply(/开奖啦/)
    expect(announced.mentions).toEqual([winner[0]?.member_id])
    await chat.rehearsal.restart()
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    chat.group('g1').expectNoReply()
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_draw WHERE lottery_id = ${id}`)).toBe(1)
  })

  it('gives one draw when two runtimes on one database fire the same draw', async () => {
    // One database: a SQLite file, or (with QUNYUN_DB_URL) one MySQL database both runtimes open.
    const sqlitePath = join(tempDir(), 'shared.sqlite')
    const config = await testConfig()
    chat = await start({ sqlitePath, config })
    const second = await start({ sqlitePath, config })
    try {
      owner = await apiAs(chat, 'owner', { groups: [G1] })
      const id = (await owner.post('/api/v1/lotteries', definition({ prizes: [{ name: '书', quantity: 2 }] })).expect(201)).body.id as number
      await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
      for (const m of [bob, carol, dave]) await chat.group('g1').say(m, '参与抽奖')
      await chat.rehearsal.advanceTo(START + 60 * MINUTE)
      await tick(chat)
      await chat.rehearsal.advanceTo(START + 70 * MINUTE)
      await second.rehearsal.advanceTo(START + 70 * MINUTE)
      chat.skip()
      second.skip()
      // Different fire times, so the job fence lets both run: the draw's own fence must hold. On MySQL both
      // fire at once; two SQLite connections in one process cannot interleave write transactions (the
      // second blocks the event loop on the file lock the first holds), so there they fire one after the
      // other — the concurrent case on SQLite is the next test, inside one runtime.
      const fire = (c: Chat, ms: number) => () => c.runtime.scheduler.runFenced('lottery.tick', new Date(ms))
      const runs = [fire(chat, START + 70 * MINUTE), fire(second, START + 70 * MINUTE + 1000)]
      const outcomes = STORAGE === 'mysql' ? await Promise.all(runs.map((r) => r())) : [await (runs[0] as () => Promise<string>)(), await (runs[1] as () => Promise<string>)()]
      expect(outcomes).toEqual(['ran', 'ran'])
      await chat.rehearsal.quiesce()
      await second.rehearsal.quiesce()
      expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_draw WHERE lottery_id = ${id}`)).toBe(1)
      expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_winner WHERE lottery_id = ${id}`)).toBe(2)
      // The announcement is queued by whichever runtime drew; the bot's lease holder performs it (handed over
      // through the store and pub/sub when that is the other runtime), so wait for it on either side.
      const said = (): Array<{ kind: string; text?: string }> => [...chat.pending(), ...second.pending()].filter((a) => a.kind === 'say' && /开奖啦/.test(a.text ?? ''))
      for (let i = 0; i < 50 && said().length === 0; i++) {
        await chat.rehearsal.quiesce()
        await second.rehearsal.quiesce()
        if (said().length === 0) await new Promise((resolve) => setTimeout(resolve, 200))
      }
      // A second announcement would come through the same way: give it the same chance.
      await new Promise((resolve) => setTimeout(resolve, 500))
      await chat.rehearsal.quiesce()
      await second.rehearsal.quiesce()
      expect(said()).toHaveLength(1)
    } finally {
      await second.close()
    }
  })

  it('gives one draw when the same runtime fires the draw twice at once (the draw row is the fence)', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const id = (await owner.post('/api/v1/lotteries', definition()).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    for (const m of [bob, carol, dave]) await chat.group('g1').say(m, '参与抽奖')
    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick(chat)
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    chat.skip()
    const outcomes = await Promise.all([0, 1, 2].map((i) => chat.runtime.scheduler.runFenced('lottery.tick', new Date(START + 70 * MINUTE + i))))
    expect(outcomes).toEqual(['ran', 'ran', 'ran'])
    await chat.rehearsal.quiesce()
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_draw WHERE lottery_id = ${id}`)).toBe(1)
    expect(await count(chat, `SELECT COUNT(*) AS n FROM qy_lottery_winner WHERE lottery_id = ${id}`)).toBe(1)
    expect(chat.pending().filter((a) => a.kind === 'say' && /开奖啦/.test(a.text ?? ''))).toHaveLength(1)
  })

  it('reminds unclaimed winners once, rerolls their prize deterministically (recorded in the proof), and takes claims (核销)', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const id = (await owner.post('/api/v1/lotteries', definition({ claimWindowHours: 2, prizes: [{ name: '新书', quantity: 1, claimInstructions: '私聊群主' }] })).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/reroll`, {}).expect(409) // not drawn yet
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    for (const m of [bob, carol, dave]) await g1.say(m, '参与抽奖')
    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick(chat)
    await chat.rehearsal.advanceTo(START + 70 * MINUTE)
    await tick(chat)
    chat.skip()
    const first = ((await owner.get(`/api/v1/lotteries/${id}/winners`).expect(200)).body.items as Array<{ memberId: string; claimCode: string }>)[0]
    expect(first).toBeDefined()

    // Halfway through the claim window: one reminder @-mentioning the winner, never a second.
    await chat.rehearsal.advanceTo(START + 130 * MINUTE)
    await tick(chat)
    const reminder = g1.expectReply(/的奖品还没有领取，请在 2026-11-23 12:10 前领取。私聊群主/)
    expect(reminder.mentions).toEqual([first?.memberId])
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    g1.expectNoReply()

    // Before the window ends, nothing is rerolled by default; after it, the unclaimed prize is.
    expect((await owner.post(`/api/v1/lotteries/${id}/reroll`, {}).expect(200)).body).toEqual({ round: null, replaced: [], winners: [] })
    await chat.rehearsal.advanceTo(START + 200 * MINUTE)
    const rerolled = await owner.post(`/api/v1/lotteries/${id}/reroll`, {}).expect(200)
    expect(rerolled.body.round).toBe(1)
    expect(rerolled.body.replaced).toEqual([first?.memberId])
    const [second] = rerolled.body.winners as string[]
    expect(['bob', 'carol', 'dave'].filter((m) => m !== first?.memberId)).toContain(second)
    await chat.rehearsal.quiesce()
    const announced = g1.expectReply(/补抽（第 1 轮）/)
    expect(announced.mentions).toEqual([second])
    const proof = (await owner.get(`/api/v1/lotteries/${id}/proof`).expect(200)).body as LotteryProof
    expect(proof.rounds.map((r) => r.round)).toEqual([0, 1])
    expect(proof.rounds[1]?.eligible).not.toContain(tok(chat, first?.memberId ?? ''))
    expect(proof.rounds[1]?.eligible).toContain(tok(chat, second ?? ''))
    expect(verifyProof(proof)).toEqual([])

    // Claims: by code (case-insensitive), then fulfilled; the forfeited code is gone; states only move forward.
    const winners = (await owner.get(`/api/v1/lotteries/${id}/winners`).expect(200)).body.items as Array<{ memberId: string; claimCode: string; status: string }>
    expect(winners.map((w) => [w.memberId, w.status])).toEqual([[first?.memberId, 'forfeited'], [second, 'won']])
    const code = winners[1]?.claimCode as string
    await owner.post(`/api/v1/lotteries/${id}/claims`, { code: first?.claimCode }).expect(404)
    await owner.post(`/api/v1/lotteries/${id}/claims`, { code: 'ZZZZZZZZ' }).expect(404)
    expect((await owner.post(`/api/v1/lotteries/${id}/claims`, { code: code.toLowerCase() }).expect(200)).body.status).toBe('claimed')
    await owner.post(`/api/v1/lotteries/${id}/claims`, { code }).expect(409)
    expect((await owner.post(`/api/v1/lotteries/${id}/claims`, { memberId: second, status: 'fulfilled' }).expect(200)).body.status).toBe('fulfilled')
    // A claimed winner is not rerolled.
    await owner.post(`/api/v1/lotteries/${id}/reroll`, { memberIds: [second] }).expect(400)
    await owner.post(`/api/v1/lotteries/${id}/claims`, { code, memberId: second }).expect(400)
  })

  it('reads local times in the group timezone, enters who checked in today at close, and asks the activity rollups', async () => {
    chat = await start()
    owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    // Yesterday: bob speaks (and the rollups are written), carol does not.
    await g1.say(bob, '大家好，今天读到第三章了')
    await chat.runtime.flush()
    await chat.rehearsal.advance(86_400_000)
    const today = START + 86_400_000 // 2026-11-24 09:00 Shanghai
    const created = await owner.post('/api/v1/lotteries', definition({
      times: { closesAt: '2026-11-24T10:00', drawAt: '2026-11-24T10:05' }, entry: { autoCheckedIn: 'today' }, prizes: [{ name: '书', quantity: 3 }],
      eligibility: { activeInLastDays: 3 },
    })).expect(201)
    const id = created.body.id as number
    expect(created.body.schedule).toEqual({ opensAt: null, closesAt: '2026-11-24T02:00:00.000Z', drawAt: '2026-11-24T02:05:00.000Z' })
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.rehearsal.quiesce()
    g1.expectReply(/截止：2026-11-24 10:00，开奖：2026-11-24 10:05/)
    await g1.say(carol, '参与抽奖')
    g1.expectReply(/近期活跃度不够/, carol)
    await g1.say(bob, '参与抽奖')
    g1.expectReply(/已参与/, bob)
    // dave checks in today and never says the keyword: entered automatically at close (then screened like everyone).
    await g1.say(dave, '签到')
    await chat.rehearsal.advanceTo(today + 60 * MINUTE)
    await tick(chat)
    const entrants = await owner.get(`/api/v1/lotteries/${id}/entrants`).expect(200)
    expect(entrants.body.items.map((e: { memberId: string; method: string }) => [e.memberId, e.method])).toEqual([['bob', 'keyword'], ['dave', 'auto']])
    await chat.rehearsal.advanceTo(today + 65 * MINUTE)
    await tick(chat)
    const proof = (await owner.get(`/api/v1/lotteries/${id}/proof`).expect(200)).body as LotteryProof
    expect(proof.rounds[0]?.winners).toEqual([tok(chat, 'bob')])
    expect(proof.rounds[0]?.excluded).toEqual([{ memberId: tok(chat, 'dave'), reason: 'not active in the last 3 days' }])
    expect(verifyProof(proof)).toEqual([])
  })
})

describe(`a lottery across two groups (${STORAGE} + ${COORDINATION})`, () => {
  it('announces in both groups, keeps one entry per member across them, and @-mentions winners in their own group', async () => {
    const chat = await Chat.start({
      start: START, http: true,
      groups: [
        { id: 'g1', name: '一群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }] },
        { id: 'g2', name: '二群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'dave', name: 'Dave' }] },
      ],
      rules: { g1: { lottery: { batch: { windowMs: 0 } } }, g2: { lottery: { batch: { windowMs: 0 } } } },
    })
    try {
      const G2 = 'g2@chatroom'
      const owner = await apiAs(chat, 'owner', { groups: [G1, G2] })
      const onlyG1 = await apiAs(chat, 'owner', { groups: [G1], name: 'g1-only' })
      await onlyG1.post('/api/v1/lotteries', definition({ groupIds: [G1, G2] })).expect(400)
      const id = (await owner.post('/api/v1/lotteries', definition({ groupIds: [G1, G2], prizes: [{ name: '书', quantity: 3 }] })).expect(201)).body.id as number
      await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
      await chat.rehearsal.quiesce()
      const [g1, g2] = [chat.group('g1'), chat.group('g2')]
      g1.expectReply(/抽奖开始/)
      g2.expectReply(/抽奖开始/)
      await g1.say(bob, '参与抽奖')
      g1.expectReply(/已参与/, bob)
      await g2.say(bob, '参与抽奖')
      g2.expectReply(/已经参与过/, bob)
      await g1.say(carol, '参与抽奖')
      await g2.say(dave, '参与抽奖')
      await chat.rehearsal.advanceTo(START + 70 * MINUTE)
      await tick(chat)
      await chat.rehearsal.advance(MINUTE)
      await tick(chat)
      // Each group's announcement is its own keyed send; a periodic resume of the bot's stored actions may hold
      // the second one in a paused lane while quiesce() sees nothing running (a harness race): wait for it, bounded.
      const in1 = await chat.eventually(() => g1.expectReply(/开奖啦/))
      const in2 = await chat.eventually(() => g2.expectReply(/开奖啦/))
      expect([...(in1.mentions ?? [])].sort()).toEqual(['bob', 'carol'])
      expect(in2.mentions).toEqual(['dave'])
      // Every winner is listed in both groups; only the local ones are @-mentioned.
      for (const a of [in1, in2]) for (const name of ['阿强', '小雨', 'Dave']) expect(a.text).toContain(name)
    } finally {
      await chat.close()
    }
  })
})

describe('lottery times', () => {
  it('resolves local times in a timezone across daylight saving, and keeps explicit offsets', () => {
    expect(new Date(instantIn('2026-11-24T10:00', 'Asia/Shanghai')).toISOString()).toBe('2026-11-24T02:00:00.000Z')
    expect(new Date(instantIn('2026-03-07T23:30', 'America/New_York')).toISOString()).toBe('2026-03-08T04:30:00.000Z') // EST
    expect(new Date(instantIn('2026-03-08T03:30', 'America/New_York')).toISOString()).toBe('2026-03-08T07:30:00.000Z') // EDT
    expect(new Date(instantIn('2026-11-24T10:00:00+08:00', 'America/New_York')).toISOString()).toBe('2026-11-24T02:00:00.000Z')
  })
})
