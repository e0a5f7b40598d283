/**
 * Retention per data class (issue 19) on the real runtime and database (SQLite, or MySQL + Redis):
 * each class's boundary on both sides with the fake clock, owners' policies honoured and scoped to their
 * groups, one purge per fire time across two runtimes, batched deletes, the routes and /metrics.
 */
import request from 'supertest'
import { Column, Entity, PrimaryGeneratedColumn, Table, type MigrationInterface, type QueryRunner } from 'typeorm'
import { msColumn } from '../src/adapters/db/columns'
import { defineFeature, type Feature } from '../src/adapters/db/feature-store'
import { FEATURES } from '../src/features'
import type { DataClass, PersonalTable } from '../src/kernel/personal-data'
import type { RetentionRun } from '../src/kernel/retention'
import { columns } from '../migrations/columns'
import { apiAs } from './support/api'
import { Chat } from './support/chat'
import { cleanup, COORDINATION, STORAGE, tempDir, testConfig } from './support/env'
import { G1, G2, TWO_OWNERS } from './support/groups'

// One database per runtime here; dropping each takes seconds on a busy MariaDB.
afterAll(cleanup, 180_000)

const DAY = 86_400_000

/** A test table: one row per member and time, an optional group, some text. */
function probeEntity(table: string) {
  @Entity(table)
  class ProbeRow {
    @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
    @Column({ name: 'group_id', type: 'varchar', length: 191, nullable: true }) groupId!: string | null
    @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
    @Column({ type: 'text', nullable: true }) text!: string | null
    /** When written — or, for the profile table, when the member left (null while in the group). */
    @Column(msColumn('at', true)) at!: number | null
  }
  return ProbeRow
}

const CLASSES: readonly DataClass[] = ['message-text', 'message-metadata', 'rollups', 'moderation-evidence', 'audit-log', 'delivery-logs', 'lottery-proofs', 'profile']
const tableOf = (c: DataClass): string => `qy_t_ret_${c.replace(/-/g, '_')}`
const ENTITIES = Object.fromEntries(CLASSES.map((c) => [c, probeEntity(tableOf(c))])) as Record<DataClass, ReturnType<typeof probeEntity>>

class RetentionProbe1799000000000 implements MigrationInterface {
  name = 'RetentionProbe1799000000000'
  async up(q: QueryRunner): Promise<void> {
    const { id, str, text, ms } = columns(q)
    for (const c of CLASSES) {
      await q.createTable(new Table({ name: tableOf(c), columns: [id(), str('group_id', 191, { isNullable: true }), str('member_id', 191), text('text', true), ms('at', true)] }), true)
    }
  }
  async down(q: QueryRunner): Promise<void> {
    for (const c of CLASSES) await q.dropTable(tableOf(c), true)
  }
}

/** A test-only feature declaring one table per data class (the metadata table's text is cleared at the text boundary). */
const probe: Feature = defineFeature({
  name: 'retention-probe',
  entities: Object.values(ENTITIES),
  migrations: [RetentionProbe1799000000000],
  personalData: {
    purpose: 'test tables, one per data class',
    tables: CLASSES.map((c): PersonalTable => ({
      entity: ENTITIES[c], dataClass: c, timeColumn: 'at', memberColumns: ['memberId'], groupColumn: 'groupId', onErase: 'delete',
      ...(c === 'message-metadata' ? { textColumns: ['text'] } : {}),
    })),
  },
  setup: () => ({}),
})
const WITH_PROBE = [...FEATURES, probe]

/** Defaults used here (the shipped ones, written out so the boundaries below are explicit). */
const DAYS: Record<DataClass, number | null> = {
  'message-text': 30, 'message-metadata': 180, rollups: null, 'moderation-evidence': 90, 'audit-log': 1095, 'delivery-logs': 90, 'lottery-proofs': null, profile: 180,
}

type Row = { id: number; group_id: string | null; member_id: string; text: string | null; at: number | null }

async function insert(chat: Chat, c: DataClass, rows: Array<Partial<Row> & { member_id: string }>): Promise<void> {
  const repo = chat.runtime.db.getRepository(ENTITIES[c])
  for (const r of rows) await repo.insert({ groupId: r.group_id === undefined ? G1 : r.group_id, memberId: r.member_id, text: r.text ?? null, at: r.at ?? null })
}

async function remaining(chat: Chat, c: DataClass): Promise<Array<{ member: string; text: string | null }>> {
  const rows = await chat.runtime.db.getRepository(ENTITIES[c]).find({ order: { id: 'ASC' } })
  return rows.map((r) => ({ member: r.memberId, text: r.text }))
}

/** Runs one class's scheduled job for the fake clock's current instant (fenced like a cron tick). */
async function tick(chat: Chat, c: DataClass): Promise<string> {
  return chat.runtime.scheduler.runFenced(`retention.${c}`, new Date(chat.clock.now()))
}

const START = Date.parse('2026-12-01T04:00:00Z')

describe(`retention (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it.each(CLASSES.filter((c) => c !== 'profile'))('purges %s rows just outside the boundary and keeps those just inside', async (c) => {
    chat = await Chat.start({ start: START, features: WITH_PROBE })
    const now = chat.clock.now()
    const days = DAYS[c]
    if (days === null) {
      // Kept classes: even a row from ten years ago stays.
      await insert(chat, c, [{ member_id: 'ancient', at: now - 3650 * DAY }, { member_id: 'recent', at: now - DAY }])
      expect(await tick(chat, c)).toBe('ran')
      expect((await remaining(chat, c)).map((r) => r.member)).toEqual(['ancient', 'recent'])
      return
    }
    const boundary = now - days * DAY
    await insert(chat, c, [
      { member_id: 'outside', at: boundary - 1 },
      { member_id: 'at-boundary', at: boundary },
      { member_id: 'inside', at: boundary + 1 },
      { member_id: 'fresh', at: now },
    ])
    expect(await tick(chat, c)).toBe('ran')
    expect((await remaining(chat, c)).map((r) => r.member)).toEqual(['at-boundary', 'inside', 'fresh'])
    // A day later the boundary has moved by a day: what was just inside is now outside.
    await chat.rehearsal.advance(DAY)
    expect(await tick(chat, c)).toBe('ran')
    expect((await remaining(chat, c)).map((r) => r.member)).toEqual(['fresh'])
  })

  it('keeps profiles while the member is in the group and removes them 180 days after they left', async () => {
    chat = await Chat.start({ start: START, features: WITH_PROBE })
    const now = chat.clock.now()
    const boundary = now - 180 * DAY
    await insert(chat, 'profile', [
      { member_id: 'still-here', at: null },
      { member_id: 'left-long-ago', at: boundary - 1 },
      { member_id: 'left-at-boundary', at: boundary },
      { member_id: 'left-recently', at: boundary + 1 },
    ])
    expect(await tick(chat, 'profile')).toBe('ran')
    expect((await remaining(chat, 'profile')).map((r) => r.member)).toEqual(['still-here', 'left-at-boundary', 'left-recently'])
  })

  it('clears message text from metadata rows at the text boundary; the rows stay until the metadata boundary', async () => {
    chat = await Chat.start({ start: START, features: WITH_PROBE })
    const now = chat.clock.now()
    await insert(chat, 'message-metadata', [
      { member_id: 'old-text', text: '旧消息', at: now - 30 * DAY - 1 },
      { member_id: 'new-text', text: '新消息', at: now - 30 * DAY + 1 },
      { member_id: 'old-meta', text: '很旧', at: now - 180 * DAY - 1 },
      { member_id: 'kept-meta', text: null, at: now - 180 * DAY + 1 },
    ])
    expect(await tick(chat, 'message-text')).toBe('ran')
    expect(await remaining(chat, 'message-metadata')).toEqual([
      { member: 'old-text', text: null }, { member: 'new-text', text: '新消息' }, { member: 'old-meta', text: null }, { member: 'kept-meta', text: null },
    ])
    expect(await tick(chat, 'message-metadata')).toBe('ran')
    expect((await remaining(chat, 'message-metadata')).map((r) => r.member)).toEqual(['old-text', 'new-text', 'kept-meta'])
    const runs = (await chat.runtime.retention.runs(5, 'message-text'))
    expect(runs[0]?.detail.find((d) => d.table === tableOf('message-metadata'))).toMatchObject({ cleared: 2, deleted: 0 })
  })

  it("applies an owner's policy to that owner's groups only; admins set per-owner defaults within the maximum", async () => {
    chat = await Chat.start({ start: START, features: WITH_PROBE, groups: TWO_OWNERS, http: true })
    const admin = await apiAs(chat, 'admin')
    const alice = await apiAs(chat, 'owner', { groups: [G1], name: 'alice' })
    const dave = await apiAs(chat, 'owner', { groups: [G2], name: 'dave' })
    const operator = await apiAs(chat, 'operator', { allGroups: true })

    // Owners may shorten; never beyond the deployment maximum (90 days for message text); not the audit log.
    await alice.put('/api/v1/retention/policy', { 'message-text': 7 }).expect(200)
    const tooLong = await alice.put('/api/v1/retention/policy', { 'message-text': 91 }).expect(400)
    expect(tooLong.body.error.details).toEqual([{ path: 'body.message-text', message: expect.stringContaining('at most 90 days') }])
    await alice.put('/api/v1/retention/policy', { 'audit-log': 10 }).expect(400)
    // Kept classes stay whole (points balances, verifiable draws).
    const kept = await alice.put('/api/v1/retention/policy', { rollups: 10, 'lottery-proofs': 10 }).expect(400)
    expect(kept.body.error.details.map((d: { path: string }) => d.path)).toEqual(['body.rollups', 'body.lottery-proofs'])
    await alice.put('/api/v1/retention/policy', {}).expect(400)
    await alice.put('/api/v1/retention/policy', { 'message-text': 0 }).expect(400)
    // Admins set an owner's default: dave keeps moderation evidence 200 days (the maximum is 365).
    await admin.put(`/api/v1/retention-policies/${dave.tokenId}`, { 'moderation-evidence': 200 }).expect(200)
    await admin.put(`/api/v1/retention-policies/${dave.tokenId}`, { 'moderation-evidence': 366 }).expect(400)
    await admin.put('/api/v1/retention-policies/999999', { 'moderation-evidence': 10 }).expect(404)
    // Below an admin's value for them, owners may go no higher than it.
    await admin.put(`/api/v1/retention-policies/${alice.tokenId}`, { 'message-text': 14 }).expect(200)
    await alice.put('/api/v1/retention/policy', { 'message-text': 15 }).expect(400)
    // Owners read their own policy, not others'; operators change nothing.
    const mine = await alice.get('/api/v1/retention/policy').expect(200)
    expect(mine.body.classes.find((c: { dataClass: string }) => c.dataClass === 'message-text')).toMatchObject({ days: 7, source: 'owner', adminDays: 14, ownerDays: 7, ownerMaxDays: 14 })
    await alice.get(`/api/v1/retention-policies/${dave.tokenId}`).expect(403)
    await operator.put('/api/v1/retention/policy', { 'message-text': 7 }).expect(403)
    await operator.get('/api/v1/retention/runs').expect(403)
    const daves = await admin.get(`/api/v1/retention-policies/${dave.tokenId}`).expect(200)
    expect(daves.body.classes.find((c: { dataClass: string }) => c.dataClass === 'moderation-evidence')).toMatchObject({ days: 200, source: 'admin' })
    expect(daves.body.classes.find((c: { dataClass: string }) => c.dataClass === 'message-text')).toMatchObject({ days: 30, source: 'default' })

    const now = chat.clock.now()
    await insert(chat, 'message-text', [
      { member_id: 'g1-8d', group_id: G1, at: now - 8 * DAY },
      { member_id: 'g1-6d', group_id: G1, at: now - 6 * DAY },
      { member_id: 'g2-8d', group_id: G2, at: now - 8 * DAY },
      { member_id: 'g2-31d', group_id: G2, at: now - 31 * DAY },
      { member_id: 'nogroup-8d', group_id: null, at: now - 8 * DAY },
    ])
    await insert(chat, 'moderation-evidence', [
      { member_id: 'g1-100d', group_id: G1, at: now - 100 * DAY },
      { member_id: 'g2-100d', group_id: G2, at: now - 100 * DAY },
      { member_id: 'g2-201d', group_id: G2, at: now - 201 * DAY },
    ])
    expect(await tick(chat, 'message-text')).toBe('ran')
    expect(await tick(chat, 'moderation-evidence')).toBe('ran')
    expect((await remaining(chat, 'message-text')).map((r) => r.member)).toEqual(['g1-6d', 'g2-8d', 'nogroup-8d'])
    expect((await remaining(chat, 'moderation-evidence')).map((r) => r.member)).toEqual(['g2-100d'])

    // Every change is in the audit log, by target.
    const audit = await admin.get('/api/v1/audit-log').expect(200)
    const targets = (audit.body.entries ?? audit.body.items ?? audit.body).map((e: { summary?: { target?: string } | null; target?: string }) => e.summary?.target ?? e.target)
    expect(targets).toEqual(expect.arrayContaining([`retention:owner:${alice.tokenId}`, `retention:admin:${dave.tokenId}`, `retention:admin:${alice.tokenId}`]))
  })

  it('takes the shortest retention of the owners sharing a group', async () => {
    chat = await Chat.start({ start: START, features: WITH_PROBE, groups: TWO_OWNERS, http: true })
    const a = await apiAs(chat, 'owner', { groups: [G1], name: 'a' })
    await apiAs(chat, 'owner', { groups: [G1, G2], name: 'b' })
    await a.put('/api/v1/retention/policy', { 'delivery-logs': 10 }).expect(200)
    const now = chat.clock.now()
    await insert(chat, 'delivery-logs', [{ member_id: 'g1-11d', group_id: G1, at: now - 11 * DAY }, { member_id: 'g2-11d', group_id: G2, at: now - 11 * DAY }])
    expect(await tick(chat, 'delivery-logs')).toBe('ran')
    expect((await remaining(chat, 'delivery-logs')).map((r) => r.member)).toEqual(['g2-11d'])
  })

  it('deletes in batches: a batch size of 3 purges 10 rows in 4 statements', async () => {
    chat = await Chat.start({ start: START, features: WITH_PROBE, configOverrides: { retention: { batchSize: 3, pauseMs: 0 } } })
    const now = chat.clock.now()
    await insert(chat, 'moderation-evidence', Array.from({ length: 12 }, (_, i) => ({ member_id: `m${i}`, at: i < 10 ? now - 91 * DAY - i : now })))
    expect(await tick(chat, 'moderation-evidence')).toBe('ran')
    const [run] = await chat.runtime.retention.runs(1, 'moderation-evidence')
    expect(run?.detail.find((d) => d.table === tableOf('moderation-evidence'))).toEqual({ table: tableOf('moderation-evidence'), deleted: 10, cleared: 0, batches: 4 })
    expect(await remaining(chat, 'moderation-evidence')).toHaveLength(2)
  })

  it('runs each fire time once across two runtimes on one database', async () => {
    const config = await testConfig()
    const sqlitePath = `${tempDir()}/shared.sqlite`
    chat = await Chat.start({ start: START, features: WITH_PROBE, config, sqlitePath })
    const other = await Chat.start({ start: START, features: WITH_PROBE, config, sqlitePath })
    try {
      const now = chat.clock.now()
      await insert(chat, 'message-text', [{ member_id: 'old', at: now - 31 * DAY }, { member_id: 'new', at: now }])
      const at = new Date(now)
      const outcomes = await Promise.all([chat, other].map((c) => c.runtime.scheduler.runFenced('retention.message-text', at)))
      expect(outcomes.sort()).toEqual(['ran', 'skipped'])
      const runs = await chat.runtime.retention.runs(10, 'message-text')
      expect(runs.filter((r) => r.source === 'schedule')).toHaveLength(1)
      expect(runs[0]?.detail.find((d) => d.table === tableOf('message-text'))?.deleted).toBe(1)
      // The next day's tick is a new fire time: it runs (once) again.
      const next = new Date(now + DAY)
      expect((await Promise.all([other, chat].map((c) => c.runtime.scheduler.runFenced('retention.message-text', next)))).sort()).toEqual(['ran', 'skipped'])
      expect((await remaining(chat, 'message-text')).map((r) => r.member)).toEqual(['new'])
    } finally {
      await other.close()
    }
  })

  it('reports runs through the admin route and /metrics; a dry run counts and deletes nothing', async () => {
    chat = await Chat.start({ start: START, features: WITH_PROBE, http: true })
    const admin = await apiAs(chat, 'admin')
    const now = chat.clock.now()
    await insert(chat, 'audit-log', [{ member_id: 'a', at: now - 1096 * DAY }, { member_id: 'b', at: now - 1096 * DAY }, { member_id: 'c', at: now }])
    const dry = await admin.post('/api/v1/retention/runs', { class: 'audit-log', dryRun: true }).expect(201)
    expect(dry.body).toMatchObject({ dataClass: 'audit-log', dryRun: true, deleted: 2, source: 'api' })
    expect(await remaining(chat, 'audit-log')).toHaveLength(3)
    await admin.post('/api/v1/retention/runs', { class: 'no-such-class' }).expect(400)
    expect(await tick(chat, 'audit-log')).toBe('ran')
    expect(await remaining(chat, 'audit-log')).toHaveLength(1)
    const runs = await admin.get('/api/v1/retention/runs?class=audit-log').expect(200)
    expect(runs.body.runs.map((r: RetentionRun) => [r.source, r.dryRun, r.deleted])).toEqual([['schedule', false, 2], ['api', true, 2]])
    const metrics = await request(`http://127.0.0.1:${chat.runtime.address?.port}`).get('/metrics').expect(200)
    expect(metrics.text).toMatch(/qunyun_retention_rows_total\{[^}]*class="audit-log"[^}]*action="deleted"[^}]*\} 2\b/)
    expect(metrics.text).toMatch(/qunyun_retention_runs_total\{[^}]*class="audit-log"[^}]*status="done"[^}]*\} 1\b/)
    const defaults = await admin.get('/api/v1/retention').expect(200)
    expect(defaults.body.classes).toContainEqual({ dataClass: 'audit-log', days: 1095, maxDays: 3650, perOwner: false })
    expect(defaults.body.classes).toContainEqual({ dataClass: 'rollups', days: null, maxDays: null, perOwner: false })
    expect(defaults.body.classes).toContainEqual({ dataClass: 'message-text', days: 30, maxDays: 90, perOwner: true })
  })
})
