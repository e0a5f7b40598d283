/**
 * One normalization for the whole product, seen through the features that match text: moderation and
 * auto-replies read WeChat emoji codes, emoji and traditional characters the same way check-ins do (the
 * shared text engine in src/text/normalize.ts), and the dry-runs show that normalized text.
 */
import { Chat, type Person } from './support/chat'
import { apiAs, type ApiClient } from './support/api'
import { cleanup, COORDINATION, STORAGE } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const G1 = 'g1@chatroom'
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨' }
const START = Date.parse('2026-11-23T10:00:00+08:00')
const DAY = 86_400_000

async function setup(): Promise<{ chat: Chat; owner: ApiClient }> {
  const chat = await Chat.start({
    http: true, start: START,
    groups: [{
      id: 'g1', name: '读书会', members: [
        { id: 'alice', name: 'Alice', role: 'owner', joinedAt: START - 400 * DAY },
        { id: 'bob', name: '阿强', joinedAt: START - 100 * DAY },
        { id: 'carol', name: '小雨', joinedAt: START - 30 * DAY },
      ],
    }],
  })
  const owner = await apiAs(chat, 'owner', { groups: [G1] })
  await owner.put(`/api/v1/groups/${encodeURIComponent(G1)}/moderation`, { rules: { enabled: true, flood: { enabled: false }, duplicates: { enabled: false } } }).expect(200)
  return { chat, owner }
}

describe(`emoji codes, emoji and traditional characters across features (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let owner: ApiClient
  afterEach(async () => { await chat?.close() })

  it('moderation: an emoji code cannot split a listed term, and the dry-run shows it dropped', async () => {
    ({ chat, owner } = await setup())
    const g1 = chat.group('g1')
    await g1.say(carol, '加[呲牙]微信领资料')
    g1.expectReply(/请遵守群规/, carol)
    await g1.say(bob, '[强][玫瑰] 今天读到第三章了')
    g1.expectNoReply()
    const dry = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/dry-run`, { text: '加[呲牙]微信［OK］' }).expect(200)
    expect(dry.body.normalized).toBe('加微信')
    expect(dry.body.matches).toEqual(expect.arrayContaining([expect.objectContaining({ detector: 'words', matched: '加微信', original: '加[呲牙]微信' })]))
  })

  it('dry-runs show the correct simplified characters (怎么看 stays 怎么看)', async () => {
    ({ chat, owner } = await setup())
    const dry = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/dry-run`, { text: '这本书怎么看？乾杯！後來頭髮、麵條、台灣' }).expect(200)
    expect(dry.body.normalized).toBe('这本书怎么看干杯后来头发面条台湾')
    const reply = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '怎麼看' }).expect(200)
    expect(reply.body.normalized).toBe('怎么看')
  })

  it('auto-reply: an exact trigger answers its keyword with emoji codes and emoji around it', async () => {
    ({ chat, owner } = await setup())
    await owner.post('/api/v1/auto-replies', {
      name: '价格', trigger: { type: 'exact', keywords: ['价格'] }, cooldown: { groupSeconds: 0 }, answer: { variants: [{ text: '课程价格是 99 元' }] },
    }).expect(201)
    const g1 = chat.group('g1')
    for (const text of ['价格[呲牙]', '[玫瑰]價格？', '价格👍🏻']) {
      await g1.say(bob, text)
      g1.expectReply(/课程价格是 99 元/)
    }
    await g1.say(bob, '[公告]价格') // not an emoji code: its word stays, so the exact trigger does not match
    g1.expectNoReply()
    const dry = await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/auto-reply/dry-run`, { text: '价格[Smile]' }).expect(200)
    expect(dry.body).toMatchObject({ normalized: '价格', wouldAnswer: true, answer: { ruleId: 1, status: 'answered', rendered: { text: '课程价格是 99 元' } } })
  })
})
