import { defineFeature } from '../../adapters/db/feature-store'
import { MemberLifecycleChanged } from '../../contracts/tagging'
import { FEATURES } from '../../features'
import { Chat, bob, carol, type Person } from '../../../test/support/chat'
import { cleanup, COORDINATION, STORAGE } from '../../../test/support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB
// Three runtimes on a shared MariaDB + Redis under other work's load: the default 30 s was seen to run out.
jest.setTimeout(120_000)

const G1 = 'g1@chatroom'
/** 10:05 in Shanghai on a Monday. */
const START = Date.parse('2026-11-02T02:05:00Z')
const dave: Person = { id: 'dave', name: '大卫' }
const erin: Person = { id: 'erin', name: 'Erin' }
const frank: Person = { id: 'frank', name: '阿发' }

const seen: Array<{ memberId: string; from: string | null; to: string }> = []
const recorder = defineFeature({
  name: 'lifecycle-recorder',
  events: { consumes: [MemberLifecycleChanged] },
  setup() {
    return { onEvent(event) { if (MemberLifecycleChanged.is(event)) seen.push({ memberId: event.memberId, from: event.from, to: event.to }) } }
  },
})

const GROUPS = [
  { id: 'g1', name: '一群', members: [{ id: 'alice', name: 'Alice', role: 'owner' as const }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨🌸' }] },
  { id: 'g2', name: '二群', members: [{ id: 'dave', name: '大卫', role: 'owner' as const }, { id: 'erin', name: 'Erin' }, { id: 'frank', name: '阿发' }] },
]

describe(`tagging member-state cache is bounded (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('evicts the least recently used group beyond pipeline.memberStateCache and reads its states again from the store on its next message', async () => {
    seen.length = 0
    chat = await Chat.start({ start: START, groups: GROUPS, features: [...FEATURES, recorder], configOverrides: { pipeline: { memberStateCache: 3 } } })
    // bob and carol already have rows (active).
    for (const id of ['bob', 'carol']) {
      await chat.runtime.db.query('INSERT INTO qy_tagging_member (group_id, member_id, state, state_at, state_day, seen_day, messages, active_days, score) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0)', [G1, id, 'active', START - 86_400_000, '2026-11-01', '2026-11-01'])
    }
    const g1 = chat.group('g1')
    await g1.say(bob, '早')
    await chat.runtime.flush()
    // g1's states are in memory now (bob and carol active). carol's row changes behind the message path's
    // back (no notice to this process): only a reload from the store can see it.
    await chat.runtime.db.query('UPDATE qy_tagging_member SET state = ? WHERE group_id = ? AND member_id = ?', ['dormant', G1, 'carol'])

    // Three new members in g2: 2 + 3 states > 3 → g1 (least recently used) is evicted.
    const g2 = chat.group('g2')
    for (const who of [dave, erin, frank]) await g2.say(who, '大家好')
    await chat.eventually(() => expect(seen.filter((e) => e.from === null && e.to === 'active').map((e) => e.memberId).sort()).toEqual(['dave', 'erin', 'frank']))

    // carol speaks: g1 is read again, carol is found dormant and comes back.
    await g1.say(carol, '我回来了')
    await chat.eventually(() => expect(seen.filter((e) => e.memberId === 'carol').map((e) => `${e.from ?? '-'}>${e.to}`)).toEqual(['dormant>returned']))
    const rows: Array<{ member_id: string; state: string }> = await chat.runtime.db.query('SELECT member_id, state FROM qy_tagging_member WHERE group_id = ? ORDER BY member_id', [G1])
    expect(rows).toEqual([{ member_id: 'bob', state: 'active' }, { member_id: 'carol', state: 'returned' }])
    // bob was never announced again (his row was read back as active), g2's new members were written once each.
    expect(seen.filter((e) => e.memberId === 'bob')).toEqual([])
    await chat.runtime.flush()
    const g2rows: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_tagging_member WHERE group_id = ?', ['g2@chatroom'])
    expect(Number(g2rows[0]?.n)).toBe(3)
  })

  it('with room for one state only (every message evicts the other group), announces and stores each new member once', async () => {
    seen.length = 0
    chat = await Chat.start({ start: START, groups: GROUPS, features: [...FEATURES, recorder], configOverrides: { pipeline: { memberStateCache: 1 } } })
    const g1 = chat.group('g1')
    const g2 = chat.group('g2')
    // Alternate the groups so each message evicts the other group; nothing is flushed in between.
    await g1.say(bob, '一')
    await g2.say(dave, '二')
    await g1.say(carol, '三')
    await g2.say(erin, '四')
    await g1.say(bob, '五')
    await g2.say(dave, '六')
    await chat.runtime.flush()
    await chat.eventually(() => expect(seen.map((e) => e.memberId).sort()).toEqual(['bob', 'carol', 'dave', 'erin']))
    const rows: Array<{ group_id: string; member_id: string }> = await chat.runtime.db.query('SELECT group_id, member_id FROM qy_tagging_member ORDER BY group_id, member_id')
    expect(rows.map((r) => `${r.group_id}/${r.member_id}`)).toEqual([`${G1}/bob`, `${G1}/carol`, 'g2@chatroom/dave', 'g2@chatroom/erin'])
  })
})

describe(`tagging mention points of several groups in one flush (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('adds each mentioned member\'s points in their own group, and creates no row for a member never seen', async () => {
    chat = await Chat.start({ start: START, groups: GROUPS })
    const g1 = chat.group('g1')
    const g2 = chat.group('g2')
    await g1.say(bob, '在')
    await g2.say(erin, '在')
    await chat.runtime.flush()
    const score = async (groupId: string, memberId: string): Promise<number | null> => {
      const rows: Array<{ score: number | string }> = await chat.runtime.db.query('SELECT score FROM qy_tagging_member WHERE group_id = ? AND member_id = ?', [groupId, memberId])
      return rows[0] ? Number(rows[0].score) : null
    }
    expect(await score(G1, 'bob')).toBe(0)
    expect(await score('g2@chatroom', 'erin')).toBe(0)
    // One flush window: bob mentioned twice in g1, erin once in g2, frank (no row yet) once in g2; erin is also
    // mentioned in g1, where she has no row.
    await g1.say(carol, { text: '@阿强 说得对', mentions: ['bob'] })
    await g1.say(carol, { text: '@阿强 @Erin 同意', mentions: ['bob', 'erin'] })
    await g2.say(dave, { text: '@Erin @阿发 你们好', mentions: ['erin', 'frank'] })
    await chat.runtime.flush()
    const bobScore = await score(G1, 'bob')
    const erinScore = await score('g2@chatroom', 'erin')
    expect(bobScore).toBeGreaterThan(0)
    expect(erinScore).toBeGreaterThan(0)
    // Two mentions weigh twice one (same instant, same scale).
    expect(bobScore).toBeCloseTo(2 * (erinScore as number), 6)
    expect(await score(G1, 'erin')).toBeNull()
    // frank spoke never: being mentioned creates no row (his first message would).
    expect(await score('g2@chatroom', 'frank')).toBeNull()
  })
})
