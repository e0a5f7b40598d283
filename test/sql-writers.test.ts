/**
 * The shared multi-row writers (adapters/db/sql) on the real database (SQLite always; MySQL when
 * QUNYUN_DB_URL is set): batches larger than one statement, keys repeated across calls, all-or-nothing
 * outside a transaction, rolled back with the transaction inside one.
 */
import type { DataSource } from 'typeorm'
import { databaseSchema, dataSourceOptions, openDatabase } from '../src/adapters/db/data-source'
import { insertIgnore, upsertIncrement, type Row } from '../src/adapters/db/sql'
import { withTransaction } from '../src/adapters/db/transaction'
import { cleanup, tempDir, testConfig } from './support/env'

let db: DataSource

beforeAll(async () => {
  const config = await testConfig()
  db = await openDatabase(dataSourceOptions(config, databaseSchema([]), `${tempDir()}/writers.sqlite`))
})

afterAll(async () => {
  await db?.destroy()
  await cleanup()
})

// Rows of this run only (a shared MySQL database may hold others'): ids and groups carry a fresh prefix per test.
let run = ''
beforeEach(() => { run = `w${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}-` })

const logRow = (i: number, group = `g${i % 7}`): Row => [`${run}m${i}`, `${run}${group}`, `u${i % 13}`, 'text', `t${i}`, 1_700_000_000_000 + i]
const hourRow = (i: number, n: number): Row => [`${run}g${i % 9}`, '2026-12-01', i % 24, n]

async function hours(): Promise<Map<string, number>> {
  const rows: Array<{ group_id: string; hour: number | string; messages: number | string }> = await db.query('SELECT group_id, hour, messages FROM qy_activity_hourly WHERE group_id LIKE ?', [`${run}%`])
  return new Map(rows.map((r) => [`${r.group_id}/${Number(r.hour)}`, Number(r.messages)]))
}

const count = async (): Promise<number> => Number(((await db.query('SELECT COUNT(*) AS n FROM qy_message_log WHERE id LIKE ?', [`${run}%`])) as Array<{ n: number | string }>)[0]?.n)

test('insertIgnore writes every row of a batch spanning several statements and skips existing keys', async () => {
  await insertIgnore(db, 'qy_message_log', ['id', 'group_id', 'sender_id', 'type', 'text', 'at'], Array.from({ length: 137 }, (_, i) => logRow(i)))
  expect(await count()).toBe(137)
  // 120 already there with other values, 30 new.
  await insertIgnore(db, 'qy_message_log', ['id', 'group_id', 'sender_id', 'type', 'text', 'at'], Array.from({ length: 150 }, (_, i) => logRow(i + 17, 'other')))
  expect(await count()).toBe(167)
  const kept: Array<{ group_id: string }> = await db.query('SELECT group_id FROM qy_message_log WHERE id = ?', [`${run}m100`])
  expect(kept[0]?.group_id).toBe(`${run}g2`)
  const added: Array<{ group_id: string; at: number | string }> = await db.query('SELECT group_id, at FROM qy_message_log WHERE id = ?', [`${run}m166`])
  expect(added[0]?.group_id).toBe(`${run}other`)
  expect(Number(added[0]?.at)).toBe(1_700_000_000_166)
})

test('upsertIncrement adds to existing rows across statements and calls', async () => {
  const expected = new Map<string, number>()
  for (const [from, length] of [[0, 216], [5, 61], [200, 1]] as const) {
    const rows = Array.from({ length }, (_, k) => hourRow(from + k, from + k + 1))
    for (const r of rows) expected.set(`${String(r[0])}/${Number(r[2])}`, (expected.get(`${String(r[0])}/${Number(r[2])}`) ?? 0) + Number(r[3]))
    // Keys repeat inside a call too (216 rows over 9 × 24 = 216 keys; 61 rows re-add the first ones).
    await upsertIncrement(db, 'qy_activity_hourly', ['group_id', 'day', 'hour'], ['messages'], rows)
  }
  expect(await hours()).toEqual(expected)
})

test('outside a transaction a batch is all or nothing', async () => {
  const rows = Array.from({ length: 120 }, (_, i) => hourRow(i, 1))
  // A row the statement cannot take (one value short): its statement fails after earlier rows were written.
  rows[100] = [`${run}g1`, '2026-12-01', 3]
  await expect(upsertIncrement(db, 'qy_activity_hourly', ['group_id', 'day', 'hour'], ['messages'], rows)).rejects.toThrow()
  expect((await hours()).size).toBe(0)
})

test('inside a transaction the rows roll back with it', async () => {
  await expect(withTransaction(db, async (m) => {
    await insertIgnore(m, 'qy_message_log', ['id', 'group_id', 'sender_id', 'type', 'text', 'at'], Array.from({ length: 75 }, (_, i) => logRow(i)))
    await upsertIncrement(m, 'qy_activity_hourly', ['group_id', 'day', 'hour'], ['messages'], Array.from({ length: 60 }, (_, i) => hourRow(i, 1)))
    throw new Error('abort')
  })).rejects.toThrow('abort')
  expect(await count()).toBe(0)
  expect((await hours()).size).toBe(0)
  // And a committed one keeps them.
  await withTransaction(db, async (m) => {
    await insertIgnore(m, 'qy_message_log', ['id', 'group_id', 'sender_id', 'type', 'text', 'at'], Array.from({ length: 75 }, (_, i) => logRow(i)))
  })
  expect(await count()).toBe(75)
})
