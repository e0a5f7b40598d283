import { apiAs, type ApiClient } from '../../../test/support/api'
import { Chat, type Person } from '../../../test/support/chat'
import { cleanup, COORDINATION, STORAGE } from '../../../test/support/env'
import { G1, G2 } from '../../../test/support/groups'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../adapters/db/data-source'
import { FeatureStore } from '../../adapters/db/feature-store'
import { parseCsv } from '../../kernel/csv'
import { testConfig } from '../../../test/support/env'
import { statsFeature } from './index'
import { StatsBuffer } from './stats.buffer'
import { pruneTerms, topics, TERMS_KEPT_PER_DAY } from './stats.content'
import { isQuestion } from './stats.questions'
import { extractTerms } from './stats.terms'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const MINUTE = 60_000
/** A time in Shanghai (the server runs in UTC). */
const shanghai = (date: string, time = '10:00:00'): number => Date.parse(`${date}T${time}+08:00`)
type Json = Record<string, unknown>

const alice: Person = { id: 'alice', name: 'Alice' }
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }
const erin: Person = { id: 'erin', name: '小E' }
const dave: Person = { id: 'dave', name: 'Dave' }

/** Two groups with different owners; g1 has four members. */
const GROUPS = [
  { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' as const }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }, { id: 'erin', name: '小E' }] },
  { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' as const }, { id: 'fay', name: 'Fay' }] },
]

async function body(api: ApiClient, path: string): Promise<Json> {
  const res = await api.get(path)
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body as Json
}

async function csv(api: ApiClient, path: string): Promise<string[][]> {
  const res = await api.get(path).buffer(true).parse((r, done) => { let s = ''; r.setEncoding('utf8'); r.on('data', (c: string) => { s += c }); r.on('end', () => done(null, s)) }).expect(200)
  expect(res.headers['content-type']).toMatch(/^text\/csv/)
  const text = res.body as string
  expect(text.charCodeAt(0)).toBe(0xfeff)
  return parseCsv(text)
}

describe('term extraction and question heuristic', () => {
  it('reads traditional, full-width and emoji-coded text as the same terms, without URLs, mentions, stop words or single characters', () => {
    expect(extractTerms('直播回放在哪裡看？[呲牙]')).toEqual(extractTerms('直播回放在哪里看?'))
    expect(extractTerms('ＰＹＴＨＯＮ入門課程')).toEqual(['python', '入门', '课程'])
    expect(extractTerms('@阿强\u2005看看 https://example.com/python 新书发售')).toEqual(['看看', '新书', '发售'])
    expect(extractTerms('签到')).toEqual([])
    expect(extractTerms('哈哈哈哈😂 好的 谢谢')).toEqual([])
    // Once per message, however often it is repeated.
    expect(extractTerms('直播 直播 直播')).toEqual(['直播'])
  })

  it('recognises questions by mark, particle and question words, in Chinese (traditional too) and English', () => {
    for (const q of ['明天上课吗', '明天上課嗎', '几点开始？', '几点开始?[呲牙]', '请问价格', 'how do I join', '課程多少錢', '你呢']) expect([q, isQuestion(q)]).toEqual([q, true])
    for (const s of ['十点开始', '好的', 'see you', '收到！']) expect([s, isQuestion(s)]).toEqual([s, false])
  })
})

describe(`hot topics, questions and best time through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('shows the terms members type (traditional and full-width forms folded) per group and across the owner\'s groups, rising vs the day before; another owner sees none of it', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-23', '09:00:00'), http: true, groups: GROUPS, rules: { g1: { 'check-in': { batch: { windowMs: 0 } } } } })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const other = await apiAs(chat, 'owner', { groups: [G2] })
    const g1 = chat.group('g1')
    // Day 1: 读书 is talked about; 直播 once.
    await g1.say(bob, '读书 周末')
    await g1.say(carol, '讀書，分享！')
    await g1.say(erin, '周末读书打卡')
    await g1.say(alice, '晚上有直播')
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '09:00:00'))
    // Day 2: 直播 rises (traditional, full-width punctuation, an emoji code, a link), python appears in full width.
    await g1.say(bob, '直播回放在哪裡看？')
    await g1.say(carol, '今晚直播幾點開始[呲牙]')
    await g1.say(erin, '直播链接 https://example.com/live 已经发了')
    await g1.say(alice, 'ＰＹＴＨＯＮ 读书 直播')
    await g1.say(bob, '签到')
    g1.expectReply(/签到成功/, bob)
    await chat.group('g2').say(dave, '直播跑步 马拉松 马拉松训练')
    await chat.runtime.flush()

    const day2 = await body(owner, `/api/v1/groups/${G1}/stats/topics?from=2026-11-24&to=2026-11-24&minCount=2`)
    expect(day2).toMatchObject({ groupId: G1, from: '2026-11-24', to: '2026-11-24', previous: { from: '2026-11-23', to: '2026-11-23' } })
    const top = day2.top as Array<{ term: string; count: number; previous: number }>
    expect(top[0]).toEqual({ term: '直播', count: 4, previous: 1 })
    expect(top.map((t) => t.term)).toEqual(expect.arrayContaining(['python', '今晚', '链接', '读书']))
    // The command, the URL and the stop words never become terms; g2's words stay in g2.
    for (const t of top) expect(['签到', 'https', 'example', 'com', '马拉松', '跑步']).not.toContain(t.term)
    // Rising: 直播 4 vs 1 → growth 3 (读书 fell 3 → 1 and is not rising; terms under minCount are left out).
    expect(day2.rising).toEqual([{ term: '直播', count: 4, previous: 1, growth: 3 }])

    const both = await body(owner, '/api/v1/stats/topics?from=2026-11-23&to=2026-11-24&limit=3')
    expect((both.top as Json[])[0]).toMatchObject({ term: '直播', count: 5 })
    expect((both.top as Json[]).map((t) => t.term)).toContain('读书')
    const theirs = await body(other, '/api/v1/stats/topics?from=2026-11-23&to=2026-11-24')
    expect((theirs.top as Json[]).map((t) => [t.term, t.count])).toEqual(expect.arrayContaining([['直播', 1], ['马拉松', 1]]))
    expect((theirs.top as Json[]).map((t) => t.term)).not.toContain('读书')
    // Another owner: the group's reports do not exist for them, and they cannot name it in a cross-group report.
    for (const path of [`/api/v1/groups/${G1}/stats/topics`, `/api/v1/groups/${G1}/stats/topics.csv`, `/api/v1/stats/topics?groupIds=${encodeURIComponent(G1)}`]) {
      await other.get(path).expect(404)
    }

    const table = await csv(owner, `/api/v1/groups/${G1}/stats/topics.csv?from=2026-11-24&to=2026-11-24&minCount=2`)
    expect(table[0]).toEqual(['list', 'rank', 'term', 'count', 'previous', 'growth'])
    expect(table[1]).toEqual(['top', '1', '直播', '4', '1', ''])
    expect(table.find((r) => r[0] === 'rising')).toEqual(['rising', '1', '直播', '4', '1', '3'])

    // Bad input names the parameter.
    const bad = await owner.get(`/api/v1/groups/${G1}/stats/topics?minCount=0`)
    expect(bad.status).toBe(400)
  })

  it('counts questions resolved by another member or an auto-reply within the window, the median minutes to answer, and ranks the best time to post', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-23', '10:00:00'), http: true, groups: GROUPS, rules: { g1: { stats: { questions: { answerWithinMinutes: 10 } } } } })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const other = await apiAs(chat, 'owner', { groups: [G2] })
    await owner.post('/api/v1/auto-replies', { name: '价格', trigger: { type: 'contains', keywords: ['价格'] }, cooldown: { groupSeconds: 0 }, answer: { variants: [{ text: '课程价格是 99 元' }] } }).expect(201)
    const g1 = chat.group('g1')
    // 10:00 bob asks; carol answers 4 minutes later (resolved by a member, 4 min).
    await g1.say(bob, '明天幾點上課？')
    await chat.rehearsal.advance(4 * MINUTE)
    await g1.say(carol, '十点')
    // 10:05 erin asks about the price: the auto-reply answers (0 min).
    await chat.rehearsal.advance(MINUTE)
    await g1.say(erin, '课程价格是多少')
    g1.expectReply(/课程价格是 99 元/)
    // 10:06 carol asks; only she speaks again, then bob answers after the 10-minute window: unresolved.
    await chat.rehearsal.advance(MINUTE)
    await g1.say(carol, 'how long is the course')
    await g1.say(carol, '没人知道吗')
    await chat.rehearsal.advance(11 * MINUTE)
    await g1.say(bob, '两个小时')
    // Next day 20:00: a busy hour with one question answered at once by another member.
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '20:00:00'))
    await g1.say(alice, '今晚有人一起读吗')
    await g1.say(bob, '我来')
    await g1.say(carol, '我也来')
    await g1.say(erin, '加一')

    // The auto-reply resolved erin's question in its message's step (not when its event reaches stats, which
    // may be after carol's and bob's messages): one flush, one read.
    await chat.rehearsal.quiesce()
    await chat.runtime.flush()
    const q = await body(owner, `/api/v1/groups/${G1}/stats/questions?from=2026-11-23&to=2026-11-24`)
    // Day 1: 4 questions (bob, erin, carol twice), resolved: bob's by carol (4 min), erin's by the auto-reply (0 min).
    // Day 2: 1 question, resolved by bob (0 min). Median of [0, 0, 4] = 0.
    expect(q.days).toEqual([
      { day: '2026-11-23', questions: 4, resolved: 2, byAutoReply: 1, resolutionRate: 0.5, medianMinutesToAnswer: 0 },
      { day: '2026-11-24', questions: 1, resolved: 1, byAutoReply: 0, resolutionRate: 1, medianMinutesToAnswer: 0 },
    ])
    expect(q.total).toEqual({ questions: 5, resolved: 3, byAutoReply: 1, resolutionRate: 0.6, medianMinutesToAnswer: 0 })
    const only1 = await body(owner, `/api/v1/groups/${G1}/stats/questions?from=2026-11-23&to=2026-11-23`)
    expect((only1.total as Json).medianMinutesToAnswer).toBe(0)
    expect(await csv(owner, `/api/v1/groups/${G1}/stats/questions.csv?from=2026-11-24&to=2026-11-24`)).toEqual([
      ['day', 'questions', 'resolved', 'byAutoReply', 'resolutionRate', 'medianMinutesToAnswer'], ['2026-11-24', '1', '1', '0', '1', '0'], ['total', '1', '1', '0', '1', '0'],
    ])

    // Best time: Tuesday 20:00 had 4 speakers and its one question answered: 4 × (1+1)/(1+2); Monday 10:00 had 3 speakers and 2 of 4 answered: 3 × (2+1)/(4+2).
    const best = await body(owner, `/api/v1/groups/${G1}/stats/best-time?from=2026-11-23&to=2026-11-24&top=2`)
    expect((best.slots as Json[]).length).toBe(168)
    expect(best.best).toEqual([
      { weekday: 1, hour: 20, occurrences: 1, messages: 4, speakers: 4, avgSpeakers: 4, questions: 1, resolved: 1, responseRate: 0.6667, score: 2.6668 },
      { weekday: 0, hour: 10, occurrences: 1, messages: 6, speakers: 3, avgSpeakers: 3, questions: 4, resolved: 2, responseRate: 0.5, score: 1.5 },
    ])
    expect(String(best.method)).toContain('responseRate')
    const acrossBest = await body(owner, '/api/v1/stats/best-time?from=2026-11-23&to=2026-11-24&top=1')
    expect(acrossBest.best).toEqual([(best.best as Json[])[0]])
    for (const path of [`/api/v1/groups/${G1}/stats/questions`, `/api/v1/groups/${G1}/stats/best-time.csv`, `/api/v1/stats/questions?groupIds=${encodeURIComponent(G1)}`]) await other.get(path).expect(404)
    expect(((await body(other, '/api/v1/stats/questions?from=2026-11-23&to=2026-11-24')).total as Json).questions).toBe(0)
  })
  it('counts an owner\'s false-positive mark once per moderation event in the per-rule report; other owners and operators cannot mark', async () => {
    chat = await Chat.start({ start: shanghai('2026-11-23'), http: true, groups: GROUPS, rules: { g1: { moderation: { enabled: true, words: { add: ['加微信'], action: 'warn' } } } } })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const other = await apiAs(chat, 'owner', { groups: [G2] })
    const operator = await apiAs(chat, 'operator', { groups: [G1] })
    const g1 = chat.group('g1')
    await g1.say(bob, '加微信 领资料')
    await g1.say(carol, '老师说可以加微信问')
    const events = (await body(owner, `/api/v1/groups/${G1}/moderation/events`)).items as Array<{ id: number; memberId: string; detector: string; falsePositiveAt: string | null }>
    // One row per matching list (the group's words and the default pack's ads list); the first is carol's.
    expect(events.map((e) => [e.memberId, e.detector, e.falsePositiveAt])).toEqual([...Array(3).fill(['carol', 'words', null]), ...Array(3).fill(['bob', 'words', null])])
    const carolsHit = events[0]?.id as number

    await other.post(`/api/v1/groups/${G1}/moderation/events/${carolsHit}/false-positive`).expect(404)
    await operator.post(`/api/v1/groups/${G1}/moderation/events/${carolsHit}/false-positive`).expect(403)
    await owner.post(`/api/v1/groups/${G1}/moderation/events/999999/false-positive`).expect(404)
    await owner.post(`/api/v1/groups/${G1}/moderation/events/abc/false-positive`).expect(400)
    const marked = await owner.post(`/api/v1/groups/${G1}/moderation/events/${carolsHit}/false-positive`).expect(200)
    expect(marked.body).toMatchObject({ groupId: G1, eventId: carolsHit, detector: 'words', alreadyMarked: false })
    const again = await owner.post(`/api/v1/groups/${G1}/moderation/events/${carolsHit}/false-positive`).expect(200)
    expect(again.body).toMatchObject({ alreadyMarked: true, falsePositiveAt: (marked.body as Json).falsePositiveAt })

    // Every row of carol's message for that rule is marked; bob's stay; marking another row of hers counts nothing more.
    const after = (await body(owner, `/api/v1/groups/${G1}/moderation/events`)).items as Array<{ id: number; falsePositiveAt: string | null }>
    expect(after.map((e) => e.falsePositiveAt !== null)).toEqual([true, true, true, false, false, false])
    expect((await owner.post(`/api/v1/groups/${G1}/moderation/events/${after[2]?.id}/false-positive`).expect(200)).body).toMatchObject({ alreadyMarked: true })
    const rules = async (): Promise<Json[]> => (await body(owner, `/api/v1/groups/${G1}/stats/rules?from=2026-11-23&to=2026-11-23`)).rules as Json[]
    let list = await rules()
    for (let i = 0; i < 100 && (list[0]?.reversals ?? 0) === 0; i++) {
      await chat.rehearsal.quiesce()
      await chat.runtime.flush()
      list = await rules()
    }
    expect(list).toEqual([{ kind: 'moderation', rule: 'words', hits: 2, actions: 2, reversals: 1, reversalRate: 0.5 }])
    expect(await csv(owner, '/api/v1/stats/rules.csv?from=2026-11-23&to=2026-11-23')).toEqual([['kind', 'rule', 'hits', 'actions', 'reversals', 'reversalRate'], ['moderation', 'words', '2', '2', '1', '0.5']])
  })
  it('surfaces post lift per schedule in the overview and the post-lift report, only for schedules the caller owns (admins: all)', async () => {
    const at = (date: string, time: string): number => Date.parse(`${date}T${time}:00+08:00`)
    chat = await Chat.start({ start: at('2026-11-23', '08:59'), http: true, groups: GROUPS, rules: { g1: { 'scheduled-share': { skipDates: ['2026-11-24'] } } } })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const admin = await apiAs(chat, 'admin')
    const other = await apiAs(chat, 'owner', { groups: [G2] })
    const tick = async (): Promise<void> => {
      expect(await chat.runtime.scheduler.runFenced('scheduled-share.tick', new Date(Math.floor(chat.clock.now() / MINUTE) * MINUTE))).toBe('ran')
      await chat.rehearsal.quiesce()
    }
    const postId = ((await owner.post('/api/v1/share-posts', { title: '话题', text: '今日话题：你最近在读什么？', tags: ['读书'] }).expect(201)).body as { id: number }).id
    const mine = ((await owner.post('/api/v1/share-schedules', { name: '每日读书', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId } }).expect(201)).body as { id: number }).id
    // An admin's schedule in the same group, at another hour: the owner must not see it (not even its id).
    const adminPost = ((await admin.post('/api/v1/share-posts', { title: '公告', text: '本周活动预告' }).expect(201)).body as { id: number }).id
    const theirs = ((await admin.post('/api/v1/share-schedules', { name: '管理员公告', trigger: { type: 'cron', cron: '0 15 * * *' }, target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId: adminPost } }).expect(201)).body as { id: number }).id
    const g1 = chat.group('g1')
    await chat.rehearsal.advanceTo(at('2026-11-23', '09:00'))
    await tick()
    for (const [time, who] of [['09:05', bob], ['09:10', alice], ['09:20', bob], ['09:45', bob]] as const) {
      await chat.rehearsal.advanceTo(at('2026-11-23', time))
      await g1.say(who, '我在读《三体》')
    }
    await chat.rehearsal.advanceTo(at('2026-11-23', '15:00'))
    await tick()
    // A calendar day: no post; the same half hours are the baselines.
    await chat.rehearsal.advanceTo(at('2026-11-24', '09:00'))
    await tick()
    await chat.rehearsal.advanceTo(at('2026-11-24', '09:10'))
    await g1.say(bob, '早')
    await chat.rehearsal.advanceTo(at('2026-11-24', '15:00'))
    await tick()
    await chat.rehearsal.advanceTo(at('2026-11-24', '16:00'))
    await chat.runtime.flush()

    const q = 'from=2026-11-23&to=2026-11-24'
    const expected = { scheduleId: mine, name: '每日读书', groups: 1, postWindows: 1, baselineWindows: 1, avgMessagesAfterPost: 3, avgMessagesBaseline: 1, avgMembersAfterPost: 2, avgMembersBaseline: 1, liftMessages: 3, liftMembers: 2 }
    expect((await body(owner, `/api/v1/groups/${G1}/stats/post-lift?${q}`)).schedules).toEqual([expected])
    expect((await body(owner, `/api/v1/groups/${G1}/stats/overview?${q}`)).postLift).toEqual([expected])
    expect((await body(owner, `/api/v1/stats/overview?${q}`)).postLift).toEqual([expected])
    const all = (await body(admin, `/api/v1/groups/${G1}/stats/post-lift?${q}`)).schedules as Json[]
    expect(all.map((x) => [x.scheduleId, x.postWindows, x.baselineWindows, x.liftMessages])).toEqual([[mine, 1, 1, 3], [theirs, 1, 1, null]])
    expect(await csv(owner, `/api/v1/stats/post-lift.csv?${q}`)).toEqual([
      ['scheduleId', 'name', 'groups', 'postWindows', 'baselineWindows', 'avgMessagesAfterPost', 'avgMessagesBaseline', 'avgMembersAfterPost', 'avgMembersBaseline', 'liftMessages', 'liftMembers'],
      [String(mine), '每日读书', '1', '1', '1', '3', '1', '2', '1', '3', '2'],
    ])
    // The day before has no windows; another owner sees neither the group nor the schedules.
    expect((await body(owner, `/api/v1/groups/${G1}/stats/post-lift?from=2026-11-22&to=2026-11-22`)).schedules).toEqual([])
    await other.get(`/api/v1/groups/${G1}/stats/post-lift?${q}`).expect(404)
    expect((await body(other, `/api/v1/stats/post-lift?${q}`)).schedules).toEqual([])
  })
})

describe(`hot-topic storage (${STORAGE})`, () => {
  it('holds term counts back between term writes, writes them when forced, and prunes past days to their top terms (ties by term)', async () => {
    const config = await testConfig()
    const db = await openDatabase(dataSourceOptions(config, databaseSchema([statsFeature]), ':memory:'))
    const store = new FeatureStore(db, statsFeature.name, statsFeature.entities ?? [])
    try {
      // Unique groups per run: on MySQL the tables outlive the test.
      const pg = `pg-${Date.now()}`
      const other = `other-${Date.now()}`
      let now = shanghai('2026-11-20', '12:00:00')
      const buffer = new StatsBuffer(store, () => now)
      const say = (groupId: string, day: string, text: string, n = 1): void => {
        for (let i = 0; i < n; i++) {
          const m = { id: `${groupId}-${day}-${text}-${i}`, botId: 'b', groupId, senderId: `m${i}`, senderName: '', type: 'text' as const, text, mentions: [], mentionsBot: false, at: shanghai(day, '12:00:00') }
          buffer.record(m, 'Asia/Shanghai')
          buffer.observeText(m, 'Asia/Shanghai', { content: true, topics: true, answerWithinMs: 60_000 })
        }
      }
      const stored = async (groupId: string, day?: string): Promise<number> =>
        Number((await store.query<{ n: unknown }>(`SELECT COUNT(*) AS n FROM qy_stats_term_day WHERE group_id = ?${day ? ' AND day = ?' : ''}`, day ? [groupId, day] : [groupId]))[0]?.n)
      say(pg, '2026-11-20', '直播 课程', 3)
      await buffer.flush()
      // Counted, not yet written: the term write waits for its minute.
      expect(await stored(pg)).toBe(0)
      now += 61_000
      await buffer.flush()
      expect(await stored(pg)).toBe(2)
      say(pg, '2026-11-20', '直播')
      await buffer.flushTerms()
      expect((await topics(store, { all: false, groupIds: [pg] }, '2026-11-20', '2026-11-20', 5, 1)).top).toEqual([{ term: '直播', count: 4, previous: 0 }, { term: '课程', count: 3, previous: 0 }])

      // A past day with more distinct terms than are kept: the most frequent survive, ties broken by the term.
      const many = Array.from({ length: TERMS_KEPT_PER_DAY + 30 }, (_, i) => `topic${String.fromCharCode(97 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`)
      for (const [i, term] of many.entries()) say(pg, '2026-11-21', term, i < 10 ? 2 : 1)
      say(other, '2026-11-21', '跑步 马拉松')
      await buffer.flushTerms()
      expect(await stored(pg, '2026-11-21')).toBe(TERMS_KEPT_PER_DAY + 30)
      const result = await pruneTerms(store, '2026-11-22')
      expect(result.deleted).toBeGreaterThanOrEqual(30)
      const kept = await store.query<{ term: string; n: unknown }>('SELECT term, n FROM qy_stats_term_day WHERE group_id = ? AND day = ? ORDER BY n DESC, term', [pg, '2026-11-21'])
      // The ten said twice, then the once-said ones in term order (the terms are generated in that order already).
      expect(kept.map((r) => r.term)).toEqual(many.slice(0, TERMS_KEPT_PER_DAY))
      expect(kept.slice(0, 10).every((r) => Number(r.n) === 2)).toBe(true)
      // Small days and other groups are untouched; pruning again deletes nothing of them.
      await pruneTerms(store, '2026-11-22')
      expect(await stored(pg, '2026-11-21')).toBe(TERMS_KEPT_PER_DAY)
      expect(await stored(pg, '2026-11-20')).toBe(2)
      expect(await stored(other)).toBe(2)
    } finally {
      await db.destroy()
    }
  })
})
