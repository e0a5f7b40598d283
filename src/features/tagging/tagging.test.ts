import { defineFeature } from '../../adapters/db/feature-store'
import { LotteryDrawn } from '../../contracts/lottery'
import type { EventBase } from '../../kernel/events'
import { MemberLifecycleChanged } from '../../contracts/tagging'
import { FEATURES } from '../../features'
import { Chat, alice, bob, carol, type Person } from '../../../test/support/chat'
import { apiAs } from '../../../test/support/api'
import { join } from 'node:path'
import { cleanup, COORDINATION, STORAGE, tempDir, testConfig } from '../../../test/support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const DAY = 86_400_000
const G1 = 'g1@chatroom'
const dave: Person = { id: 'dave', name: '大卫' }
const erin: Person = { id: 'erin', name: 'Erin' }
const frank: Person = { id: 'frank', name: '阿发' }

/** Lifecycle events as a consumer receives them (a test-only feature consuming `member.lifecycle_changed`). */
const seen: Array<{ id: string; memberId: string; from: string | null; to: string; reason: string }> = []
const recorder = defineFeature({
  name: 'lifecycle-recorder',
  events: { consumes: [MemberLifecycleChanged] },
  setup() {
    return {
      onEvent(event) {
        if (MemberLifecycleChanged.is(event)) seen.push({ id: event.id, memberId: event.memberId, from: event.from, to: event.to, reason: event.reason })
      },
    }
  },
})
const WITH_RECORDER = [...FEATURES, recorder]

/** Lottery draws as a consumer receives them (to redeliver one to tagging). */
const draws: EventBase[] = []
const drawProbe = defineFeature({
  name: 'draw-probe',
  events: { consumes: [LotteryDrawn] },
  setup() {
    return { onEvent(event) { if (LotteryDrawn.is(event)) draws.push(event) } }
  },
})

/** 10:05 in Shanghai on a Monday. */
const START = Date.parse('2026-11-02T02:05:00Z')

/** Flushes the activity rollups and runs the recompute job for the current instant (it must run). */
async function runJob(chat: Chat): Promise<void> {
  await chat.runtime.flush()
  expect(await chat.runtime.scheduler.runFenced('tagging.recompute', new Date(chat.clock.now()))).toBe('ran')
  await chat.rehearsal.quiesce()
}

type Row = { member_id: string; state: string; seen_day: string; messages: number; active_days: number }
async function memberRow(chat: Chat, memberId: string): Promise<Row | undefined> {
  const rows: Row[] = await chat.runtime.db.query('SELECT member_id, state, seen_day, messages, active_days FROM qy_tagging_member WHERE group_id = ? AND member_id = ?', [G1, memberId])
  return rows.map((r) => ({ ...r, messages: Number(r.messages), active_days: Number(r.active_days) }))[0]
}

const transitionsOf = (memberId: string): string[] => seen.filter((e) => e.memberId === memberId).map((e) => `${e.from ?? '-'}>${e.to}`)

describe(`tagging (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  beforeEach(() => { seen.length = 0 })
  afterEach(async () => { await chat?.close() })

  it('walks a member who stops talking new → active → dormant → churned at the configured days, and back to returned when they speak', async () => {
    chat = await Chat.start({
      start: START, features: WITH_RECORDER, http: true,
      rules: { g1: { tagging: { lifecycle: { newDays: 3, dormantDays: 5, churnedDays: 10 }, actions: { welcomeBack: { enabled: true, text: '欢迎回来，{member}！' } } } } },
    })
    const g1 = chat.group('g1')
    await g1.join([dave], alice)
    await g1.say(dave, '大家好，我是新来的')
    await chat.eventually(() => expect(transitionsOf('dave')).toEqual(['->new']))
    expect(seen.find((e) => e.memberId === 'dave')?.reason).toBe('joined')

    const states: string[] = []
    for (let day = 1; day <= 11; day++) {
      await chat.rehearsal.advanceTo(START + day * DAY)
      // Bob talks every day: he never goes dormant. Being @-mentioned (day 2) is not speaking: dave stays silent.
      await g1.say(bob, day === 2 ? { text: '@大卫 在吗', mentions: ['dave'] } : `第${day}天打个招呼`)
      await runJob(chat)
      states.push((await memberRow(chat, 'dave'))?.state ?? 'none')
    }
    // Joined on day 0 and spoke that day: active after 3 days, dormant after 5 silent days, churned after 10.
    expect(states).toEqual(['new', 'new', 'active', 'active', 'dormant', 'dormant', 'dormant', 'dormant', 'dormant', 'churned', 'churned'])
    expect((await memberRow(chat, 'bob'))?.state).toBe('active')
    await chat.eventually(() => expect(transitionsOf('dave')).toEqual(['->new', 'new>active', 'active>dormant', 'dormant>churned']))

    // The same tick again is fenced; a later tick on the same local day finds the day done.
    expect(await chat.runtime.scheduler.runFenced('tagging.recompute', new Date(chat.clock.now()))).toBe('skipped')
    await chat.rehearsal.advance(3_600_000)
    await runJob(chat)
    expect(transitionsOf('dave')).toHaveLength(4)

    chat.skip()
    await g1.say(dave, '我回来啦')
    g1.expectReply(/欢迎回来，大卫/, dave)
    expect((await memberRow(chat, 'dave'))?.state).toBe('returned')
    await chat.eventually(() => expect(transitionsOf('dave')).toEqual(['->new', 'new>active', 'active>dormant', 'dormant>churned', 'churned>returned']))
    // Saying more the same day changes nothing further.
    await g1.say(dave, '最近大家在聊什么')
    g1.expectNoReply()
    expect(transitionsOf('dave')).toHaveLength(5)

    // The timeline shows the join and every change, newest first.
    const api = await apiAs(chat, 'owner', { groups: [G1] })
    const res = await api.get(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/members/dave`).expect(200)
    const timeline = (res.body as { timeline: Array<{ kind: string; detail: string }> }).timeline
    expect(timeline.filter((t) => t.kind === 'lifecycle').map((t) => t.detail)).toEqual([
      'churned→returned (spoke)', 'dormant→churned (silent)', 'active→dormant (silent)', 'new→active (settled)', '-→new (joined)',
    ])
    expect(timeline.some((t) => t.kind === 'joined')).toBe(true)
  })

  it('churns a member who leaves, and takes a dormant member back at once when they speak (on the fly, no job)', async () => {
    chat = await Chat.start({ start: START, features: WITH_RECORDER, rules: { g1: { tagging: { lifecycle: { dormantDays: 2, churnedDays: 20 } } } } })
    const g1 = chat.group('g1')
    await g1.say(bob, '在吗')
    await g1.say(carol, '在')
    await runJob(chat)
    await chat.rehearsal.advanceTo(START + 3 * DAY)
    await runJob(chat)
    expect((await memberRow(chat, 'bob'))?.state).toBe('dormant')
    await g1.say(bob, '我又来了')
    expect((await memberRow(chat, 'bob'))?.state).toBe('returned')
    await g1.leave([carol])
    expect((await memberRow(chat, 'carol'))?.state).toBe('churned')
    await chat.eventually(() => expect(transitionsOf('carol')).toEqual(['->active', 'active>dormant', 'dormant>churned']))
    expect(seen.filter((e) => e.memberId === 'carol').at(-1)?.reason).toBe('left')
    await chat.eventually(() => expect(transitionsOf('bob').slice(-1)).toEqual(['dormant>returned']))
  })

  it('decays the score by half every half-life and adds check-ins once', async () => {
    chat = await Chat.start({ start: START, http: true, rules: { g1: { tagging: { score: { halfLifeDays: 10, weights: { message: 1, activeDay: 5, checkIn: 4 } } } } } })
    const g1 = chat.group('g1')
    const api = await apiAs(chat, 'owner', { groups: [G1] })
    const scoreOf = async (memberId: string): Promise<number> =>
      (await api.get(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/members/${memberId}`).expect(200)).body.score as number
    await g1.say(bob, '一')
    await g1.say(bob, '二')
    await g1.say(bob, '三')
    await g1.say(carol, '你好')
    // The day is folded in after it ends: 3 messages + one active day = 8 points (dated at the day's noon UTC).
    await chat.rehearsal.advanceTo(Date.parse('2026-11-03T12:00:00Z'))
    await runJob(chat)
    expect(await scoreOf('bob')).toBeCloseTo(8 * Math.pow(2, -0.1), 2)
    // Ten days after the day's noon: exactly half, with no job run in between (decay is computed on read).
    await chat.rehearsal.advanceTo(Date.parse('2026-11-12T12:00:00Z'))
    expect(await scoreOf('bob')).toBeCloseTo(4, 2)
    expect(await scoreOf('carol')).toBeCloseTo(3, 2)
    // A check-in adds its weight at once (the event, consumed), once.
    await g1.say(bob, '签到')
    await chat.eventually(async () => expect(await scoreOf('bob')).toBeCloseTo(8, 2))
    await g1.say(bob, '签到') // already checked in today: no event, no points
    await chat.rehearsal.quiesce()
    expect(await scoreOf('bob')).toBeCloseTo(8, 2)
    // Being @-mentioned by someone else counts (weight 2 by default), written on the flush.
    await g1.say(carol, { text: '@阿强 说得对', mentions: ['bob'] })
    await chat.runtime.flush()
    expect(await scoreOf('bob')).toBeCloseTo(10, 2)
    // A changed half-life rescales stored scores at the next recompute, keeping current values.
    await chat.runtime.rules.write(G1, 'tagging', { score: { halfLifeDays: 5, weights: { message: 1, activeDay: 5, checkIn: 4 } } }, { by: null, note: 'test' })
    await chat.rehearsal.advanceTo(Date.parse('2026-11-13T12:00:00Z'))
    await runJob(chat)
    // bob: 8 at 11-12 noon, one day at half-life 10 (before the change) … then a day of message activity (签到 ×2 = 2 messages + 5).
    const bobScore = await scoreOf('bob')
    expect(bobScore).toBeGreaterThan(7)
    await chat.rehearsal.advanceTo(Date.parse('2026-11-18T12:00:00Z'))
    expect(await scoreOf('bob')).toBeCloseTo(bobScore / 2, 2)
  })
})

describe(`tagging across replicas (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('sizes points on another runtime with the scale the daily job moved (half-life change and epoch move), not one it saw before', async () => {
    // One database: a SQLite file, or (with QUNYUN_DB_URL) one MySQL database both runtimes open.
    const sqlitePath = join(tempDir(), 'tagging-replicas.sqlite')
    const config = await testConfig()
    const rules = { g1: { tagging: { score: { halfLifeDays: 10, weights: { message: 0, activeDay: 0, checkIn: 4 } } } } }
    chat = await Chat.start({ start: START, http: true, sqlitePath, config, rules })
    const second = await Chat.start({ start: START, http: true, sqlitePath, config, rules })
    try {
      const api = await apiAs(chat, 'owner', { groups: [G1] })
      const scoreOf = async (memberId: string): Promise<number> =>
        (await api.get(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/members/${memberId}`).expect(200)).body.score as number
      // The first runtime (with Redis, the one that holds the bot) adds bob's check-in points: it reads the
      // group's scale (half-life 10, today's epoch).
      await chat.group('g1').say(bob, '签到')
      await chat.eventually(async () => expect(await scoreOf('bob')).toBeCloseTo(4, 2))
      // Ten days on, the second runtime's job follows a half-life change: the scale moves (new epoch, half-life 5).
      await second.runtime.rules.write(G1, 'tagging', { score: { halfLifeDays: 5, weights: { message: 0, activeDay: 0, checkIn: 4 } } }, { by: null, note: 'test' })
      const later = START + 10 * DAY
      await chat.rehearsal.advanceTo(later)
      await second.rehearsal.advanceTo(later)
      await runJob(second)
      const scaled = await chat.runtime.db.query('SELECT half_life FROM qy_tagging_group WHERE group_id = ?', [G1]) as Array<{ half_life: number | string }>
      expect(scaled.map((r) => Number(r.half_life))).toEqual([5])
      const before = 4 * Math.pow(2, -10 * DAY / (10 * DAY))
      expect(await scoreOf('bob')).toBeCloseTo(before, 2)
      // bob checks in on the first runtime: exactly 4 more now (its old scale would add about 8).
      await chat.group('g1').say(bob, '签到')
      await chat.eventually(async () => expect(await scoreOf('bob')).toBeGreaterThan(before + 1))
      await chat.rehearsal.quiesce()
      expect(await scoreOf('bob')).toBeCloseTo(before + 4, 2)
      // And it decays with the new half-life everywhere: five days later, half.
      await chat.rehearsal.advanceTo(later + 5 * DAY)
      expect(await scoreOf('bob')).toBeCloseTo((before + 4) / 2, 2)
    } finally {
      await second.close()
    }
  })
})

describe(`tagging actions and tags (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  beforeEach(() => { seen.length = 0 })
  afterEach(async () => { await chat?.close() })

  it('wakes dormant members in batches, at most once per member per interval, never in quiet hours, and measures the wake-up rate', async () => {
    chat = await Chat.start({
      start: START, http: true,
      rules: { g1: { tagging: { lifecycle: { dormantDays: 2, churnedDays: 30 }, actions: { wakeUp: { enabled: true, text: '好久不见，{count} 位朋友～', batchSize: 2, minIntervalDays: 7, quietStart: '22:00', quietEnd: '09:00' } } } } },
    })
    const g1 = chat.group('g1')
    await g1.join([dave, erin, frank], alice)
    await runJob(chat)
    chat.skip()
    await chat.rehearsal.advanceTo(START + 2 * DAY)
    // The members seeded on the first run talk today: only the three silent newcomers go dormant.
    for (const who of [alice, bob, carol]) await g1.say(who, '早上好')
    await runJob(chat)
    expect((await memberRow(chat, 'frank'))?.state).toBe('dormant')
    expect((await memberRow(chat, 'bob'))?.state).toBe('active')
    // One batch per run: the two who went dormant first (then by id).
    const first = g1.expectReply(/好久不见，2 位朋友/)
    expect(first.mentions).toEqual(['dave', 'erin'])
    g1.expectNoReply()
    await chat.rehearsal.advance(3_600_000)
    await runJob(chat)
    expect(g1.expectReply(/好久不见，1 位朋友/).mentions).toEqual(['frank'])
    await chat.rehearsal.advance(3_600_000)
    await runJob(chat)
    g1.expectNoReply()

    // Frank speaks the next day: back, and counted as woken.
    await chat.rehearsal.advanceTo(START + 3 * DAY)
    await g1.say(frank, '看到了，最近忙')
    expect((await memberRow(chat, 'frank'))?.state).toBe('returned')
    const api = await apiAs(chat, 'owner', { groups: [G1] })
    const stats = await api.get(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/stats`).expect(200)
    expect(stats.body.wakeUp).toEqual({ mentioned: 3, woken: 1, rate: 0.333 })

    // Seven days after the first wake-up, at 23:05: quiet hours, nothing. The next morning: dave and erin again.
    chat.skip()
    await chat.rehearsal.advanceTo(START + 9 * DAY + 13 * 3_600_000)
    await runJob(chat)
    g1.expectNoReply()
    await chat.rehearsal.advanceTo(START + 10 * DAY)
    await runJob(chat)
    expect(g1.expectReply(/好久不见，2 位朋友/).mentions).toEqual(['dave', 'erin'])
  })

  it('applies tag rules (keyword said lately, lifecycle and score) and RFM segments, un-applies them when they stop holding, keeps manual tags', async () => {
    chat = await Chat.start({
      start: START, http: true,
      rules: { g1: { tagging: {
        lifecycle: { dormantDays: 5, churnedDays: 30 },
        score: { halfLifeDays: 60 },
        rfm: { recentDays: 3, engagedScore: 7 },
        tags: [
          { id: 'price', tag: '关注价格', when: { keyword: { words: ['价格', '多少钱'], days: 3 } }, syncContactTag: true },
          { id: 'fans', tag: '铁粉', when: { lifecycle: ['active'], scoreMin: 7 } },
        ],
      } } },
    })
    const g1 = chat.group('g1')
    const path = `/api/v1/groups/${encodeURIComponent(G1)}`
    const api = await apiAs(chat, 'owner', { groups: [G1] })
    const tagsOf = async (memberId: string): Promise<string[]> => (await api.get(`${path}/tagging/members/${memberId}`).expect(200)).body.tags as string[]
    // Traditional characters and a full-width question mark: still 多少钱.
    await g1.say(bob, '這個多少錢？')
    await g1.say(bob, '有优惠吗')
    await g1.say(bob, '想买两个')
    await g1.say(carol, '今天天气不错')
    await chat.rehearsal.advanceTo(START + DAY)
    chat.skip()
    await runJob(chat)
    // bob: 3 messages + an active day = 8 (a little decayed) → engaged; carol: 6.
    expect(await tagsOf('bob')).toEqual(['关注价格', '铁粉', '高价值'].sort())
    expect(await tagsOf('carol')).toEqual(['潜力'])
    // The interest tag is synced to the contact through the outbound queue.
    chat.take((a) => a.kind === 'tag' && a.memberId === 'bob', 'contact tag on bob')

    const listed = await api.get(`${path}/tagging/members?tag=${encodeURIComponent('关注价格')}`).expect(200)
    expect(listed.body.items.map((m: { memberId: string }) => m.memberId)).toEqual(['bob'])
    const bySegment = await api.get(`${path}/tagging/members?segment=potential`).expect(200)
    // Alice (seeded from the directory on the first run, silent, no score) is recent but not engaged either.
    expect(bySegment.body.items.map((m: { memberId: string }) => m.memberId)).toEqual(['carol', 'alice'])
    const sorted = await api.get(`${path}/tagging/members?sort=score&order=desc&limit=2`).expect(200)
    expect(sorted.body.items.map((m: { memberId: string }) => m.memberId)).toEqual(['bob', 'carol'])
    expect(sorted.body.total).toBeGreaterThanOrEqual(2)

    // Dry run: who would get a rule now (the saved one, and a draft).
    const dry = await api.post(`${path}/rules/tagging/dry-run`, { tagRuleId: 'fans' }).expect(200)
    expect(dry.body).toMatchObject({ tag: '铁粉', count: 1, members: ['bob'], gain: [], lose: [] })
    const draft = await api.post(`${path}/rules/tagging/dry-run`, { tagRule: { id: 'any', tag: '有分', when: { scoreMin: 5 } } }).expect(200)
    expect(draft.body.members).toEqual(['bob', 'carol'])

    // A manual tag is kept by the rules and removable through the API.
    await api.post(`${path}/tagging/members/carol/tags`, { tag: '讲师' }).expect(201)

    // Four days on: the keyword is older than 3 days, bob's recency lapsed; at 5 silent days bob is dormant.
    await chat.rehearsal.advanceTo(START + 4 * DAY)
    chat.skip()
    await runJob(chat)
    expect(await tagsOf('bob')).toEqual(['铁粉', '需唤醒'].sort())
    // The lapsed interest tag comes off the contact too (the 铁粉 rule does not sync: nothing for it).
    expect(chat.pending().filter((a) => a.kind === 'tag' || a.kind === 'untag').map((a) => `${a.kind} ${a.memberId} ${a.tag}`)).toEqual(['untag bob 关注价格'])
    await chat.rehearsal.advanceTo(START + 5 * DAY)
    await runJob(chat)
    expect((await memberRow(chat, 'bob'))?.state).toBe('dormant')
    expect(await tagsOf('bob')).toEqual(['需唤醒'])
    expect((await tagsOf('carol')).sort()).toEqual(['流失风险', '讲师'].sort())
    const timeline = (await api.get(`${path}/tagging/members/bob`).expect(200)).body.timeline as Array<{ kind: string; detail: string }>
    expect(timeline.filter((t) => t.kind === 'untagged').map((t) => t.detail).sort()).toEqual(['关注价格 (rule:price)', '铁粉 (rule:fans)', '高价值 (rfm)'].sort())
    await api.del(`${path}/tagging/members/carol/tags/${encodeURIComponent('讲师')}`).expect(200)
    expect(await tagsOf('carol')).toEqual(['流失风险'])
  })

  it('re-tags every member after a rules change (inviter and check-in streak conditions), and settles returned members back to active', async () => {
    chat = await Chat.start({ start: START, http: true, rules: { g1: { tagging: { lifecycle: { dormantDays: 2, churnedDays: 20, returnedDays: 2 } } } } })
    const g1 = chat.group('g1')
    const path = `/api/v1/groups/${encodeURIComponent(G1)}`
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    await g1.join([dave], carol)
    await g1.say(bob, '签到')
    await runJob(chat)
    const tagsOf = async (memberId: string): Promise<string[]> => (await owner.get(`${path}/tagging/members/${memberId}`).expect(200)).body.tags as string[]
    expect(await tagsOf('dave')).toEqual(['潜力'])
    // New rules the same day: nothing changes until the next run, which evaluates every member.
    const rules = (await owner.get(`${path}/rules/tagging`).expect(200)).body
    const value = (rules.rules ?? rules.value ?? rules) as Record<string, unknown>
    await owner.put(`${path}/rules/tagging`, { ...value, tags: [
      { id: 'carols', tag: '小雨邀请', when: { inviters: ['carol'] } },
      { id: 'streak', tag: '签到达人', when: { streakMin: 1 } },
    ] }).expect(200)
    await chat.rehearsal.advanceTo(START + DAY)
    await g1.say(bob, '签到')
    await runJob(chat)
    expect(await tagsOf('dave')).toEqual(['小雨邀请', '潜力'].sort())
    expect(await tagsOf('bob')).toContain('签到达人')
    expect(await tagsOf('carol')).not.toContain('签到达人')

    // Dave goes dormant, speaks (returned), and after returnedDays counts as active again.
    await chat.rehearsal.advanceTo(START + 2 * DAY)
    await runJob(chat)
    expect((await memberRow(chat, 'dave'))?.state).toBe('dormant')
    await g1.say(dave, '我在')
    expect((await memberRow(chat, 'dave'))?.state).toBe('returned')
    await chat.rehearsal.advanceTo(START + 4 * DAY)
    await g1.say(dave, '继续聊')
    await runJob(chat)
    expect((await memberRow(chat, 'dave'))?.state).toBe('active')
  })

  it('previews churned members and removes them only on the owner\'s confirmation, once', async () => {
    chat = await Chat.start({ start: START, http: true, rules: { g1: { tagging: { lifecycle: { dormantDays: 2, churnedDays: 4 } } } } })
    const g1 = chat.group('g1')
    const path = `/api/v1/groups/${encodeURIComponent(G1)}`
    await g1.join([dave, erin], alice)
    await runJob(chat)
    for (let day = 1; day <= 5; day++) {
      await chat.rehearsal.advanceTo(START + day * DAY)
      for (const who of [alice, bob, carol]) await g1.say(who, '今天也来聊聊')
      await runJob(chat)
    }
    chat.skip()
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const preview = await owner.get(`${path}/tagging/cleanup`).expect(200)
    expect(preview.body.members.map((m: { memberId: string }) => m.memberId)).toEqual(['dave', 'erin'])
    // Nothing is removed by the preview (or by the job).
    expect(chat.pending().filter((a) => a.kind === 'remove')).toEqual([])
    const operator = await apiAs(chat, 'operator', { groups: [G1] })
    await operator.post(`${path}/tagging/cleanup`, { memberIds: ['dave', 'erin'], confirmation: preview.body.confirmation }).expect(403)
    // Another list than the preview's is refused.
    await owner.post(`${path}/tagging/cleanup`, { memberIds: ['dave', 'bob'], confirmation: preview.body.confirmation }).expect(400)
    const done = await owner.post(`${path}/tagging/cleanup`, { memberIds: ['dave', 'erin'], confirmation: preview.body.confirmation }).expect(200)
    expect(done.body).toMatchObject({ removed: ['dave', 'erin'], skipped: [] })
    await chat.rehearsal.quiesce()
    g1.expectRemoved(dave)
    g1.expectRemoved(erin)
    const again = await owner.post(`${path}/tagging/cleanup`, { memberIds: ['dave', 'erin'], confirmation: preview.body.confirmation }).expect(200)
    expect(again.body.removed).toEqual([])
    await chat.rehearsal.quiesce()
    expect(chat.pending().filter((a) => a.kind === 'remove')).toEqual([])
  })

  it('shows members only to callers whose scope includes the group, validates input, and puts strikes on the timeline', async () => {
    chat = await Chat.start({ start: START, http: true, rules: { g1: { moderation: { enabled: true, words: { add: ['加我微信'] } } } } })
    await chat.group('g1').say(bob, '你好')
    await chat.group('g1').say(carol, '加我微信领资料')
    const path = `/api/v1/groups/${encodeURIComponent(G1)}`
    const other = await apiAs(chat, 'owner', { groups: ['g2@chatroom'] })
    await other.get(`${path}/tagging/members`).expect(404)
    await other.get(`${path}/tagging/members/bob`).expect(404)
    await other.post(`${path}/tagging/members/bob/tags`, { tag: 'x' }).expect(404)
    const mine = await apiAs(chat, 'owner', { groups: [G1] })
    await mine.get(`${path}/tagging/members?limit=100000`).expect(400)
    await mine.get(`${path}/tagging/members?state=sleepy`).expect(400)
    await mine.put(`${path}/rules/tagging`, { lifecycle: { dormantDays: 30, churnedDays: 10 } }).expect(400)
    const operator = await apiAs(chat, 'operator', { groups: [G1] })
    await operator.post(`${path}/tagging/members/bob/tags`, { tag: 'x' }).expect(403)
    const res = await mine.get(`${path}/tagging/members?sort=joined`).expect(200)
    expect(res.body.items.map((m: { memberId: string; state: string }) => [m.memberId, m.state]).sort()).toEqual([['bob', 'active'], ['carol', 'active']])
    await chat.eventually(async () => {
      const timeline = (await mine.get(`${path}/tagging/members/carol`).expect(200)).body.timeline as Array<{ kind: string; detail: string }>
      expect(timeline.filter((t) => t.kind === 'strike').map((t) => t.detail)).toEqual(['warn (strike 1): words'])
    })
  })

  it('puts lottery wins on the winners\' timelines (lottery id and round), once however often the draw is delivered', async () => {
    draws.length = 0
    chat = await Chat.start({ start: START, http: true, features: [...FEATURES, drawProbe], rules: { g1: { lottery: { batch: { windowMs: 0 } } } } })
    const g1 = chat.group('g1')
    const path = `/api/v1/groups/${encodeURIComponent(G1)}`
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const iso = (ms: number): string => new Date(ms).toISOString()
    const created = await owner.post('/api/v1/lotteries', {
      title: '周一抽奖', groupIds: [G1], prizes: [{ name: '新书', quantity: 2 }], entry: { keyword: '参与抽奖' },
      times: { closesAt: iso(START + 3_600_000), drawAt: iso(START + 4_200_000) },
    }).expect(201)
    const id = created.body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    for (const who of [bob, carol, dave]) await g1.say(who, '参与抽奖')
    for (const at of [START + 3_600_000, START + 4_200_000]) {
      await chat.rehearsal.advanceTo(at)
      expect(await chat.runtime.scheduler.runFenced('lottery.tick', new Date(chat.clock.now()))).toBe('ran')
      await chat.rehearsal.quiesce()
    }
    chat.skip()
    const winners = ((await owner.get(`/api/v1/lotteries/${id}`).expect(200)).body.winners as Array<{ memberId: string }>).map((w) => w.memberId).sort()
    expect(winners).toHaveLength(2)
    const loser = ['bob', 'carol', 'dave'].find((m) => !winners.includes(m)) as string
    const wins = async (memberId: string): Promise<string[]> =>
      ((await owner.get(`${path}/tagging/members/${memberId}`).expect(200)).body.timeline as Array<{ kind: string; detail: string }>).filter((t) => t.kind === 'lottery_won').map((t) => t.detail)
    await chat.eventually(async () => { for (const w of winners) expect(await wins(w)).toEqual([`lottery ${id}, round 0`]) })
    expect(await wins(loser)).toEqual([])

    // The same draw delivered again (at-least-once delivery): no second entry.
    await chat.eventually(() => expect(draws.length).toBeGreaterThan(0))
    const tagging = chat.runtime.features.find((f) => f.name === 'tagging')
    for (const e of draws) await tagging?.instance.onEvent?.(e)
    for (const w of winners) expect(await wins(w)).toEqual([`lottery ${id}, round 0`])
    const rows = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_tagging_history WHERE group_id = ? AND kind = ?', [G1, 'lottery_won']) as Array<{ n: number | string }>
    expect(Number(rows[0]?.n)).toBe(2)
  })

  it('wakes dormant members by direct message when the rules say so: one message each, same interval and quiet hours, none in the group', async () => {
    chat = await Chat.start({
      start: START, http: true,
      rules: { g1: { tagging: { lifecycle: { dormantDays: 2, churnedDays: 30 }, actions: { wakeUp: { enabled: true, channel: 'direct', text: '好久不见，群里最近很热闹～', batchSize: 2, minIntervalDays: 7 } } } } },
    })
    const g1 = chat.group('g1')
    await g1.join([dave, erin, frank], alice)
    await runJob(chat)
    chat.skip()
    await chat.rehearsal.advanceTo(START + 2 * DAY)
    for (const who of [alice, bob, carol]) await g1.say(who, '早上好')
    await runJob(chat)
    expect((await memberRow(chat, 'dave'))?.state).toBe('dormant')
    /** Direct messages the bot sent since the last check (the mock puppet records them with the contact as conversation). */
    const directs = (): string[] => {
      const sent = chat.pending().filter((a) => a.kind === 'say' && ['dave', 'erin', 'frank'].includes(a.groupId ?? ''))
      for (const a of sent) expect(a.text).toBe('好久不见，群里最近很热闹～')
      chat.skip()
      return sent.map((a) => a.groupId as string).sort()
    }
    // Nothing in the group: each of the first batch gets their own message.
    g1.expectNoReply()
    expect(directs()).toEqual(['dave', 'erin'])
    await chat.rehearsal.advance(3_600_000)
    await runJob(chat)
    expect(directs()).toEqual(['frank'])
    await chat.rehearsal.advance(3_600_000)
    await runJob(chat)
    expect(directs()).toEqual([])

    const api = await apiAs(chat, 'owner', { groups: [G1] })
    const timeline = (await api.get(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/members/dave`).expect(200)).body.timeline as Array<{ kind: string; detail: string | null }>
    expect(timeline.filter((t) => t.kind === 'wakeup').map((t) => t.detail)).toEqual(['direct'])
    expect((await api.get(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/stats`).expect(200)).body.wakeUp).toMatchObject({ mentioned: 3 })

    // Quiet hours (23:05) a week on: nothing; the next morning dave and erin again, frank the hour after.
    await chat.rehearsal.advanceTo(START + 9 * DAY + 13 * 3_600_000)
    await runJob(chat)
    expect(directs()).toEqual([])
    await chat.rehearsal.advanceTo(START + 10 * DAY)
    await runJob(chat)
    g1.expectNoReply()
    expect(directs()).toEqual(['dave', 'erin'])
  })
})
