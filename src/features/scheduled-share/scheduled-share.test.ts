import { join } from 'node:path'
import { Chat } from '../../../test/support/chat'
import { apiAs, client, type ApiClient } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE, tempDir, testConfig } from '../../../test/support/env'
import { G1, G2, TWO_OWNERS } from '../../../test/support/groups'
import type { PlatformAction } from '../../adapters/wechaty/recording-puppet'
import type { RehearsalGroup } from '../../simulation/rehearsal'
import { defineFeature } from '../../adapters/db/feature-store'
import { SharePosted } from '../../contracts/scheduled-share'
import { GroupLeft, type EventBase } from '../../kernel/events'
import { FEATURES } from '../../features'
import { SHARE_TICK_JOB } from './index'
import { fireTimes, matcherOf, parseCron } from './scheduled-share.cron'
import { recordStatements } from '../../../test/support/statements'

// Dropping a dozen MySQL databases can take a while on a busy machine.
afterAll(cleanup, 120_000)

const MINUTE = 60_000
const DAY = 86_400_000
/** A local time in Shanghai (the server runs in UTC). */
const shanghai = (date: string, time = '09:00'): number => Date.parse(`${date}T${time}:00+08:00`)

/** One group owned by alice and one by dave; alice's token holds both (so she can target both). */
const GROUPS: RehearsalGroup[] = [
  TWO_OWNERS[0] as RehearsalGroup,
  { id: 'g2', name: '跑步群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'dave', name: 'Dave' }] },
]

/** Events a test-only consumer of share.posted received (as stats and tagging will). */
const posted: EventBase[] = []
const postedProbe = defineFeature({
  name: 'share-posted-probe',
  events: { consumes: [SharePosted] },
  setup: () => ({ onEvent: (event) => { posted.push(event) } }),
})

async function start(opts: { at: number; groups?: RehearsalGroup[]; sqlitePath?: string; rules?: Record<string, Record<string, unknown>>; configOverrides?: Record<string, unknown> }): Promise<Chat> {
  return Chat.start({ start: opts.at, http: true, groups: opts.groups ?? GROUPS, sqlitePath: opts.sqlitePath, rules: opts.rules, configOverrides: opts.configOverrides, features: [...FEATURES, postedProbe] })
}

/** Runs the share tick for the minute the fake clock is in (as the scheduler would), then lets sends go out. */
async function tick(chat: Chat, at = chat.clock.now()): Promise<string> {
  const outcome = await chat.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(Math.floor(at / MINUTE) * MINUTE))
  await chat.rehearsal.quiesce()
  return outcome
}

/** Texts the bot said in a room since the last skip. */
function said(chat: Chat, room: string): string[] {
  return chat.pending().filter((a) => a.kind === 'say' && a.groupId === room && a.text !== undefined).map((a) => a.text as string)
}

async function post(api: ApiClient, body: Record<string, unknown>): Promise<number> {
  const res = await api.post('/api/v1/share-posts', body)
  expect(res.status).toBe(201)
  return res.body.id as number
}

async function schedule(api: ApiClient, body: Record<string, unknown>): Promise<number> {
  const res = await api.post('/api/v1/share-schedules', { name: '每日分享', trigger: { type: 'cron', cron: '0 9 * * *' }, ...body })
  expect({ status: res.status, body: res.body }).toMatchObject({ status: 201 })
  return res.body.id as number
}

async function deliveries(api: ApiClient, id: number, query = ''): Promise<Array<Record<string, unknown>>> {
  const res = await api.get(`/api/v1/share-schedules/${id}/deliveries${query}`)
  expect({ status: res.status, body: res.status === 200 ? null : res.body }).toEqual({ status: 200, body: null })
  return res.body.items as Array<Record<string, unknown>>
}

describe('cron reading in a timezone', () => {
  it('fires the 09:00 run once per local day across both daylight-saving changes in America/New_York', () => {
    const match = matcherOf({ type: 'cron', cron: '0 9 * * *' })
    const spring = fireTimes(match, 'America/New_York', Date.parse('2026-03-07T00:00:00Z'), Date.parse('2026-03-10T00:00:00Z'))
    expect(spring.map((f) => new Date(f.at).toISOString())).toEqual(['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z'])
    const fall = fireTimes(match, 'America/New_York', Date.parse('2026-10-31T00:00:00Z'), Date.parse('2026-11-03T00:00:00Z'))
    expect(fall.map((f) => new Date(f.at).toISOString())).toEqual(['2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z', '2026-11-02T14:00:00.000Z'])
    // 01:30 happens twice on the fall-back night: one run (the first).
    const twice = fireTimes(matcherOf({ type: 'cron', cron: '30 1 * * *' }), 'America/New_York', Date.parse('2026-11-01T00:00:00Z'), Date.parse('2026-11-02T00:00:00Z'))
    expect(twice.map((f) => [new Date(f.at).toISOString(), f.key])).toEqual([['2026-11-01T05:30:00.000Z', '2026-11-01T01:30']])
  })

  it('refuses what it cannot read the way it is written', () => {
    expect(parseCron('0 0 9 * * *')).toHaveProperty('problem')
    expect(parseCron('61 9 * * *')).toHaveProperty('problem')
    expect(parseCron('0 9 L * *')).toHaveProperty('problem')
    expect(parseCron('0 9 * * 1-5')).toHaveProperty('fields')
  })
})

describe(`scheduled-share admin API (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let alice: ApiClient
  let dave: ApiClient
  beforeAll(async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:00') })
    alice = await apiAs(chat, 'owner', { groups: [G1, G2], name: 'alice' })
    dave = await apiAs(chat, 'owner', { groups: [G2], name: 'dave' })
  })
  afterAll(async () => { await chat?.close() })

  it("keeps each owner's library and schedules to themselves (others get 404, lists leave them out)", async () => {
    const id = await post(alice, { title: '早安', text: '早安 {group}，今天是 {date} {weekday}', tags: ['早安'] })
    await alice.get(`/api/v1/share-posts/${id}`).expect(200)
    const other = await dave.get(`/api/v1/share-posts/${id}`)
    const missing = await dave.get('/api/v1/share-posts/999999')
    expect([other.status, missing.status]).toEqual([404, 404])
    expect(other.body.error.message).toBe(missing.body.error.message)
    await dave.put(`/api/v1/share-posts/${id}`, { title: 'x', text: 'y' }).expect(404)
    await dave.del(`/api/v1/share-posts/${id}`).expect(404)
    expect((await dave.get('/api/v1/share-posts').expect(200)).body.items).toEqual([])
    expect((await alice.get('/api/v1/share-posts?tag=早安').expect(200)).body.items.map((p: { id: number }) => p.id)).toEqual([id])
    await alice.put(`/api/v1/share-posts/${id}`, { title: '早安2', text: '早安 {group}', tags: ['早安'] }).expect(200)

    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId: id } })
    await dave.get(`/api/v1/share-schedules/${sid}`).expect(404)
    await dave.get(`/api/v1/share-schedules/${sid}/deliveries`).expect(404)
    await dave.patch(`/api/v1/share-schedules/${sid}`, { enabled: false }).expect(404)
    await dave.post(`/api/v1/share-schedules/${sid}/test-send`, { groupId: G2 }).expect(404)
    expect((await dave.get('/api/v1/share-schedules').expect(200)).body.items).toEqual([])
    // A schedule cannot use someone else's post either.
    const daves = await post(dave, { title: 'd', text: 'd' })
    const stolen = await alice.post('/api/v1/share-schedules', { name: 'x', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'all' }, content: { type: 'post', postId: daves } })
    expect(stolen.status).toBe(400)
    expect(stolen.body.error.details).toEqual([{ path: 'body.content.postId', message: `${daves}: not one of your posts` }])
    await alice.del(`/api/v1/share-schedules/${sid}`).expect(200)
  })

  it('answers 400 naming the field for a bad cron, an unknown timezone, a group not yours, an unknown variable', async () => {
    const id = await post(alice, { title: 't', text: 't' })
    const base = { name: 'x', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'all' }, content: { type: 'post', postId: id } }
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ ...base, trigger: { type: 'cron', cron: '0 25 * * *' } }, 'body.trigger.cron', /invalid cron expression/],
      [{ ...base, timezone: 'Mars/Olympus' }, 'body.timezone', /unknown IANA timezone/],
      [{ ...base, target: { type: 'groups', groupIds: ['elsewhere@chatroom'] } }, 'body.target.groupIds', /not one of your groups/],
    ]
    for (const [body, path, message] of cases) {
      const res = await dave.post('/api/v1/share-schedules', body)
      expect({ status: res.status, path: res.body.error.details[0]?.path }).toEqual({ status: 400, path })
      expect(res.body.error.details[0].message).toMatch(message)
    }
    const variable = await alice.post('/api/v1/share-posts', { title: 't', text: '今天 {weather} 很好' })
    expect({ status: variable.status, path: variable.body.error.details[0]?.path }).toEqual({ status: 400, path: 'body.text' })
    expect(variable.body.error.details[0].message).toMatch(/unknown variable \{weather\}/)
  })

  it('previews the next runs per timezone of the targets, with the timezone shown', async () => {
    await alice.patch(`/api/v1/groups/${encodeURIComponent(G2)}`, { timezone: 'America/New_York' }).expect(200)
    const id = await post(alice, { title: 't', text: 't' })
    const sid = await schedule(alice, { target: { type: 'all' }, content: { type: 'post', postId: id } })
    const res = await alice.get(`/api/v1/share-schedules/${sid}/preview?count=2`).expect(200)
    expect(res.body.zones).toEqual(expect.arrayContaining([
      { timezone: 'Asia/Shanghai', groups: 1, runs: [{ at: '2026-11-23T01:00:00.000Z', local: '2026-11-23T09:00' }, { at: '2026-11-24T01:00:00.000Z', local: '2026-11-24T09:00' }] },
      { timezone: 'America/New_York', groups: 1, runs: [{ at: '2026-11-23T14:00:00.000Z', local: '2026-11-23T09:00' }, { at: '2026-11-24T14:00:00.000Z', local: '2026-11-24T09:00' }] },
    ]))
    await alice.patch(`/api/v1/groups/${encodeURIComponent(G2)}`, { timezone: 'Asia/Shanghai' }).expect(200)
    await alice.del(`/api/v1/share-schedules/${sid}`).expect(200)
  })
})

describe(`scheduled shares through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('posts a daily topic at 09:00 local in each target group for a week, rotating by weekday, once per run', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:55') }) // a Monday
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const topics = ['读书', '运动', '美食', '电影', '旅行', '音乐', '复盘']
    for (const topic of topics) await post(alice, { title: topic, text: `【${topic}】{group} · {date} {weekday}`, tags: [topic] })
    const tags = Object.fromEntries(topics.map((t, i) => [String(i + 1), t]))
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1, G2] }, content: { type: 'weekday', tags }, staggerSeconds: 60 })
    await tick(chat)
    expect(chat.pending()).toEqual([])
    const weekdays = ['星期一', '星期二', '星期三', '星期四', '星期五', '星期六', '星期日']
    for (let day = 0; day < 7; day++) {
      const date = new Date(shanghai('2026-11-23') + day * DAY + 8 * 3_600_000).toISOString().slice(0, 10)
      await chat.rehearsal.advanceTo(shanghai(date, '08:59'))
      await tick(chat)
      expect(chat.pending()).toEqual([])
      await chat.rehearsal.advanceTo(shanghai(date, '09:00'))
      expect(await tick(chat)).toBe('ran')
      // The first group at 09:00, the second at its stagger slot (30 s later: 2 groups over 60 s).
      expect(said(chat, G1)).toEqual([`【${topics[day]}】读书会 · ${date} ${weekdays[day]}`])
      expect(said(chat, G2)).toEqual([])
      await chat.rehearsal.advance(30_000)
      expect(said(chat, G2)).toEqual([`【${topics[day]}】跑步群 · ${date} ${weekdays[day]}`])
      // The same tick again (a retry) and the next minute post nothing more.
      expect(await tick(chat, shanghai(date, '09:00'))).toBe('skipped')
      await chat.rehearsal.advanceTo(shanghai(date, '09:01'))
      await tick(chat)
      expect(chat.pending().filter((a) => a.kind === 'say')).toHaveLength(2)
      chat.skip()
    }
    const log = await deliveries(alice, sid, '?limit=500')
    expect(log).toHaveLength(14)
    expect(log.every((r) => r.status === 'sent')).toBe(true)
    const slots = log.filter((r) => r.fireLocal === '2026-11-23T09:00').map((r) => [r.groupId, r.slotAt])
    expect(slots).toEqual(expect.arrayContaining([[G1, '2026-11-23T01:00:00.000Z'], [G2, '2026-11-23T01:00:30.000Z']]))
  })

  it('emits share.posted once per confirmed post (with its topics), logs a failed send with the reason, and never sends a paused schedule', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:59') })
    posted.length = 0
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const a = await post(alice, { title: 'A', text: '话题 A', tags: ['读书', '早安'], card: { url: 'https://example.com/a', title: '今日书单' }, imageUrl: 'https://example.com/a.png' })
    const b = await post(alice, { title: 'B', text: '话题 B' })
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1, G2] }, content: { type: 'list', postIds: [a, b] }, staggerSeconds: 0 })
    await chat.rehearsal.advanceTo(shanghai('2026-11-23'))
    await tick(chat)
    // The list in turn: post A with its image and card in both groups.
    const g1 = chat.pending().filter((x) => x.groupId === G1)
    expect(g1.map((x) => x.text ?? x.image ?? x.card?.title)).toEqual(['话题 A', 'https://example.com/a.png', '今日书单'])
    chat.skip()
    // No stagger: both groups are due at once and run concurrently, so their confirmations come in either order.
    expect(posted.map((e) => [e.type, e.id, e.groupId, (e as unknown as { tags: string[] }).tags, (e as unknown as { postId: number }).postId]).sort((x, y) => String(x[2]).localeCompare(String(y[2]))))
      .toEqual([['share.posted', expect.stringMatching(/^share\.posted:\d+$/), G1, ['读书', '早安'], a], ['share.posted', expect.stringMatching(/^share\.posted:\d+$/), G2, ['读书', '早安'], a]])
    // Day 2: B; the first text fails for good (not a transient error) and is logged so.
    chat.rehearsal.world.puppet.failures.push({ kind: 'say', error: new Error('bot was muted in this group'), times: 1 })
    await chat.rehearsal.advanceTo(shanghai('2026-11-24'))
    await tick(chat)
    const log = await deliveries(alice, sid, '?status=failed')
    expect(log.map((r) => [r.groupId, r.fireLocal, r.postId, r.status])).toEqual([[expect.any(String), '2026-11-24T09:00', b, 'failed']])
    expect(log[0]?.reason).toMatch(/^text failed: .*muted/)
    expect(posted).toHaveLength(3)
    // Paused: no runs (and on resume, the paused days are not caught up).
    await alice.patch(`/api/v1/share-schedules/${sid}`, { enabled: false }).expect(200)
    chat.skip()
    await chat.rehearsal.advanceTo(shanghai('2026-11-25'))
    await tick(chat)
    expect(chat.pending()).toEqual([])
    await chat.rehearsal.advanceTo(shanghai('2026-11-25', '10:00'))
    await alice.patch(`/api/v1/share-schedules/${sid}`, { enabled: true }).expect(200)
    await tick(chat)
    expect(chat.pending()).toEqual([])
    const counts = (await alice.get(`/api/v1/share-schedules/${sid}/deliveries`).expect(200)).body.counts
    expect(counts).toEqual({ sent: 3, failed: 1 })
    // A test send goes out now, to one of the caller's groups, outside the rotation.
    const test = await alice.post(`/api/v1/share-schedules/${sid}/test-send`, { groupId: G2, postId: b })
    expect(test.status).toBe(202)
    await chat.rehearsal.quiesce()
    expect(said(chat, G2)).toEqual(['话题 B'])
    await alice.post(`/api/v1/share-schedules/${sid}/test-send`, { groupId: 'elsewhere@chatroom' }).expect(400)
    expect(posted).toHaveLength(3)
  })

  it('measures post lift: messages and members in the 30 minutes after a post vs. a day without one', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:59'), rules: { g1: { 'scheduled-share': { skipDates: ['2026-11-24'] } } } })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const id = await post(alice, { title: '话题', text: '今日话题：你最近在读什么？', tags: ['读书'] })
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId: id } })
    const g1 = chat.group('g1')
    const bob = { id: 'bob', name: '阿强' }
    const aliceMember = { id: 'alice', name: 'Alice' }
    await chat.rehearsal.advanceTo(shanghai('2026-11-23'))
    await tick(chat)
    for (const [time, who] of [['09:05', bob], ['09:10', aliceMember], ['09:20', bob], ['09:45', bob]] as const) {
      await chat.rehearsal.advanceTo(shanghai('2026-11-23', time))
      await g1.say(who, '我在读《三体》')
    }
    // A calendar day: no post, the same half hour is the baseline.
    await chat.rehearsal.advanceTo(shanghai('2026-11-24'))
    await tick(chat)
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '09:10'))
    await g1.say(bob, '早')
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '10:00'))
    await chat.runtime.flush()
    const res = await alice.get(`/api/v1/share-schedules/${sid}/engagement`).expect(200)
    expect(res.body).toEqual({
      scheduleId: sid, windowMinutes: 30,
      posts: { windows: 1, avgMessages: 3, avgMembers: 2 },
      baseline: { windows: 1, avgMessages: 1, avgMembers: 1 },
      lift: { messages: 3, members: 2 },
      perPost: [{ postId: id, windows: 1, avgMessages: 3, avgMembers: 2 }],
    })
  })

  it('logs a group the bot left, and one its owner lost, as skipped with the reason', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:59'), groups: [...GROUPS, { id: 'g3', name: '早起群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }] }] })
    const admin = await apiAs(chat, 'admin')
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2, 'g3@chatroom'] })
    const id = await post(alice, { title: 'gm', text: '早安' })
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1, G2, 'g3@chatroom'] }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    await chat.runtime.publish(GroupLeft.of({ id: 'left-g2', at: chat.clock.now(), botId: chat.rehearsal.botId, groupId: G2 }))
    await admin.put(`/api/v1/tokens/${alice.tokenId}/groups`, { groupIds: [G1, G2] }).expect(200)
    await chat.rehearsal.advanceTo(shanghai('2026-11-23'))
    await tick(chat)
    expect(chat.pending().filter((a) => a.kind === 'say').map((a) => a.groupId)).toEqual([G1])
    const log = await deliveries(admin, sid)
    expect(log.map((r) => [r.groupId, r.status, r.reason]).sort()).toEqual([
      [G1, 'sent', null], [G2, 'skipped', 'bot_not_in_group'], ['g3@chatroom', 'skipped', 'owner_lost_group'],
    ])
  })

  it('fills check-ins and the week\'s most active members, and fires a one-off schedule once', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:00'), groups: [{ id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }] }] })
    const alice = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    for (const [who, n] of [[{ id: 'bob', name: '阿强' }, 3], [{ id: 'carol', name: '小雨' }, 2], [{ id: 'alice', name: 'Alice' }, 1]] as const) {
      for (let i = 0; i < n; i++) await g1.say(who, `聊天 ${i}`)
    }
    await g1.say({ id: 'carol', name: '小雨' }, '签到')
    await chat.runtime.flush()
    chat.skip()
    const id = await post(alice, { title: '周报', text: '{group} 今天已有 {checkIns} 人签到，本周最活跃：{topMembers}' })
    await schedule(alice, { trigger: { type: 'once', at: '2026-11-23T09:00' }, target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId: id } })
    for (const time of ['08:59', '09:00', '09:01']) {
      await chat.rehearsal.advanceTo(shanghai('2026-11-23', time))
      await tick(chat)
    }
    await chat.rehearsal.advanceTo(shanghai('2026-11-24'))
    await tick(chat)
    expect(said(chat, G1)).toEqual(['读书会 今天已有 1 人签到，本周最活跃：阿强、小雨、Alice'])
  })

  it('targets the groups with a label, and the label is read at each run', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:59') })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    await alice.patch(`/api/v1/groups/${encodeURIComponent(G2)}`, { labels: ['跑团'] }).expect(200)
    const id = await post(alice, { title: 'run', text: '今天跑步打卡 {members} 人群' })
    await schedule(alice, { target: { type: 'label', label: '跑团' }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    await chat.rehearsal.advanceTo(shanghai('2026-11-23'))
    await tick(chat)
    expect([said(chat, G1), said(chat, G2)]).toEqual([[], ['今天跑步打卡 2 人群']])
    chat.skip()
    await alice.patch(`/api/v1/groups/${encodeURIComponent(G1)}`, { labels: ['跑团'] }).expect(200)
    await chat.rehearsal.advanceTo(shanghai('2026-11-24'))
    await tick(chat)
    expect([said(chat, G1), said(chat, G2)]).toEqual([['今天跑步打卡 2 人群'], ['今天跑步打卡 2 人群']])
  })

  it('takes the next unused post of a tag and never repeats one in a group within N days', async () => {
    chat = await start({ at: shanghai('2026-11-23', '08:59') })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const ids = []
    for (const n of [1, 2, 3]) ids.push(await post(alice, { title: `早安${n}`, text: `早安 #${n}`, tags: ['早安'] }))
    await post(alice, { title: '过期', text: '早安 #过期', tags: ['早安'], expiresOn: '2026-11-20' })
    await post(alice, { title: '别的', text: '晚安', tags: ['晚安'] })
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1] }, content: { type: 'tag', tag: '早安' }, noRepeatDays: 3 })
    const texts: string[] = []
    for (let day = 0; day < 5; day++) {
      await chat.rehearsal.advanceTo(shanghai('2026-11-23') + day * DAY)
      await tick(chat)
      texts.push(...said(chat, G1))
      chat.skip()
    }
    // Three posts, no repeat within 3 days: day 4 reuses #1 (3 days later), day 5 #2; the expired post never.
    expect(texts).toEqual(['早安 #1', '早安 #2', '早安 #3', '早安 #1', '早安 #2'])
    // With a 4-day window nothing is left on the sixth day (#3 was sent 3 days ago): logged, not posted.
    await alice.put(`/api/v1/share-schedules/${sid}`, { name: '每日分享', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'groups', groupIds: [G1] }, content: { type: 'tag', tag: '早安' }, noRepeatDays: 4 }).expect(200)
    await chat.rehearsal.advanceTo(shanghai('2026-11-28'))
    await tick(chat)
    expect(said(chat, G1)).toEqual([])
    const [last] = await deliveries(alice, sid, '?limit=1')
    expect(last).toMatchObject({ status: 'skipped', fireLocal: '2026-11-28T09:00', reason: 'no_content (no unused post tagged "早安")' })
  })

  it('skips or defers runs in quiet hours and skips calendar days, and the log says which', async () => {
    chat = await start({
      at: shanghai('2026-11-23', '06:00'),
      rules: {
        g1: { 'scheduled-share': { quietHours: { from: '22:00', to: '08:00' }, onQuiet: 'defer', skipDates: ['2026-11-24'] } },
        g2: { 'scheduled-share': { quietHours: { from: '22:00', to: '08:00' }, onQuiet: 'skip' } },
      },
    })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const id = await post(alice, { title: '早', text: '早上好 {time}' })
    const sid = await schedule(alice, { trigger: { type: 'cron', cron: '30 7 * * *' }, target: { type: 'groups', groupIds: [G1, G2] }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '07:30'))
    await tick(chat)
    expect(chat.pending()).toEqual([])
    // g1's run moves to the end of its quiet hours; g2's is skipped.
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '08:00'))
    expect(said(chat, G1)).toEqual(['早上好 07:30'])
    expect(said(chat, G2)).toEqual([])
    chat.skip()
    // The next day is on g1's calendar.
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '07:30'))
    await tick(chat)
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '08:30'))
    expect(chat.pending()).toEqual([])
    const log = await deliveries(alice, sid)
    expect(log.map((r) => [r.groupId, r.fireLocal, r.status, r.reason])).toEqual([
      [G2, '2026-11-24T07:30', 'skipped', 'quiet_hours 22:00-08:00'],
      [G1, '2026-11-24T07:30', 'skipped', 'calendar 2026-11-24'],
      [G2, '2026-11-23T07:30', 'skipped', 'quiet_hours 22:00-08:00'],
      [G1, '2026-11-23T07:30', 'sent', 'deferred: quiet_hours 22:00-08:00, slot 2026-11-23T08:00'],
    ])
  })

  it('posts at 09:00 New York time once a day across the spring daylight-saving change', async () => {
    chat = await start({ at: Date.parse('2026-03-07T12:00:00Z') })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    await alice.patch(`/api/v1/groups/${encodeURIComponent(G1)}`, { timezone: 'America/New_York' }).expect(200)
    const id = await post(alice, { title: 'gm', text: 'Good morning {date} {time}' })
    await schedule(alice, { target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId: id } })
    const posts: PlatformAction[] = []
    // Tick every hour on the hour for three days (09:00 local is on the hour in both offsets).
    for (let t = Date.parse('2026-03-07T13:00:00Z'); t <= Date.parse('2026-03-09T15:00:00Z'); t += 3_600_000) {
      await chat.rehearsal.advanceTo(t)
      await tick(chat)
      posts.push(...chat.pending())
      chat.skip()
    }
    expect(posts.map((a) => [new Date(a.at).toISOString().slice(0, 16), a.text])).toEqual([
      ['2026-03-07T14:00', 'Good morning 2026-03-07 09:00'],
      ['2026-03-08T13:00', 'Good morning 2026-03-08 09:00'],
      ['2026-03-09T13:00', 'Good morning 2026-03-09 09:00'],
    ])
  })

  it('catches up a run missed by a restart 2 minutes after 09:00 once, and logs one 2 hours late as missed', async () => {
    const sqlitePath = join(tempDir(), 'shares.sqlite')
    chat = await start({ at: shanghai('2026-11-23', '08:50'), sqlitePath })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const id = await post(alice, { title: 'gm', text: '早安 {date}' })
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1, G2] }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '08:58'))
    await tick(chat)
    // Down from 08:58 to 09:02: no tick ran at 09:00.
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '09:02'))
    await chat.rehearsal.restart()
    chat.skip()
    await tick(chat) // the catch-up run at start
    expect([said(chat, G1), said(chat, G2)]).toEqual([['早安 2026-11-23'], ['早安 2026-11-23']])
    chat.skip()
    // Another restart and more ticks: nothing twice.
    await chat.rehearsal.restart()
    chat.skip()
    await tick(chat)
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    expect(chat.pending()).toEqual([])

    // Next day: down from 08:58 until 11:00.
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '08:58'))
    await tick(chat)
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '11:00'))
    await chat.rehearsal.restart()
    chat.skip()
    await tick(chat)
    expect(chat.pending()).toEqual([])
    const log = await deliveries(client(chat, alice.token, alice.tokenId), sid)
    expect(log.map((r) => [r.groupId, r.fireLocal, r.status])).toEqual([
      [G2, '2026-11-24T09:00', 'missed'], [G1, '2026-11-24T09:00', 'missed'],
      [G2, '2026-11-23T09:00', 'sent'], [G1, '2026-11-23T09:00', 'sent'],
    ])
    expect(log[0]?.reason).toBe('down at fire time (120 min late, grace 10 min)')
    // Alice loses G2: its rows leave her log, and its runs leave her counts too.
    const admin = await apiAs(chat, 'admin')
    await admin.put(`/api/v1/tokens/${alice.tokenId}/groups`, { groupIds: [G1] }).expect(200)
    const mine = (await client(chat, alice.token, alice.tokenId).get(`/api/v1/share-schedules/${sid}/deliveries`).expect(200)).body
    expect(mine.items.map((r: { groupId: string }) => r.groupId)).toEqual([G1, G1])
    expect(mine.counts).toEqual({ missed: 1, sent: 1 })
    expect((await admin.get(`/api/v1/share-schedules/${sid}/deliveries`).expect(200)).body.counts).toEqual({ missed: 2, sent: 2 })
  })

  it('finishes a run that was waiting for its stagger slot when the process restarted, once', async () => {
    const sqlitePath = join(tempDir(), 'slots.sqlite')
    chat = await start({ at: shanghai('2026-11-23', '08:59'), sqlitePath })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const id = await post(alice, { title: 'gm', text: '早安' })
    await schedule(alice, { target: { type: 'groups', groupIds: [G1, G2] }, content: { type: 'post', postId: id }, staggerSeconds: 600 })
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '09:00'))
    await tick(chat)
    expect([said(chat, G1), said(chat, G2)]).toEqual([['早安'], []])
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '09:02'))
    await chat.rehearsal.restart()
    chat.skip()
    await tick(chat)
    expect(chat.pending()).toEqual([])
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '09:05'))
    expect([said(chat, G1), said(chat, G2)]).toEqual([[], ['早安']])
  })

  it('posts a send a crash left claimed but never queued once after a restart, and logs one found past its grace as missed', async () => {
    const sqlitePath = join(tempDir(), 'sweep.sqlite')
    chat = await start({ at: shanghai('2026-11-23', '08:59'), sqlitePath })
    const alice = await apiAs(chat, 'owner', { groups: [G1, G2] })
    const id = await post(alice, { title: 'gm', text: '早安 {group}', card: { url: 'https://example.com/a', title: '今日一读' } })
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1, G2] }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    // The process dies right after G1's send is claimed: its text and card never reach the outbound queue.
    const crashAfterClaim = (runtime: typeof chat.runtime): void => {
      const enqueue = runtime.outbound.enqueue.bind(runtime.outbound)
      runtime.outbound.enqueue = (action) => { if (!(action.cause?.startsWith('share:') && 'groupId' in action && action.groupId === G1)) enqueue(action) }
    }
    crashAfterClaim(chat.runtime)
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '09:00'))
    await tick(chat)
    expect([said(chat, G1), said(chat, G2)]).toEqual([[], ['早安 跑步群']])
    const claimed = await deliveries(alice, sid)
    expect(claimed.map((r) => [r.groupId, r.status])).toEqual(expect.arrayContaining([[G1, 'queued'], [G2, 'sent']]))
    await chat.rehearsal.restart()
    chat.skip()
    // The new process sweeps what has been claimed for a while (a live replica stores its actions at once).
    await chat.rehearsal.advanceTo(shanghai('2026-11-23', '09:01'))
    await tick(chat)
    const resent = chat.pending().filter((a) => a.groupId === G1)
    expect(resent.map((a) => a.text ?? a.card?.title)).toEqual(['早安 读书会', '今日一读'])
    expect(said(chat, G2)).toEqual([])
    chat.skip()
    // Further sweeps (ticks, restarts) find the actions stored: nothing twice.
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    await chat.rehearsal.restart()
    await chat.rehearsal.advance(MINUTE)
    await tick(chat)
    expect(chat.pending()).toEqual([])
    expect((await deliveries(client(chat, alice.token, alice.tokenId), sid)).map((r) => [r.groupId, r.status]).sort()).toEqual([[G1, 'sent'], [G2, 'sent']].sort())

    // Next day the crash again, and the process stays down past the 10-minute grace: missed, not posted late.
    crashAfterClaim(chat.runtime)
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '09:00'))
    await tick(chat)
    chat.skip()
    await chat.rehearsal.advanceTo(shanghai('2026-11-24', '09:30'))
    await chat.rehearsal.restart()
    await tick(chat)
    expect(chat.pending()).toEqual([])
    const day2 = (await deliveries(client(chat, alice.token, alice.tokenId), sid)).filter((r) => r.fireLocal === '2026-11-24T09:00')
    expect(day2.map((r) => [r.groupId, r.status]).sort()).toEqual([[G1, 'missed'], [G2, 'sent']].sort())
    expect(day2.find((r) => r.groupId === G1)?.reason).toBe('lost before it was queued (a crash); slot passed (30 min late, grace 10 min)')
  }, 120_000)

  it('spreads 300 target groups over the stagger window, in the schedule order, within the account budget', async () => {
    const groups: RehearsalGroup[] = Array.from({ length: 300 }, (_, i) => ({ id: `s${String(i).padStart(3, '0')}`, name: `群${String(i).padStart(3, '0')}`, members: [{ id: 'alice', name: 'Alice', role: 'owner' as const }] }))
    // An account budget of 90 sends a minute (burst 5): 300 sends at once would need more than 3 minutes.
    chat = await start({ at: shanghai('2026-11-23', '08:59'), groups, configOverrides: { outbound: { perAccount: { perMinute: 90, burst: 5 } } } })
    const alice = await apiAs(chat, 'owner', { groups: groups.map((g) => `${g.id}@chatroom`) })
    const id = await post(alice, { title: 'gm', text: '早安 {group}' })
    await schedule(alice, { target: { type: 'all' }, content: { type: 'post', postId: id }, staggerSeconds: 300 })
    const fire = shanghai('2026-11-23', '09:00')
    await chat.rehearsal.advanceTo(fire)
    await tick(chat)
    await chat.rehearsal.advanceTo(fire + 300_000)
    await chat.rehearsal.quiesce()
    const sends = chat.pending().filter((a) => a.kind === 'say')
    expect(sends).toHaveLength(300)
    // The schedule's order (targets by name), every group once, all inside the window.
    expect(sends.map((a) => a.text)).toEqual(groups.map((g) => `早安 ${g.name}`))
    expect(Math.max(...sends.map((a) => a.at)) - fire).toBeLessThanOrEqual(300_000)
    // Spread, not a burst: the i-th group's send waits for its slot (one a second over 300 s).
    for (const [i, a] of sends.entries()) expect(a.at).toBeGreaterThanOrEqual(fire + i * 1000)
    // Never more than the budget in any minute (plus its burst).
    for (const a of sends) expect(sends.filter((b) => b.at >= a.at && b.at < a.at + MINUTE).length).toBeLessThanOrEqual(90 + 5)
  }, 120_000)

  it('sweeps sends that wait on the account budget with one post lookup and one outbound key lookup, and posts none again', async () => {
    const groups: RehearsalGroup[] = Array.from({ length: 20 }, (_, i) => ({ id: `w${String(i).padStart(2, '0')}`, name: `群${i}`, members: [{ id: 'alice', name: 'Alice', role: 'owner' as const }] }))
    // One send a minute for the account: after the first, 19 sends stay queued (stored, waiting) for minutes.
    chat = await start({ at: shanghai('2026-11-23', '08:59'), groups, configOverrides: { outbound: { perAccount: { perMinute: 1, burst: 1 } } } })
    const alice = await apiAs(chat, 'owner', { groups: groups.map((g) => `${g.id}@chatroom`) })
    const id = await post(alice, { title: 'gm', text: '早安 {group}', card: { url: 'https://example.com/a', title: '今日一读' } })
    await schedule(alice, { target: { type: 'all' }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    const fire = shanghai('2026-11-23', '09:00')
    chat.clock.set(fire)
    expect(await chat.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire))).toBe('ran')
    await chat.runtime.outbound.stored()
    // Two minutes on without the queue draining: every send but the first is still queued and old enough to sweep.
    chat.clock.set(fire + 2 * MINUTE)
    const recorder = recordStatements(chat)
    expect(await chat.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire + 2 * MINUTE))).toBe('ran')
    recorder.stop()
    const touching = (table: string): number => recorder.statements.filter((sql) => sql.includes(table)).length
    // The posts in one statement; the keys are found among the queue's waiting actions (at most one store lookup).
    expect(touching('qy_share_post')).toBe(1)
    expect(touching('qy_outbound')).toBeLessThanOrEqual(1)
    await chat.runtime.outbound.stored()
    const stored: Array<{ n: number | string }> = await chat.runtime.db.query("SELECT COUNT(*) AS n FROM qy_outbound WHERE action_key LIKE 'share:%'")
    // Text and card of each of the 20 sends, once: the sweep found every key and posted nothing again.
    expect(Number(stored[0]?.n)).toBe(40)
  }, 120_000)
})

describe(`three runtimes on one database (${STORAGE} + ${COORDINATION})`, () => {
  const chats: Chat[] = []
  afterAll(async () => { for (const c of chats) await c.close() })

  it('give exactly one post per group per tick, also when a slow replica plans the same run again', async () => {
    const config = await testConfig()
    const sqlitePath = join(tempDir(), 'shared.sqlite')
    for (let i = 0; i < 3; i++) chats.push(await Chat.start({ config, start: shanghai('2026-11-23', '08:59'), http: i === 0, groups: GROUPS, sqlitePath }))
    const [a, b, c] = chats as [Chat, Chat, Chat]
    const alice = await apiAs(a, 'owner', { groups: [G1, G2] })
    const id = await post(alice, { title: 'gm', text: '早安 {group}' })
    const sid = await schedule(alice, { target: { type: 'groups', groupIds: [G1, G2] }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    const fire = shanghai('2026-11-23', '09:00')
    for (const chat of chats) { chat.clock.set(fire); chat.skip() }
    // All three fire the 09:00 tick at once; the third is late and fires 09:01 with the same cursor.
    const outcomes = await Promise.all([
      a.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire)),
      b.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire)),
      c.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire + MINUTE)),
    ])
    expect(outcomes.filter((o) => o === 'ran').length).toBeGreaterThanOrEqual(2)
    for (const chat of chats) await chat.rehearsal.quiesce()
    const everywhere = chats.flatMap((chat) => chat.pending().filter((x) => x.kind === 'say'))
    expect(everywhere.map((x) => x.groupId).sort()).toEqual([G1, G2])
    const log = await deliveries(alice, sid)
    expect(log.map((r) => [r.groupId, r.status])).toEqual(expect.arrayContaining([[G1, 'sent'], [G2, 'sent']]))
    expect(log).toHaveLength(2)
  })

  it('post a send a crash lost after its claim once when two replicas sweep at the same moment', async () => {
    const [a, b, c] = chats as [Chat, Chat, Chat]
    const alice = await apiAs(a, 'owner', { groups: [G1] })
    const id = await post(alice, { title: 'gn', text: '晚安 {group}' })
    await schedule(alice, { name: '晚安', trigger: { type: 'cron', cron: '0 21 * * *' }, target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId: id }, staggerSeconds: 0 })
    const fire = shanghai('2026-11-23', '21:00')
    for (const chat of chats) { chat.clock.set(fire); chat.skip() }
    // Replica a claims the send and dies before its action reaches the outbound store.
    a.runtime.outbound.enqueue = () => undefined
    expect(await a.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire))).toBe('ran')
    await a.rehearsal.quiesce()
    // b and c both sweep (ticks of two different minutes, at once): one stores the re-post, the other finds its key taken.
    for (const chat of chats) chat.clock.set(fire + 2 * MINUTE)
    await Promise.all([
      b.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire + MINUTE)),
      c.runtime.scheduler.runFenced(SHARE_TICK_JOB, new Date(fire + 2 * MINUTE)),
    ])
    // The stored re-post is performed by whichever runtime holds the bot (here a, which only lost its enqueue).
    const said = (): Array<[string | undefined, string | undefined]> => chats.flatMap((chat) => chat.pending().filter((x) => x.kind === 'say' && x.text?.startsWith('晚安')).map((x): [string | undefined, string | undefined] => [x.groupId, x.text]))
    for (const deadline = Date.now() + 10_000; said().length === 0 && Date.now() < deadline;) {
      for (const chat of chats) await chat.rehearsal.quiesce()
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    for (const chat of chats) await chat.rehearsal.quiesce() // room for a second copy to show
    expect(said()).toEqual([[G1, '晚安 读书会']])
    const stored: Array<{ n: number | string }> = await b.runtime.db.query("SELECT COUNT(*) AS n FROM qy_outbound WHERE action_key LIKE 'share:%:text' AND kind = 'say' AND status = 'sent' AND payload LIKE '%晚安%'")
    expect(Number(stored[0]?.n)).toBe(1)
  })
})
