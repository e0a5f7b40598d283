/**
 * The SQLite writer thread (adapters/db/sqlite-writer): on a file database, flushes are committed by a
 * worker thread with its own connection. The same rows as written in-thread; a failing statement rolls the
 * whole plan back and the flush caller gets the error (the buffer keeps its rows and the next flush writes
 * them once); stop() drains the thread; the main connection's transactions take turns with the thread's
 * plans. SQLite-specific by nature (a file database in a temporary directory, also when the suite runs on
 * MySQL); on MySQL the thread is never started.
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { DataSource } from 'typeorm'
import { databaseSchema, dataSourceOptions, openDatabase } from '../src/adapters/db/data-source'
import { FeatureStore } from '../src/adapters/db/feature-store'
import { insertIgnore, type Row } from '../src/adapters/db/sql'
import { startSqliteWriter, stopSqliteWriter, writerOf } from '../src/adapters/db/sqlite-writer'
import { withTransaction } from '../src/adapters/db/transaction'
import type { IncomingMessage } from '../src/kernel/context'
import { ActivityBuffer } from '../src/features/activity/activity.buffer'
import { ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity } from '../src/features/activity/activity.entity'
import { activityFeature } from '../src/features/activity'
import { Chat, alice, bob, carol } from './support/chat'
import { cleanup, tempDir, testConfig } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const ACTIVITY_ENTITIES = [ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity]

/** A file SQLite database with the core and activity tables (a SQLite file also when the suite runs on MySQL). */
async function fileDatabase(name: string): Promise<{ db: DataSource; file: string }> {
  const config = await testConfig({ database: { url: null } })
  const file = join(tempDir(), `${name}.sqlite`)
  return { db: await openDatabase(dataSourceOptions(config, databaseSchema([activityFeature]), file)), file }
}

const message = (i: number): IncomingMessage => ({
  id: `m${i}`, botId: 'b', groupId: `g${i % 7}`, senderId: `u${i % 13}`, senderName: 'n', type: i % 5 === 0 ? 'image' : 'text',
  text: `消息 ${i}`, mentions: [], mentionsBot: false, at: Date.parse('2026-11-23T02:00:00Z') + i * 61_000,
})

/** Every row of the tables (`columns`, default all), in a stable order, as plain values. */
function dump(file: string, tables: Array<[string, string, string?]>): Record<string, unknown[]> {
  const conn = new Database(file, { readonly: true })
  try {
    return Object.fromEntries(tables.map(([table, order, columns]) => [table, conn.prepare(`SELECT ${columns ?? '*'} FROM ${table} ORDER BY ${order}`).all()]))
  } finally {
    conn.close()
  }
}

const ACTIVITY_TABLES: Array<[string, string, string?]> = [
  ['qy_activity_daily', 'group_id, member_id, day'], ['qy_activity_hourly', 'group_id, day, hour'], ['qy_message_log', 'id'],
]

describe('writer thread on a file database', () => {
  it('commits the flushes in the thread: the same rows as written in-thread', async () => {
    const threaded = await fileDatabase('threaded')
    const inThread = await fileDatabase('in-thread')
    const writer = startSqliteWriter(threaded.db)
    expect(writer).not.toBeNull()
    for (const { db } of [threaded, inThread]) {
      const buffer = new ActivityBuffer(new FeatureStore(db, 'activity', ACTIVITY_ENTITIES))
      // Two flushes; the second adds to counters the first wrote. More rows than one slice (2,000).
      for (let i = 0; i < 2600; i++) buffer.record(message(i), 'Asia/Shanghai', true)
      await buffer.flush()
      for (let i = 2600; i < 3000; i++) buffer.record(message(i % 2800), 'Asia/Shanghai', true)
      await buffer.flush()
    }
    expect(writer?.committed).toBeGreaterThanOrEqual(3)
    // Committed before the flush resolved: the main connection reads them at once.
    expect(await threaded.db.query('SELECT COUNT(*) AS n FROM qy_message_log')).toEqual([{ n: 2800 }])
    await stopSqliteWriter(threaded.db)
    await threaded.db.destroy()
    await inThread.db.destroy()
    const a = dump(threaded.file, ACTIVITY_TABLES)
    expect(a.qy_message_log).toHaveLength(2800)
    expect(a).toEqual(dump(inThread.file, ACTIVITY_TABLES))
  })

  it('rolls back the whole plan when a statement fails; the flush fails and the next one writes the rows once', async () => {
    const { db, file } = await fileDatabase('failing')
    const writer = startSqliteWriter(db)
    const buffer = new ActivityBuffer(new FeatureStore(db, 'activity', ACTIVITY_ENTITIES))
    // The hourly upsert (the plan's last statement) fails; the log rows and daily upserts before it must not stay.
    await db.query("CREATE TRIGGER refuse_log BEFORE INSERT ON qy_activity_hourly BEGIN SELECT RAISE(ABORT, 'log refused'); END")
    for (let i = 0; i < 50; i++) buffer.record(message(i), 'Asia/Shanghai', true)
    await expect(buffer.flush()).rejects.toThrow('log refused')
    expect(await db.query('SELECT COUNT(*) AS n FROM qy_activity_daily')).toEqual([{ n: 0 }])
    expect(await db.query('SELECT COUNT(*) AS n FROM qy_activity_hourly')).toEqual([{ n: 0 }])
    expect(await db.query('SELECT COUNT(*) AS n FROM qy_message_log')).toEqual([{ n: 0 }])
    expect(writer?.committed).toBe(0)
    await db.query('DROP TRIGGER refuse_log')
    await buffer.flush()
    expect(writer?.committed).toBe(1)
    expect(await db.query('SELECT COUNT(*) AS n FROM qy_message_log')).toEqual([{ n: 50 }])
    expect(await db.query('SELECT SUM(messages) AS n FROM qy_activity_daily')).toEqual([{ n: 50 }])
    expect(await db.query('SELECT SUM(messages) AS n FROM qy_activity_hourly')).toEqual([{ n: 50 }])
    await stopSqliteWriter(db)
    await db.destroy()
    expect(dump(file, [['qy_message_log', 'id']]).qy_message_log).toHaveLength(50)
  })

  it('keeps the error code of SQLite (a duplicate is recognised as one)', async () => {
    const { db } = await fileDatabase('codes')
    startSqliteWriter(db)
    const store = new FeatureStore(db, 'activity', ACTIVITY_ENTITIES)
    const row: Row = ['x1', 'g', 'u', 'text', null, 1]
    await store.write((w) => w.insertIgnore('qy_message_log', ['id', 'group_id', 'sender_id', 'type', 'text', 'at'], [row]))
    const failed = store.write((w) => w.upsertRows('qy_message_log', ['id', 'group_id', 'sender_id', 'type', 'text', 'at'], '', [row]))
    await expect(failed).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })
    await stopSqliteWriter(db)
    await db.destroy()
  })

  it('stop drains the thread: every plan sent before is committed, later writes run in-thread', async () => {
    const { db, file } = await fileDatabase('drain')
    const writer = startSqliteWriter(db)
    const store = new FeatureStore(db, 'activity', ACTIVITY_ENTITIES)
    const columns = ['id', 'group_id', 'sender_id', 'type', 'text', 'at']
    // Sent and not awaited; some still wait for their turn behind a main-thread transaction.
    const held = withTransaction(db, async (m) => { await m.query('SELECT COUNT(*) FROM qy_message_log') })
    const plans = Array.from({ length: 20 }, (_, p) => store.write((w) => w.insertIgnore('qy_message_log', columns, Array.from({ length: 100 }, (_, i): Row => [`p${p}-${i}`, 'g', 'u', 'text', null, i]))))
    // The plans are built and queued (behind the transaction) before the stop begins.
    await new Promise((resolve) => setImmediate(resolve))
    const stopped = stopSqliteWriter(db)
    // A plan handed over while the thread stops runs on the main connection, in its turn.
    const late = store.write((w) => w.insertIgnore('qy_message_log', columns, [['late', 'g', 'u', 'text', null, 1]]))
    await held
    await stopped
    await Promise.all([...plans, late])
    expect(writer?.committed).toBe(20)
    expect(writerOf(db)).toBeNull()
    // After the stop: in-thread, on the main connection.
    await insertIgnore(db, 'qy_message_log', columns, [['after', 'g', 'u', 'text', null, 1]])
    expect(writer?.committed).toBe(20)
    await db.destroy()
    expect(dump(file, [['qy_message_log', 'id']]).qy_message_log).toHaveLength(2002)
  })

  it('a main-thread transaction that reads, then writes, is not overtaken by a plan of the thread', async () => {
    const { db } = await fileDatabase('turns')
    startSqliteWriter(db)
    const store = new FeatureStore(db, 'activity', ACTIVITY_ENTITIES)
    const columns = ['id', 'group_id', 'sender_id', 'type', 'text', 'at']
    // The thread is up (its first plan committed) before the transaction begins.
    await store.write((w) => w.insertIgnore('qy_message_log', columns, [['warm-up', 'g', 'u', 'text', null, 0]]))
    let readDone!: () => void
    const read = new Promise<void>((resolve) => { readDone = resolve })
    let goOn!: () => void
    const go = new Promise<void>((resolve) => { goOn = resolve })
    const tx = withTransaction(db, async (m) => {
      const before: Array<{ n: number }> = await m.query('SELECT COUNT(*) AS n FROM qy_message_log')
      readDone()
      await go
      await m.query('INSERT INTO qy_message_log (id, group_id, sender_id, type, text, at) VALUES (?, ?, ?, ?, ?, ?)', ['from-tx', 'g', 'u', 'text', String(before[0]?.n), 2])
    })
    await read
    // A flush of the thread arrives meanwhile (outside the transaction). It waits for the transaction (a
    // bound on the wait, not an assertion on time: committed in between, it would leave the transaction's
    // snapshot outdated and its write would fail with SQLITE_BUSY_SNAPSHOT).
    const plan = store.write((w) => w.insertIgnore('qy_message_log', columns, [['from-plan', 'g', 'u', 'text', null, 1]]))
    await Promise.race([plan, new Promise((resolve) => setTimeout(resolve, 1000))])
    goOn()
    await tx
    await plan
    expect(await db.query('SELECT id, text FROM qy_message_log ORDER BY id')).toEqual([{ id: 'from-plan', text: null }, { id: 'from-tx', text: '1' }, { id: 'warm-up', text: null }])
    await stopSqliteWriter(db)
    await db.destroy()
  })

  it('a write outside the transaction API but inside a transaction belongs to that transaction', async () => {
    const { db } = await fileDatabase('nested')
    const writer = startSqliteWriter(db)
    const store = new FeatureStore(db, 'activity', ACTIVITY_ENTITIES)
    const columns = ['id', 'group_id', 'sender_id', 'type', 'text', 'at']
    await expect(store.transaction(async () => {
      // Not through the transaction's handle: it must neither wait for the transaction (a deadlock) nor escape it.
      await store.insertIgnore('qy_message_log', columns, [['inner', 'g', 'u', 'text', null, 1]])
      throw new Error('abandoned')
    })).rejects.toThrow('abandoned')
    expect(await db.query('SELECT COUNT(*) AS n FROM qy_message_log')).toEqual([{ n: 0 }])
    expect(writer?.committed).toBe(0)
    await stopSqliteWriter(db)
    await db.destroy()
  })

  it('is not started for an in-memory database', async () => {
    const config = await testConfig({ database: { url: null } })
    const db = await openDatabase(dataSourceOptions(config, databaseSchema([]), ':memory:'))
    expect(startSqliteWriter(db)).toBeNull()
    expect(writerOf(db)).toBeNull()
    await db.destroy()
  })
})

describe('the product on a file database', () => {
  const TABLES: Array<[string, string, string?]> = [
    // Message ids are random per run: the log compared without them.
    ['qy_activity_daily', 'group_id, member_id, day'], ['qy_activity_hourly', 'group_id, day, hour'], ['qy_message_log', 'at, text', 'group_id, sender_id, type, text, at'],
    ['qy_stats_group_day', 'group_id, day'], ['qy_stats_group_hour', 'group_id, day, hour'], ['qy_stats_member_day', 'group_id, day, member_id'],
    ['qy_tagging_member', 'group_id, member_id'],
  ]

  /** A conversation with every feature on, then a stop without an explicit flush; the file's rows after. */
  async function converse(writerThread: boolean): Promise<{ rows: Record<string, unknown[]>; committed: number }> {
    const file = join(tempDir(), 'product.sqlite')
    const config = await testConfig({ database: { url: null, writerThread } })
    const chat = await Chat.start({ config, start: Date.parse('2026-11-23T02:00:00Z'), sqlitePath: file })
    const g1 = chat.group('g1')
    for (let i = 0; i < 12; i++) await g1.say([alice, bob, carol][i % 3] as typeof alice, `第${i}条 今天天气不错`)
    await chat.rehearsal.advance(3_600_000)
    await g1.say(bob, '晚上好')
    const writer = writerOf(chat.runtime.db)
    await chat.close()
    const committed = writer?.committed ?? 0
    const rows = dump(file, TABLES)
    // Row times are the fake clock's: equal in both runs.
    return { rows, committed }
  }

  it('writes the same rows with and without the thread, and stop() leaves nothing unwritten', async () => {
    const threaded = await converse(true)
    const inThread = await converse(false)
    expect(threaded.committed).toBeGreaterThan(0)
    expect(inThread.committed).toBe(0)
    expect(threaded.rows.qy_message_log).toHaveLength(13)
    expect(threaded.rows).toEqual(inThread.rows)
  })
})
