/**
 * Retention covers every declared table (review finding 4): each table of personal data is aged by a time
 * column of its own, by a parent row (`agesWith`: a member's per-group profile rows by their leave time in
 * `qy_member`), or is marked kept with a reason — and a member who left really disappears from the
 * check-in, tagging and WeCom link tables after the profile period, on the real runtime (SQLite, or MySQL
 * + Redis). Feature-own staging purges go through the same batched path (finding 7).
 */
import { Column, Entity, PrimaryColumn, getMetadataArgsStorage } from 'typeorm'
import { FEATURES } from '../src/features'
import { ageOf } from '../src/kernel/retention'
import type { DeclaredPersonalData, PersonalTable } from '../src/kernel/personal-data'
import { declaredPersonalData, tableOf } from '../src/personal-data'
import { WecomStore } from '../src/adapters/wecom/store'
import { apiAs } from './support/api'
import { Chat, type Person } from './support/chat'
import { cleanup, COORDINATION, STORAGE } from './support/env'

afterAll(cleanup, 180_000)

const DAY = 86_400_000
const G1 = 'g1@chatroom'
const G2 = 'g2@chatroom'
const zoe: Person = { id: 'zoe_4417', name: '周小舟' }
const bob: Person = { id: 'bob', name: '阿强' }

/** Declared tables nothing ages, and `agesWith` declarations naming a table or property that does not exist. */
function problems(declared: readonly DeclaredPersonalData[]): string[] {
  const storage = getMetadataArgsStorage()
  const props = (table: string): string[] => {
    const target = storage.tables.find((t) => t.name === table)?.target
    return target ? storage.columns.filter((c) => c.target === target).map((c) => c.propertyName) : []
  }
  const out: string[] = []
  for (const { owner, declaration } of declared) {
    for (const t of declaration.tables) {
      const name = tableOf(t.entity)
      if (ageOf(t) === 'undeclared') out.push(`${owner} ${name}: no time column, no agesWith, not marked kept`)
      if (t.agesWith) {
        const parent = props(t.agesWith.table)
        const own = props(name)
        for (const p of [t.agesWith.timeColumn, ...Object.values(t.agesWith.on), ...(t.agesWith.groupColumn ? [t.agesWith.groupColumn] : [])]) if (!parent.includes(p)) out.push(`${name}: agesWith ${t.agesWith.table}.${p} does not exist`)
        for (const p of Object.keys(t.agesWith.on)) if (!own.includes(p)) out.push(`${name}: agesWith joins on ${p}, not a property`)
      }
    }
  }
  return out
}

@Entity('qy_probe_ageless')
class AgelessEntity {
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ type: 'varchar', length: 10 }) day!: string
}

describe('every declared table is aged or kept on purpose', () => {
  const declared = declaredPersonalData(FEATURES)

  it('has a time column, a parent it ages with, or a reason to be kept', () => {
    expect(problems(declared)).toEqual([])
  })

  it('fails for a table declared without any (what retention used to skip silently)', () => {
    const planted: PersonalTable = { entity: AgelessEntity, dataClass: 'message-metadata', memberColumns: ['memberId'], onErase: 'delete' }
    expect(problems([...declared, { owner: 'probe', declaration: { purpose: 'a forgotten time column', tables: [planted] } }]))
      .toEqual(['probe qy_probe_ageless: no time column, no agesWith, not marked kept'])
  })
})

describe(`profiles age with the member's leave (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat | undefined
  afterEach(async () => { await chat?.close(); chat = undefined })

  /** Rows naming `memberId` in the tables a member's profile spans. */
  async function footprint(c: Chat, memberId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const [table, column] of [['qy_member', 'member_id'], ['qy_checkin_member', 'member_id'], ['qy_tagging_member', 'member_id'], ['qy_tagging_tag', 'member_id'], ['qy_wecom_member_link', 'puppet_id']] as const) {
      const r: Array<{ n: number | string }> = await c.runtime.db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, [memberId])
      out[table] = Number(r[0]?.n)
    }
    return out
  }
  async function named(c: Chat, name: string): Promise<number> {
    const r: Array<{ n: number | string }> = await c.runtime.db.query('SELECT COUNT(*) AS n FROM qy_checkin_member WHERE name = ?', [name])
    return Number(r[0]?.n)
  }

  it("removes a left member's check-in, tagging and link rows once their leave is older than the profile period; members still in the group keep theirs", async () => {
    const start = Date.parse('2026-12-01T09:00:00+08:00')
    chat = await Chat.start({
      start, http: true,
      rules: { g1: { 'check-in': { batch: { windowMs: 0 } } } },
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: zoe.id, name: zoe.name }, { id: bob.id, name: bob.name }] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }, { id: zoe.id, name: zoe.name }] },
      ],
    })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    for (const who of [zoe, bob]) {
      await g1.say(who, '签到')
      g1.expectReply(/签到/, who)
      await g1.say(who, '今天读完了第三章，收获很多')
      await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/members/${who.id}/tags`, { tag: '讲师' }).expect(201)
      await new WecomStore(chat.runtime.db).linkMembers('corp', [[`wm_${who.id}`, who.id]], chat.clock.now())
    }
    await chat.runtime.flush()
    chat.skip()
    // The owner of g1 keeps profiles 3 days after a leave; g2 has the default (180 days).
    await owner.put('/api/v1/retention/policy', { profile: 3 }).expect(200)
    const before = await footprint(chat, zoe.id)
    expect(before).toEqual({ qy_member: 2, qy_checkin_member: 1, qy_tagging_member: 1, qy_tagging_tag: 1, qy_wecom_member_link: 1 })
    expect(await named(chat, zoe.name)).toBe(1)

    await g1.leave([zoe])
    await chat.runtime.flush()
    await chat.rehearsal.advance(2 * DAY)
    await chat.runtime.retention.purge('profile', { source: 'api' })
    // Left 2 days ago: within the 3 days.
    expect(await footprint(chat, zoe.id)).toEqual(before)

    await chat.rehearsal.advance(2 * DAY)
    // (The daily job may have run while the clock moved; this run, or that one, purged her g1 rows.)
    await chat.runtime.retention.purge('profile', { source: 'api' })
    // Gone from g1; still a member of g2, so the group-less WeCom link stays; her name is nowhere in check-in rows.
    expect(await footprint(chat, zoe.id)).toEqual({ qy_member: 1, qy_checkin_member: 0, qy_tagging_member: 0, qy_tagging_tag: 0, qy_wecom_member_link: 1 })
    expect(await named(chat, zoe.name)).toBe(0)
    // Bob is still in the group: nothing of his goes.
    expect(await footprint(chat, bob.id)).toEqual({ qy_member: 1, qy_checkin_member: 1, qy_tagging_member: 1, qy_tagging_tag: 1, qy_wecom_member_link: 1 })

    // Once she left g2 too and the default period passed there, her link goes with her last membership.
    await chat.group('g2').leave([zoe])
    await chat.runtime.flush()
    await chat.rehearsal.advanceTo(chat.clock.now() + 181 * DAY)
    await chat.runtime.retention.purge('profile', { source: 'api' })
    expect(await footprint(chat, zoe.id)).toEqual({ qy_member: 0, qy_checkin_member: 0, qy_tagging_member: 0, qy_tagging_tag: 0, qy_wecom_member_link: 0 })
    expect((await footprint(chat, bob.id)).qy_checkin_member).toBe(1)
  }, 180_000)

  it('purges stats staging rows (member hours, event ids) through the batched metadata purge, within their own short limit', async () => {
    const start = Date.parse('2026-12-01T09:00:00+08:00')
    chat = await Chat.start({ start })
    const db = chat.runtime.db
    const now = chat.clock.now()
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10)
    for (let i = 0; i < 5; i++) await db.query('INSERT INTO qy_stats_member_hour (group_id, day, hour, member_id) VALUES (?, ?, ?, ?)', [G2, day(now - 10 * DAY), i, `m${i}`])
    await db.query('INSERT INTO qy_stats_member_hour (group_id, day, hour, member_id) VALUES (?, ?, ?, ?)', [G2, day(now - DAY), 1, 'recent'])
    for (let i = 0; i < 5; i++) await db.query('INSERT INTO qy_stats_event (id, at) VALUES (?, ?)', [`probe-old-${i}`, now - 31 * DAY])
    await db.query('INSERT INTO qy_stats_event (id, at) VALUES (?, ?)', ['probe-recent', now - DAY])
    const run = await chat.runtime.retention.purge('message-metadata', { source: 'api' })
    const of = (t: string) => run.detail.find((d) => d.table === t)
    expect(of('qy_stats_member_hour')?.deleted).toBe(5)
    expect(of('qy_stats_event')?.deleted).toBe(5)
    const hours: Array<{ member_id: string }> = await db.query('SELECT member_id FROM qy_stats_member_hour WHERE group_id = ?', [G2])
    expect(hours.map((h) => h.member_id)).toEqual(['recent'])
    const events: Array<{ id: string }> = await db.query("SELECT id FROM qy_stats_event WHERE id LIKE 'probe-%'")
    expect(events.map((e) => e.id)).toEqual(['probe-recent'])
  })

  it("reaches a table without a group column through its parent's group: an owner's shorter policy purges their groups' share-window speakers only", async () => {
    chat = await Chat.start({
      start: Date.parse('2026-12-01T09:00:00+08:00'), http: true,
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: zoe.id, name: zoe.name }] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }, { id: zoe.id, name: zoe.name }] },
      ],
    })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const db = chat.runtime.db
    const now = chat.clock.now()
    // A send's window in each group 10 days ago (send ids 101, 102) and a recent one in g1 (103), each with two speakers.
    for (const [send, group, endAt] of [[101, G1, now - 10 * DAY], [102, G2, now - 10 * DAY], [103, G1, now - DAY]] as const) {
      await db.query('INSERT INTO qy_share_window (send_id, schedule_id, group_id, kind, start_at, end_at, messages) VALUES (?, 1, ?, ?, ?, ?, 2)', [send, group, 'post', endAt - 1_800_000, endAt])
      for (const m of [zoe.id, bob.id]) await db.query('INSERT INTO qy_share_window_member (send_id, member_id) VALUES (?, ?)', [send, m])
    }
    const speakers = async (): Promise<number[]> => ((await db.query('SELECT DISTINCT send_id FROM qy_share_window_member ORDER BY send_id')) as Array<{ send_id: number | string }>).map((r) => Number(r.send_id))
    // Default retention (longer than 10 days): nothing goes.
    await chat.runtime.retention.purge('message-metadata', { source: 'api' })
    expect(await speakers()).toEqual([101, 102, 103])
    // g1's owner keeps message metadata 7 days: g1's old window speakers go; g2's and g1's recent ones stay.
    await owner.put('/api/v1/retention/policy', { 'message-metadata': 7 }).expect(200)
    const dry = await chat.runtime.retention.purge('message-metadata', { source: 'api', dryRun: true })
    expect(dry.detail.find((d) => d.table === 'qy_share_window_member')?.deleted).toBe(2)
    const run = await chat.runtime.retention.purge('message-metadata', { source: 'api' })
    expect(run.detail.find((d) => d.table === 'qy_share_window_member')?.deleted).toBe(2)
    expect(await speakers()).toEqual([102, 103])
  })

  it('purges processed WeCom inbox rows in batches, never pending ones', async () => {
    chat = await Chat.start({ start: Date.parse('2026-12-01T09:00:00+08:00') })
    const store = new WecomStore(chat.runtime.db)
    const now = chat.clock.now()
    for (let i = 0; i < 7; i++) {
      await chat.runtime.db.query('INSERT INTO qy_wecom_inbox (bot_id, event_key, payload, status, attempts, due_at, received_at) VALUES (?, ?, ?, ?, 0, ?, ?)', ['probe', `k${i}`, '{}', i === 6 ? 'pending' : 'done', now, now - 8 * DAY])
    }
    expect(await store.purge(now - 7 * DAY, 2)).toBe(6)
    expect(store.purgeStatements).toBe(3)
    expect(await store.count('probe', 'pending')).toBe(1)
    expect(await store.count('probe', 'done')).toBe(0)
  })
})
