import { join } from 'node:path'
import { DataSource } from 'typeorm'
import { databaseSchema, dataSourceOptions, openDatabase } from '../src/adapters/db/data-source'
import { AuditEntity } from '../src/features/access/access.entity'
import { MemberEntity } from '../src/features/groups/groups.entity'
import { FEATURES } from '../src/features'
import { AlignSqliteColumns1796158900000 } from '../migrations/1796158900000-AlignSqliteColumns'
import { ModerationEventOnce1798940300000 } from '../migrations/1798940300000-ModerationEventOnce'
import { CheckInHeldAnswers1798940200000 } from '../migrations/1798940200000-CheckInHeldAnswers'
import { CheckInAnswerEntity } from '../src/features/check-in/check-in.entity'
import { cleanup, STORAGE, tempDir, testConfig } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

/** The runtime's schema: core tables and migrations plus every feature's. */
const SCHEMA = databaseSchema(FEATURES)

/** The statements TypeORM's schema builder would run to make the database match the entities. */
async function pendingSchemaStatements(db: DataSource): Promise<string[]> {
  const { upQueries } = await db.driver.createSchemaBuilder().log()
  return upQueries.map((q) => q.query)
}

/**
 * Migrations are the only way the schema changes, and the entities must describe exactly the schema they
 * build: otherwise TypeORM works from a picture of the tables that is not the real one (and anyone who
 * turns on synchronize or generates a migration gets statements that rewrite live tables).
 */
describe(`schema (${STORAGE})`, () => {
  it('after migrating a fresh database, the entities and the tables agree (no pending schema statements)', async () => {
    const config = await testConfig()
    // The runtime's code path: same options, same entity list, same migrations.
    const db = await openDatabase(dataSourceOptions(config, SCHEMA, join(tempDir(), 'qunyun.sqlite')))
    try {
      expect(await db.showMigrations()).toBe(false)
      // On failure this prints every statement TypeORM would run, which says what disagrees.
      expect(await pendingSchemaStatements(db)).toEqual([])
    } finally {
      await db.destroy()
    }
  })

  it('aligning an installed database keeps its rows, defaults and id sequence', async () => {
    const config = await testConfig()
    const options = dataSourceOptions(config, SCHEMA, join(tempDir(), 'qunyun.sqlite'))
    // An installation that ran every earlier migration and holds data.
    const installed = new DataSource({ ...options, migrations: SCHEMA.migrations.filter((m) => m !== AlignSqliteColumns1796158900000) })
    await installed.initialize()
    await installed.runMigrations({ transaction: 'each' })
    const audit = installed.getRepository(AuditEntity)
    const base = { tokenId: 7, tokenName: '运营', role: 'admin', method: 'PUT', route: '/groups/:id', groupId: 'g1', status: 200, summary: { note: '😀' } }
    for (const [i, at] of [1000, 2000, 3000].entries()) await audit.insert({ ...base, at, path: `/groups/g1/${i}`, requestId: `r${i}` })
    await audit.delete({ requestId: 'r2' }) // the highest id: a rebuilt table must not hand it out again
    await installed.query(`INSERT INTO qy_member (group_id, member_id, name, role) VALUES ('g1', 'm1', '小明', 'member')`)
    await installed.destroy()

    const db = await openDatabase(options)
    try {
      expect(await pendingSchemaStatements(db)).toEqual([])
      const rows = await db.getRepository(AuditEntity).find({ order: { id: 'ASC' } })
      expect(rows.map((r) => [r.id, r.at, r.tokenId, r.status, r.summary])).toEqual([[1, 1000, 7, 200, { note: '😀' }], [2, 2000, 7, 200, { note: '😀' }]])
      await db.getRepository(AuditEntity).insert({ ...base, at: 4000, path: '/groups/g1/3', requestId: 'r3' })
      expect((await db.getRepository(AuditEntity).findOneByOrFail({ requestId: 'r3' })).id).toBe(4)
      // Column defaults still apply to rows written without them (counters 0, flags on).
      await db.query(`INSERT INTO qy_member (group_id, member_id, name, role) VALUES ('g1', 'm2', '小红', 'member')`)
      const members = await db.getRepository(MemberEntity).find({ order: { memberId: 'ASC' } })
      expect(members.map((m) => [m.memberId, m.name, m.active])).toEqual([['m1', '小明', true], ['m2', '小红', true]])
    } finally {
      await db.destroy()
    }
  })

  it('numbers the moderation events of an installed database (a message processed twice included) so its unique key is created', async () => {
    const config = await testConfig()
    const options = dataSourceOptions(config, SCHEMA, join(tempDir(), 'qunyun.sqlite'))
    const installed = new DataSource({ ...options, migrations: SCHEMA.migrations.filter((m) => m !== ModerationEventOnce1798940300000) })
    await installed.initialize()
    await installed.runMigrations({ transaction: 'each' })
    const insert = (q: DataSource, groupId: string, messageId: string | null, detector: string, strike: number | null, hit?: number): Promise<unknown> => q.query(
      `INSERT INTO qy_moderation_event (group_id, member_id, message_id, ${hit === undefined ? '' : 'hit, '}detector, matched, list_id, action, strike, result, reason, shadow, at) VALUES (?, 'm1', ?, ${hit === undefined ? '' : '?, '}?, 'x', NULL, 'warn', ?, 'done', NULL, 0, 1000)`,
      hit === undefined ? [groupId, messageId, detector, strike] : [groupId, messageId, hit, detector, strike])
    // Message a processed twice before the key existed (two violations each time), b once, two rows without a message, a of another group.
    for (const [g, m, d, strike] of [['g1', 'a', 'words', 1], ['g1', 'a', 'links', null], ['g1', 'b', 'words', 2], ['g1', 'a', 'words', 3], ['g1', 'a', 'links', null], ['g1', null, 'words', null], ['g1', null, 'words', null], ['g2', 'a', 'qr', 1]] as const) {
      await insert(installed, g, m, d, strike)
    }
    await installed.destroy()

    const db = await openDatabase(options)
    try {
      expect(await db.showMigrations()).toBe(false)
      expect(await pendingSchemaStatements(db)).toEqual([])
      const rows: Array<{ group_id: string; message_id: string | null; hit: number | string }> = await db.query('SELECT group_id, message_id, hit FROM qy_moderation_event ORDER BY id')
      // Kept (not deleted), numbered in id order within their message.
      expect(rows.map((r) => [r.group_id, r.message_id, Number(r.hit)])).toEqual([
        ['g1', 'a', 0], ['g1', 'a', 1], ['g1', 'b', 0], ['g1', 'a', 2], ['g1', 'a', 3], ['g1', null, 0], ['g1', null, 0], ['g2', 'a', 0],
      ])
      // The key holds from now on; rows without a message repeat freely.
      await expect(insert(db, 'g1', 'a', 'words', 1, 0)).rejects.toThrow(/UNIQUE|Duplicate/i)
      await insert(db, 'g1', null, 'words', null, 0)
    } finally {
      await db.destroy()
    }
  })

  it('making check-in answers held answers keeps their rows (an unanswered one stays for the sweep)', async () => {
    const config = await testConfig()
    const options = dataSourceOptions(config, SCHEMA, join(tempDir(), 'qunyun.sqlite'))
    const installed = new DataSource({ ...options, migrations: SCHEMA.migrations.filter((m) => m !== CheckInHeldAnswers1798940200000) })
    await installed.initialize()
    await installed.runMigrations({ transaction: 'each' })
    await installed.query(`INSERT INTO qy_checkin_answer (group_id, member_id, day, bot_id, message_id, streak, single_text, line_text, at, answered_at)
      VALUES ('g1', 'm1', '2026-11-23', 'bot1', 'msg1', 3, '签到成功！', '小明 第1名', 1000, 2000), ('g1', 'm2', '2026-11-23', 'bot1', NULL, 1, '签到成功！', '小红 第2名', 1500, NULL)`)
    await installed.destroy()

    const db = await openDatabase(options)
    try {
      expect(await pendingSchemaStatements(db)).toEqual([])
      const rows = await db.getRepository(CheckInAnswerEntity).find({ order: { id: 'ASC' } })
      expect(rows.map((r) => [r.windowKey, r.groupId, r.memberId, r.day, r.botId, r.messageId, r.streak, r.line, r.header, r.at, r.batchKey, r.answeredAt])).toEqual([
        ['g1', 'g1', 'm1', '2026-11-23', 'bot1', 'msg1', 3, '小明 第1名', '', 1000, null, 2000],
        ['g1', 'g1', 'm2', '2026-11-23', 'bot1', null, 1, '小红 第2名', '', 1500, null, null],
      ])
      // Still one answer per check-in.
      await expect(db.query(`INSERT INTO qy_checkin_answer (window_key, bot_id, group_id, member_id, single_text, line_text, header_text, note, at, day, streak)
        VALUES ('g1', 'bot1', 'g1', 'm1', '', '', '', '', 3000, '2026-11-23', 1)`)).rejects.toThrow()
    } finally {
      await db.destroy()
    }
  })
})
