import { Chat, type Person } from '../../../test/support/chat'
import { apiAs, type ApiClient } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE } from '../../../test/support/env'
import { parseCsv } from '../../kernel/csv'
import { insideWindows } from './auto-reply.engine'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const G1 = 'g1@chatroom'
const G2 = 'g2@chatroom'
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }
const erin: Person = { id: 'erin', name: 'Erin' }
/** Monday 2026-11-23, 10:00 in Shanghai. */
const MONDAY_10 = Date.parse('2026-11-23T10:00:00+08:00')

/** The real group rules in g1: an advert (加微信) gets its sender removed at once. */
const ADVERTS_REMOVED = { g1: { moderation: { enabled: true, words: { add: ['加微信'], action: 'remove' } } } }

async function setup(at = MONDAY_10): Promise<{ chat: Chat; owner: ApiClient; admin: ApiClient }> {
  const chat = await Chat.start({
    http: true, start: at, rules: ADVERTS_REMOVED, seed: 42,
    groups: [
      { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨', joinedAt: at - 3_600_000 }] },
      { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }, { id: 'bob', name: '阿强' }] },
      { id: 'g3', name: '别人的群', members: [{ id: 'erin', name: 'Erin', role: 'owner' }] },
    ],
  })
  return { chat, owner: await apiAs(chat, 'owner', { groups: [G1, G2] }), admin: await apiAs(chat, 'admin') }
}

const rule = (over: Record<string, unknown>): Record<string, unknown> => ({
  name: 'rule', trigger: { type: 'contains', keywords: ['价格'] }, cooldown: { groupSeconds: 0 }, answer: { variants: [{ text: '课程价格是 99 元' }] }, ...over,
})

describe(`auto-replies through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let owner: ApiClient
  let admin: ApiClient
  afterEach(async () => { await chat?.close() })

  it('answers each trigger type on normalized text', async () => {
    ({ chat, owner } = await setup())
    await owner.post('/api/v1/auto-replies', rule({ name: 'exact', trigger: { type: 'exact', keywords: ['营业时间'] }, answer: { variants: [{ text: '每天 9 点到 21 点' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'contains', trigger: { type: 'contains', keywords: ['price'] }, answer: { variants: [{ text: '99 元' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'startsWith', trigger: { type: 'startsWith', keywords: ['请问'] }, answer: { variants: [{ text: '请看群公告' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'any', trigger: { type: 'any', keywords: ['退款', '退货'] }, answer: { variants: [{ text: '退款请私聊客服' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'regex', trigger: { type: 'regex', pattern: '第\\d+期.*报名' }, answer: { variants: [{ text: '报名链接见公告' }] } })).expect(201)
    const g1 = chat.group('g1')
    await g1.say(bob, '营业时间？')
    g1.expectReply(/每天 9 点到 21 点/)
    await g1.say(bob, '营业时间是几点')
    g1.expectNoReply()
    await g1.say(bob, '这个ＰＲＩＣＥ怎么算')
    g1.expectReply(/^99 元$/)
    await g1.say(bob, '請問 退款')
    g1.expectReply(/请看群公告/)
    await g1.say(bob, '我想问退货')
    g1.expectReply(/退款请私聊客服/)
    await g1.say(bob, '第12期 怎么 报名')
    g1.expectReply(/报名链接见公告/)
    await g1.say(bob, '今天天气不错')
    g1.expectNoReply()
  })

  it('matches traditional characters, width and noise the way moderation does', async () => {
    ({ chat, owner } = await setup())
    await owner.post('/api/v1/auto-replies', rule({})).expect(201)
    const g1 = chat.group('g1')
    await g1.say(bob, '課程價格多少')
    g1.expectReply(/99 元/)
    await g1.say(carol, '价.格？')
    g1.expectReply(/99 元/)
  })

  it('keeps to its scope: the owner’s groups, chosen groups, or labelled groups', async () => {
    ({ chat, owner, admin } = await setup())
    await owner.post('/api/v1/auto-replies', rule({ name: 'mine', trigger: { type: 'contains', keywords: ['时间'] }, answer: { variants: [{ text: '时间见公告' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'g2 only', trigger: { type: 'contains', keywords: ['地点'] }, scope: { type: 'groups', groupIds: [G2] }, answer: { variants: [{ text: '操场集合' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'vip', trigger: { type: 'contains', keywords: ['福利'] }, scope: { type: 'labels', labels: ['VIP'] }, answer: { variants: [{ text: 'VIP 福利' }] } })).expect(201)
    const bad = await owner.post('/api/v1/auto-replies', rule({ scope: { type: 'groups', groupIds: ['g3@chatroom'] } }))
    expect(bad.status).toBe(400)
    expect(bad.body.error.message).toBe('not one of your groups')
    await owner.patch(`/api/v1/groups/${encodeURIComponent(G1)}`, { labels: ['VIP'] }).expect(200)
    const g1 = chat.group('g1'); const g2 = chat.group('g2'); const g3 = chat.group('g3')
    await g3.say(erin, '时间')
    g3.expectNoReply()
    await g1.say(bob, '地点在哪')
    g1.expectNoReply()
    await g2.say(bob, '地点在哪')
    g2.expectReply(/操场集合/)
    await g1.say(bob, '有福利吗')
    g1.expectReply(/VIP 福利/)
    await g2.say(bob, '有福利吗')
    g2.expectNoReply()
    await g1.say(bob, '时间')
    g1.expectReply(/时间见公告/)
    // An admin's rule may serve every group.
    await admin.post('/api/v1/auto-replies', rule({ name: 'global', trigger: { type: 'exact', keywords: ['帮助'] }, answer: { variants: [{ text: '发送关键词获取帮助' }] } })).expect(201)
    await g3.say(erin, '帮助')
    g3.expectReply(/发送关键词获取帮助/)
  })

  it('requires a mention, respects time windows and newcomer conditions', async () => {
    ({ chat, owner } = await setup(Date.parse('2026-11-23T08:30:00+08:00')))
    await owner.post('/api/v1/auto-replies', rule({ name: 'at me', trigger: { type: 'contains', keywords: ['客服'] }, conditions: { mentionOnly: true }, answer: { variants: [{ text: '我在' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'office', trigger: { type: 'contains', keywords: ['人工'] }, conditions: { windows: [{ days: [1, 2, 3, 4, 5], from: '09:00', to: '18:00' }] }, answer: { variants: [{ text: '人工客服在线' }] } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'new', trigger: { type: 'contains', keywords: ['新人'] }, conditions: { newcomerHours: 24 }, answer: { variants: [{ text: '欢迎新人' }] } })).expect(201)
    const g1 = chat.group('g1')
    await g1.say(bob, '客服')
    g1.expectNoReply()
    await g1.say(bob, { text: '@群运助手 客服', mentions: ['qunyun-bot'] })
    g1.expectReply(/我在/)
    await g1.say(bob, '人工')
    g1.expectNoReply() // 08:30
    await chat.rehearsal.advanceTo(Date.parse('2026-11-23T09:00:00+08:00'))
    await g1.say(bob, '人工')
    g1.expectReply(/人工客服在线/)
    await chat.rehearsal.advanceTo(Date.parse('2026-11-28T10:00:00+08:00')) // Saturday
    await g1.say(bob, '人工')
    g1.expectNoReply()
    await g1.say(carol, '新人报到') // carol joined 1 h before the start: still a newcomer? No — 5 days later.
    g1.expectNoReply()
  })

  it('answers a newcomer, but not an old member', async () => {
    ({ chat, owner } = await setup())
    await owner.post('/api/v1/auto-replies', rule({ name: 'new', trigger: { type: 'contains', keywords: ['新人'] }, conditions: { newcomerHours: 24 }, answer: { variants: [{ text: '欢迎新人 {member}' }] } })).expect(201)
    const g1 = chat.group('g1')
    await g1.say(bob, '新人怎么玩')
    g1.expectNoReply()
    await g1.say(carol, '新人怎么玩')
    g1.expectReply(/欢迎新人 小雨/)
  })

  it('cools down per group and per member, counting suppressed answers', async () => {
    ({ chat, owner } = await setup())
    const created = await owner.post('/api/v1/auto-replies', rule({ cooldown: { groupSeconds: 300, memberSeconds: 0 } })).expect(201)
    await owner.post('/api/v1/auto-replies', rule({ name: 'per member', trigger: { type: 'contains', keywords: ['地址'] }, cooldown: { groupSeconds: 0, memberSeconds: 600 }, answer: { variants: [{ text: '地址见公告' }] } })).expect(201)
    const g1 = chat.group('g1')
    await g1.say(bob, '价格')
    g1.expectReply(/99 元/)
    await g1.say(carol, '价格呢')
    g1.expectNoReply()
    await chat.rehearsal.advance(301_000)
    await g1.say(carol, '价格呢')
    g1.expectReply(/99 元/)
    await g1.say(bob, '地址')
    g1.expectReply(/地址见公告/)
    await g1.say(bob, '地址?')
    g1.expectNoReply()
    await g1.say(carol, '地址')
    g1.expectReply(/地址见公告/)
    const stats = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/stats`).expect(200)
    expect(stats.body.items.find((i: { ruleId: number }) => i.ruleId === created.body.id)).toMatchObject({ answered: 2, suppressed: 1 })
  })

  it('answers with the first matching rule in order, unless a rule says also continue; reorders', async () => {
    ({ chat, owner } = await setup())
    const a = await owner.post('/api/v1/auto-replies', rule({ name: 'A', answer: { variants: [{ text: 'A 答' }] } })).expect(201)
    const b = await owner.post('/api/v1/auto-replies', rule({ name: 'B', answer: { variants: [{ text: 'B 答' }] } })).expect(201)
    const g1 = chat.group('g1')
    await g1.say(bob, '价格')
    g1.expectReply(/A 答/)
    g1.expectNoReply()
    await owner.post('/api/v1/auto-replies/reorder', { ruleIds: [b.body.id, a.body.id] }).expect(200)
    await g1.say(bob, '价格')
    g1.expectReply(/B 答/)
    g1.expectNoReply()
    await owner.put(`/api/v1/auto-replies/${b.body.id}`, rule({ name: 'B', alsoContinue: true, answer: { variants: [{ text: 'B 答' }] } })).expect(200)
    await g1.say(bob, '价格')
    g1.expectReply(/B 答/)
    g1.expectReply(/A 答/)
    await owner.patch(`/api/v1/auto-replies/${b.body.id}`, { enabled: false }).expect(200)
    await g1.say(bob, '价格')
    g1.expectReply(/A 答/)
    g1.expectNoReply()
  })

  it('renders templates, picks variants with the seeded Random port, sends link cards and images', async () => {
    ({ chat, owner } = await setup())
    await owner.post('/api/v1/auto-replies', rule({
      trigger: { type: 'exact', keywords: ['课程'] },
      answer: { variants: [
        { text: '{member} 你好，{group} {date} {time} 的课程见链接', mention: true, link: { url: 'https://example.com/course', title: '{group}课程表' } },
        { text: '{member}：课程见图', imageUrl: 'https://example.com/course.png' },
      ] },
    })).expect(201)
    const g1 = chat.group('g1')
    const seen = new Set<string>()
    for (let i = 0; i < 6; i++) {
      await g1.say(bob, '课程')
      const text = g1.expectReply(/课程/).text ?? ''
      seen.add(text.includes('链接') ? 'link' : 'image')
      if (text.includes('链接')) {
        expect(text).toMatch(/阿强 你好，读书会 2026-11-23 10:00 的课程见链接/)
        chat.take((a) => a.kind === 'say' && a.card?.title === '读书会课程表' && a.card.url === 'https://example.com/course', 'a link card')
      } else {
        chat.take((a) => a.kind === 'say' && (a.image ?? '').includes('course.png'), 'an image')
      }
    }
    expect(seen).toEqual(new Set(['link', 'image']))
  })

  it('never answers a message moderation acted on, or a check-in', async () => {
    ({ chat, owner } = await setup())
    await owner.post('/api/v1/auto-replies', rule({ trigger: { type: 'contains', keywords: ['微信', '签到'] } })).expect(201)
    const g1 = chat.group('g1')
    await g1.say(carol, '加微信看价格')
    g1.expectRemoved(carol)
    // Moderation announces the removal; auto-reply stays silent.
    g1.expectReply(/已被移出本群/)
    g1.expectNoReply()
    await g1.say(bob, '签到')
    g1.expectReply(/签到成功/)
    g1.expectNoReply()
  })
})

describe(`auto-reply admin API (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let owner: ApiClient
  afterAll(async () => { await chat?.close() })
  beforeAll(async () => { ({ chat, owner } = await setup()) })

  it('rejects unsafe or invalid rules at save with clear errors', async () => {
    const backref = await owner.post('/api/v1/auto-replies', rule({ trigger: { type: 'regex', pattern: '(a+)\\1' } }))
    expect(backref.status).toBe(400)
    expect(backref.body.error.details[0].message).toMatch(/linear-time engine/)
    const lookahead = await owner.post('/api/v1/auto-replies', rule({ trigger: { type: 'regex', pattern: '(?=a)b' } }))
    expect(lookahead.status).toBe(400)
    const long = await owner.post('/api/v1/auto-replies', rule({ trigger: { type: 'regex', pattern: 'a'.repeat(201) } }))
    expect(long.status).toBe(400)
    const empty = await owner.post('/api/v1/auto-replies', rule({ answer: { variants: [{}] } }))
    expect(empty.status).toBe(400)
    const window = await owner.post('/api/v1/auto-replies', rule({ conditions: { windows: [{ from: '25:00', to: '10:00' }] } }))
    expect(window.status).toBe(400)
  })

  it('imports a FAQ from CSV with a per-row report, exports it, and dry-runs', async () => {
    const csv = [
      'keywords,match,answer,name',
      '价格|多少钱,contains,课程 99 元,价格',
      '营业时间,exact,每天 9 点到 21 点,',
      ',contains,没有关键词,坏行1',
      '(a+)\\1,regex,回溯,坏行2',
      '退款,sometimes,退款请私聊,坏行3',
      '"地址, 位置",any,"在""幸福里""小区",地址',
    ].join('\n')
    const imported = await owner.post('/api/v1/auto-replies/import', { csv }).expect(201)
    expect(imported.body).toMatchObject({ imported: 3, rejected: 3 })
    expect(imported.body.errors.map((e: { row: number }) => e.row)).toEqual([4, 5, 6])
    expect(imported.body.errors[2].problems[0]).toMatchObject({ path: 'match' })
    const list = await owner.get('/api/v1/auto-replies').expect(200)
    expect(list.body.items.map((r: { name: string }) => r.name)).toEqual(['价格', '营业时间', '地址'])
    const exported = await owner.get('/api/v1/auto-replies/export.csv').expect(200)
    expect(parseCsv(exported.text)[3]).toEqual(['地址|位置', 'any', '在"幸福里"小区', '地址', 'true'])
    const dry = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '這個多少錢', senderName: '阿强' }).expect(200)
    expect(dry.body).toMatchObject({ normalized: '这个多少钱', wouldAnswer: true, answer: { name: '价格', status: 'answered', rendered: { text: '课程 99 元' } }, reason: null })
    const none = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '你好' }).expect(200)
    expect(none.body).toMatchObject({ wouldAnswer: false, reason: 'no rule matches' })
    // Dry runs never arm cooldowns or count hits.
    const again = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '价格' }).expect(200)
    expect(again.body.wouldAnswer).toBe(true)
    const stats = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/stats`).expect(200)
    expect(stats.body.items).toEqual([])
  })

  it('explains cooldowns and windows in a dry run', async () => {
    const created = await owner.post('/api/v1/auto-replies', rule({ name: '晚上', trigger: { type: 'exact', keywords: ['值班'] }, conditions: { windows: [{ from: '20:00', to: '23:00' }] }, answer: { variants: [{ text: '今晚值班：小王' }] } })).expect(201)
    const dry = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '值班' }).expect(200)
    expect(dry.body.wouldAnswer).toBe(false)
    expect(dry.body.reason).toContain('晚上 (outside_window)')
    const evening = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '值班', at: '2026-11-23T21:00:00+08:00' }).expect(200)
    expect(evening.body.answer).toMatchObject({ ruleId: created.body.id, rendered: { text: '今晚值班：小王' } })
    await chat.group('g1').say(bob, '价格')
    const cooled = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '价格' }).expect(200)
    expect(cooled.body.reason).toContain('(cooldown)')
  })

  it('keeps other owners’ rules invisible (404) and unchangeable', async () => {
    const other = await apiAs(chat, 'owner', { groups: ['g3@chatroom'] })
    const mine = await owner.post('/api/v1/auto-replies', rule({ name: '私有' })).expect(201)
    await other.get(`/api/v1/auto-replies/${mine.body.id}`).expect(404)
    await other.put(`/api/v1/auto-replies/${mine.body.id}`, rule({})).expect(404)
    await other.del(`/api/v1/auto-replies/${mine.body.id}`).expect(404)
    expect((await other.get('/api/v1/auto-replies').expect(200)).body.items).toEqual([])
    await other.post('/api/v1/auto-replies/reorder', { ruleIds: [mine.body.id] }).expect(400)
  })

  it('never names another owner’s rule in a dry run or in hit stats (admins see all)', async () => {
    const dry = (who: ApiClient, text: string) => who.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text }).expect(200)
    const admin = await apiAs(chat, 'admin')
    // A rule of an owner of another group: it does not serve g1, and g1's owner must not learn it exists.
    const stranger = await apiAs(chat, 'owner', { groups: ['g3@chatroom'] })
    const hidden = await stranger.post('/api/v1/auto-replies', rule({ name: '别人的尺码规则', trigger: { type: 'contains', keywords: ['跑鞋尺码'] } })).expect(201)
    const probe = await dry(owner, '跑鞋尺码多大')
    expect(probe.body).toMatchObject({ wouldAnswer: false, answer: null, matches: [], reason: 'no rule matches' })
    expect(JSON.stringify(probe.body)).not.toContain('别人的尺码规则')
    expect((await dry(admin, '跑鞋尺码多大')).body.matches).toEqual([expect.objectContaining({ ruleId: hidden.body.id, name: '别人的尺码规则', status: 'out_of_scope' })])
    // A co-owner's rule that does answer in g1: the decision is told, the rule is not named.
    const coOwner = await apiAs(chat, 'owner', { groups: [G1] })
    const theirs = await coOwner.post('/api/v1/auto-replies', rule({ name: '合伙人的入会规则', trigger: { type: 'contains', keywords: ['入会'] }, answer: { variants: [{ text: '入会请找小王' }] } })).expect(201)
    const told = await dry(owner, '怎么入会')
    expect(told.body).toMatchObject({ wouldAnswer: true, answer: null, matches: [], reason: 'a rule you cannot see would answer' })
    expect(JSON.stringify(told.body)).not.toMatch(/合伙人的入会规则|入会请找小王/)
    expect((await dry(coOwner, '怎么入会')).body).toMatchObject({ wouldAnswer: true, answer: { ruleId: theirs.body.id, name: '合伙人的入会规则' } })
    await chat.group('g1').say(bob, '怎么入会')
    chat.group('g1').expectReply(/入会请找小王/)
    const stats = (who: ApiClient) => who.get(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/stats`).expect(200)
      .then((res) => [...new Set(res.body.items.map((i: { ruleId: number }) => i.ruleId))])
    expect(await stats(owner)).not.toContain(theirs.body.id)
    expect(await stats(coOwner)).toEqual([theirs.body.id])
    expect(await stats(admin)).toContain(theirs.body.id)
  })
})

describe('time windows', () => {
  it('handles windows across midnight and weekdays in the group timezone', () => {
    const at = (iso: string): number => Date.parse(iso)
    const night = [{ days: [5], from: '22:00', to: '02:00' }] // Friday night
    expect(insideWindows(night, at('2026-11-27T23:00:00+08:00'), 'Asia/Shanghai')).toBe(true) // Fri 23:00
    expect(insideWindows(night, at('2026-11-28T01:00:00+08:00'), 'Asia/Shanghai')).toBe(true) // Sat 01:00, Friday's window
    expect(insideWindows(night, at('2026-11-28T23:00:00+08:00'), 'Asia/Shanghai')).toBe(false) // Sat 23:00
    expect(insideWindows([{ days: [1, 2, 3, 4, 5, 6, 7], from: '09:00', to: '24:00' }], at('2026-11-23T23:59:00+08:00'), 'Asia/Shanghai')).toBe(true)
  })
})
