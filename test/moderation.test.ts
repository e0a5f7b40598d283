import QRCode from 'qrcode'
import { Chat, type Person } from './support/chat'
import { apiAs, type ApiClient } from './support/api'
import { cleanup, COORDINATION, STORAGE } from './support/env'
import { chatLine, GROUP_THEMES } from '../src/simulation/chatter'
import { seededRandom } from '../src/ports/random'

afterAll(cleanup)

const G1 = 'g1@chatroom'
const alice: Person = { id: 'alice', name: 'Alice' }
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }
const stan: Person = { id: 'stan', name: '客服小王' }
const mallory: Person = { id: 'mallory', name: '新来的' }
const START = Date.parse('2026-11-23T10:00:00+08:00')
const HOUR = 3_600_000

async function setup(rules: Record<string, unknown> = {}, opts: { extraGroups?: boolean } = {}): Promise<{ chat: Chat; owner: ApiClient }> {
  const groups = [{
    id: 'g1', name: '读书会', members: [
      { id: 'alice', name: 'Alice', role: 'owner' as const, joinedAt: START - 400 * 24 * HOUR },
      { id: 'bob', name: '阿强', joinedAt: START - 100 * 24 * HOUR },
      { id: 'carol', name: '小雨', joinedAt: START - 30 * 24 * HOUR },
      { id: 'stan', name: '客服小王', joinedAt: START - 30 * 24 * HOUR },
      { id: 'mallory', name: '新来的', joinedAt: START - HOUR },
      { id: 'admin1', name: '管理员', role: 'admin' as const },
    ],
  }]
  if (opts.extraGroups) {
    groups.push({ id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' as const, joinedAt: START - 100 * 24 * HOUR }, { id: 'bob', name: '阿强', joinedAt: START - 100 * 24 * HOUR }] })
    groups.push({ id: 'g3', name: '团购群', members: [{ id: 'erin', name: 'Erin', role: 'owner' as const, joinedAt: START - 100 * 24 * HOUR }, { id: 'bob', name: '阿强', joinedAt: START - 100 * 24 * HOUR }] })
  }
  const chat = await Chat.start({ http: true, start: START, groups })
  const owner = await apiAs(chat, 'owner', { groups: [G1, 'g2@chatroom', 'g3@chatroom'] })
  const body = { rules: { enabled: true, staff: ['stan'], flood: { enabled: false }, duplicates: { enabled: false }, ...rules } }
  for (const g of groups) await owner.put(`/api/v1/groups/${encodeURIComponent(`${g.id}@chatroom`)}/moderation`, body).expect(200)
  return { chat, owner }
}

describe(`moderation through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let owner: ApiClient
  afterEach(async () => { await chat?.close() })

  it('catches evasions of listed terms and climbs the strike ladder to removal', async () => {
    ({ chat, owner } = await setup())
    const g1 = chat.group('g1')
    await g1.say(carol, '资料请 加.V.信 领取')
    g1.expectReply(/请遵守群规：禁止发布广告和敏感内容（第 1 次提醒）/, carol)
    await g1.say(carol, '加 v 信 看看')
    g1.expectReply(/最后一次提醒/, carol)
    await g1.say(carol, '加Ｖ信啦')
    g1.expectRemoved(carol)
    g1.expectReply(/小雨 多次违反群规（禁止发布广告和敏感内容），已被移出本群/)
    const events = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/events`).expect(200)
    expect(events.body.items.map((e: { action: string; strike: number; matched: string; result: string }) => [e.action, e.strike, e.matched, e.result]))
      .toEqual([['remove', 3, '加v信', 'done'], ['final_warning', 2, '加v信', 'done'], ['warn', 1, '加v信', 'done']])
  })

  it('matches traditional characters, full-width letters and circled digits', async () => {
    ({ chat } = await setup({ words: { add: ['vx123'] } }))
    const g1 = chat.group('g1')
    await g1.say(bob, '兼職日結，私聊')
    g1.expectReply(/第 1 次提醒/, bob)
    await g1.say(carol, '加ＶＸ①②③')
    g1.expectReply(/第 1 次提醒/, carol)
    await g1.say(carol, '今天的读书会很好')
    g1.expectNoReply()
  })

  it('never punishes the owner, admins, staff or allowlisted members', async () => {
    ({ chat } = await setup({ allowlist: ['bob'] }))
    const g1 = chat.group('g1')
    for (const who of [alice, { id: 'admin1', name: '管理员' }, stan, bob]) await g1.say(who, '加微信领取资料')
    g1.expectNoReply()
    expect(chat.pending().filter((a) => a.kind === 'remove')).toEqual([])
  })

  it('is stricter with newcomers when a rule says so', async () => {
    ({ chat } = await setup({ words: { newcomerAction: 'remove' } }))
    const g1 = chat.group('g1')
    await g1.say(mallory, '免费领取，加微信')
    g1.expectRemoved(mallory)
    await g1.say(carol, '免费领取，加微信')
    g1.expectReply(/第 1 次提醒/, carol)
  })

  it('lets strikes decay after decayDays', async () => {
    ({ chat } = await setup({ decayDays: 2 }))
    const g1 = chat.group('g1')
    await g1.say(carol, '刷单日赚')
    g1.expectReply(/第 1 次提醒/)
    await chat.rehearsal.advance(25 * HOUR)
    await g1.say(carol, '刷单日赚')
    g1.expectReply(/最后一次提醒/)
    await chat.rehearsal.advance(30 * HOUR)
    await g1.say(carol, '刷单日赚')
    g1.expectReply(/最后一次提醒/) // 55 h: the first strike has decayed, the second (30 h old) has not
    await chat.rehearsal.advance(72 * HOUR)
    await g1.say(carol, '刷单日赚')
    g1.expectReply(/第 1 次提醒/)
  })

  it('records a failed removal and tells the owner', async () => {
    ({ chat, owner } = await setup({ ladder: ['remove'] }))
    chat.rehearsal.world.puppet.failures.push({ kind: 'remove', error: new Error('permission denied: bot is not a group admin'), times: 1 })
    const g1 = chat.group('g1')
    await g1.say(carol, '加微信')
    await chat.rehearsal.quiesce()
    expect(chat.rehearsal.world.members('g1')).toContain('carol')
    await chat.eventually(() => chat.take((a) => a.kind === 'say' && a.groupId === 'alice' && /无法将 小雨 移出「读书会」：.*not a group admin/.test(a.text ?? ''), 'a direct message to the owner'))
    const events = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/events?result=failed`).expect(200)
    expect(events.body.items[0]).toMatchObject({ memberId: 'carol', action: 'remove', result: 'failed', reason: expect.stringContaining('not a group admin') })
  })

  it('applies owner regexes, links with an allowlist, and forbidden card types', async () => {
    ({ chat } = await setup({
      regex: { patterns: [{ name: 'QQ号', pattern: 'qq\\d{6,}' }] },
      links: { enabled: true, allowDomains: ['example.com'] },
      words: { lists: [] },
    }))
    const g1 = chat.group('g1')
    await g1.say(bob, '我的 QQ 12345678 欢迎')
    g1.expectReply(/禁止发布违规内容/, bob)
    await g1.say(carol, '文档在 https://docs.example.com/a 看')
    g1.expectNoReply()
    await g1.say(carol, '点这个 www.lucky-prize.top/x')
    g1.expectReply(/禁止发布外部链接/, carol)
    await g1.say({ id: 'mallory', name: '新来的' }, { type: 'miniprogram', title: '拼多多砍一刀' })
    g1.expectReply(/禁止发送小程序、名片等卡片/)
    await g1.say(bob, { type: 'url', title: '读书笔记', url: 'https://example.com/notes' })
    g1.expectNoReply()
  })

  it('finds QR codes in images unless allowlisted', async () => {
    ({ chat } = await setup({ qr: { allow: ['example.com'] } }))
    const g1 = chat.group('g1')
    const advert = await QRCode.toBuffer('https://u.wechat.com/EXAMPLE-advert', { width: 300 })
    const allowed = await QRCode.toBuffer('https://example.com/join', { width: 300 })
    await g1.say(carol, { type: 'image', image: allowed })
    g1.expectNoReply()
    await g1.say(carol, { type: 'image', image: advert })
    g1.expectReply(/禁止发布二维码/, carol)
  })

  it('catches floods and duplicates, also across groups', async () => {
    ({ chat } = await setup({ flood: { enabled: true, messages: 4, seconds: 10 }, duplicates: { enabled: true, memberTimes: 2, groups: 3, minChars: 4 }, words: { lists: [] } }, { extraGroups: true }))
    const g1 = chat.group('g1')
    for (let i = 0; i < 4; i++) await g1.say(carol, `第${i}条消息内容`)
    g1.expectNoReply()
    await g1.say(carol, '第五条消息内容')
    g1.expectReply(/禁止刷屏/, carol)
    await chat.rehearsal.advance(60_000)
    await g1.say(alice, '同一段内容发三遍') // owner: exempt
    for (let i = 0; i < 2; i++) await g1.say(bob, '周末一起去爬山吧')
    g1.expectNoReply()
    await g1.say(bob, '周末一起去爬山吧')
    g1.expectReply(/禁止重复发送相同内容/, bob)
    await chat.rehearsal.advance(60_000)
    // The same text in three groups within the window: the third group's copy is cross-group spam.
    await chat.group('g1').say(carol, '限时特价最后三天')
    await chat.group('g2').say(bob, '限时特价最后三天')
    chat.group('g2').expectNoReply()
    await chat.group('g3').say(bob, '限时特价最后三天')
    chat.group('g3').expectReply(/禁止重复发送相同内容/, bob)
  })

  it('records shadow-mode violations without acting', async () => {
    ({ chat, owner } = await setup({ words: { shadow: true } }))
    const g1 = chat.group('g1')
    await g1.say(carol, '加微信')
    g1.expectNoReply()
    const events = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/events`).expect(200)
    expect(events.body.items[0]).toMatchObject({ detector: 'words', shadow: true, result: 'shadow', action: 'none', strike: null })
    const member = await owner.get(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/members/carol`).expect(200)
    expect(member.body.strikes).toBe(0)
  })

  it('welcomes joins within the window in one message', async () => {
    ({ chat } = await setup({ welcome: { enabled: true, windowSeconds: 20 } }))
    const g1 = chat.group('g1')
    await g1.join([{ id: 'n1', name: '新人甲' }], alice)
    await chat.rehearsal.advance(5_000)
    await g1.join([{ id: 'n2', name: '新人乙' }, { id: 'n3', name: '新人丙' }], bob)
    g1.expectNoReply()
    await chat.rehearsal.advance(20_000)
    const welcome = await chat.eventually(() => g1.expectReply(/欢迎 新人甲、新人乙、新人丙 加入读书会！群内禁止广告/))
    expect(welcome.mentions).toEqual(['n1', 'n2', 'n3'])
  })

  it('never warns ordinary members in a realistic mixed chat', async () => {
    ({ chat } = await setup({ flood: { enabled: true }, duplicates: { enabled: true } }))
    const g1 = chat.group('g1')
    const random = seededRandom(2026)
    const theme = GROUP_THEMES[0] as (typeof GROUP_THEMES)[number]
    const regulars = [bob, carol, { id: 'stan', name: '客服小王' }]
    let ordinary = 0
    for (let i = 0; i < 300; i++) {
      const line = chatLine(random, theme, { hour: 10, advertRate: 0 })
      await g1.say(regulars[i % regulars.length] as Person, line.text)
      ordinary++
      await chat.rehearsal.advance(20_000)
    }
    // (Check-in lines get their 签到 answers; moderation says nothing and removes no one.)
    const moderationActs = (): typeof chat.rehearsal.actions => chat.pending().filter((a) => a.kind === 'remove' || (a.kind === 'say' && /群规|提醒|移出/.test(a.text ?? '')))
    expect(moderationActs()).toEqual([])
    const adverts = ['兼职日结，加 V 信 详聊', '免費領取資料，私聊領取', '刷单日赚三百，加qq']
    for (const ad of adverts) await g1.say(mallory, ad)
    const acts = moderationActs()
    expect(acts.length).toBeGreaterThanOrEqual(3)
    expect(acts.every((a) => a.mentions?.includes('mallory') || a.memberId === 'mallory' || /新来的/.test(a.text ?? ''))).toBe(true)
    expect(ordinary).toBe(300)
  })
})

describe(`moderation admin API (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let owner: ApiClient
  beforeAll(async () => { ({ chat, owner } = await setup()) })
  afterAll(async () => { await chat?.close() })
  const base = `/api/v1/groups/${encodeURIComponent(G1)}/moderation`

  it('dry-runs a message: normalized text, every match with its span, the action — without acting', async () => {
    const res = await owner.post(`${base}/dry-run`, { text: '资料 加.V.信 领取，兼職日結', senderId: 'carol' }).expect(200)
    expect(res.body.normalized).toBe('资料加v信领取兼职日结')
    expect(res.body.matches).toEqual(expect.arrayContaining([
      expect.objectContaining({ detector: 'words', matched: '加v信', listId: 'file:ads', original: '加.V.信' }),
      expect.objectContaining({ detector: 'words', matched: '兼职日结', original: '兼職日結' }),
    ]))
    expect(res.body).toMatchObject({ wouldDo: 'warn', strike: 1, exempt: null })
    const newcomer = await owner.post(`${base}/dry-run`, { text: '加微信', joinedAt: new Date(START - HOUR).toISOString(), rules: { enabled: true, words: { newcomerAction: 'remove' } } }).expect(200)
    expect(newcomer.body.wouldDo).toBe('remove')
    const ownerMsg = await owner.post(`${base}/dry-run`, { text: '加微信', role: 'owner' }).expect(200)
    expect(ownerMsg.body).toMatchObject({ exempt: 'owner', wouldDo: 'none' })
    const events = await owner.get(`${base}/events`).expect(200)
    expect(events.body.items).toEqual([])
  })

  it('versions every change, diffs two versions and rolls back', async () => {
    const v1 = (await owner.get(base).expect(200)).body.version
    await owner.put(base, { rules: { enabled: true, staff: ['stan'], decayDays: 7, words: { add: ['团购链接'] } }, note: '加一个词' }).expect(200)
    const bad = await owner.put(base, { rules: { enabled: true, regex: { patterns: [{ name: 'x', pattern: '(a)\\1' }] } } })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details[0]).toMatchObject({ path: 'body.rules.regex.patterns.0.pattern', message: expect.stringMatching(/linear-time/) })
    const versions = await owner.get(`${base}/versions`).expect(200)
    expect(versions.body.items[0]).toMatchObject({ version: v1 + 1, note: '加一个词' })
    const diff = await owner.get(`${base}/diff?from=${v1}&to=${v1 + 1}`).expect(200)
    expect(diff.body.changes).toEqual(expect.arrayContaining([
      { path: 'decayDays', before: 30, after: 7 },
      { path: 'words.add', before: [], after: ['团购链接'] },
    ]))
    const rolled = await owner.post(`${base}/rollback`, { version: v1 }).expect(200)
    expect(rolled.body).toMatchObject({ version: v1 + 2, rules: { decayDays: 30 } })
    expect((await owner.get(base).expect(200)).body.rules.words.add).toEqual([])
  })

  it('uploads a word list, attaches it to a group, and resets a member’s strikes', async () => {
    const created = await owner.post('/api/v1/word-lists', { name: '本群词库', text: '# 注释\n拼团返现\n 砍一刀 \n\n' }).expect(201)
    expect(created.body).toMatchObject({ terms: 2 })
    await owner.put(`${base}/word-lists`, { lists: ['file:ads', created.body.id] }).expect(200)
    await owner.put(`${base}/word-lists`, { lists: ['list:999999'] }).expect(400)
    await chat.group('g1').say(carol, '快来砍一刀')
    chat.group('g1').expectReply(/第 1 次提醒/, carol)
    const member = await owner.get(`${base}/members/carol`).expect(200)
    expect(member.body.strikes).toBe(1)
    await owner.post(`${base}/members/carol/reset`).expect(200)
    expect((await owner.get(`${base}/members/carol`).expect(200)).body.strikes).toBe(0)
    const stats = await owner.get(`${base}/stats`).expect(200)
    expect(stats.body.items).toEqual([{ day: '2026-11-23', detector: 'words', live: 1, shadow: 0, removals: 0 }])
    const lists = await owner.get('/api/v1/word-lists').expect(200)
    expect(lists.body.items.map((l: { id: string }) => l.id)).toEqual(expect.arrayContaining(['file:ads', 'file:sensitive', created.body.id]))
  })
})
