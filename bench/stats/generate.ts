/**
 * The stats bench's data generator: simulates every message of a community (Zipf activity across groups and
 * members, a daily rhythm, quieter weekends), counts each one through the product's own `StatsBuffer.record`
 * (the code the message path runs), and bulk-loads the rollup rows it produces:
 *
 *  - distinct counts (a day's active members, an hour's speakers) are counted from the batch's member rows,
 *    as the product's rebuild path (`writeBatch(…, { fromBatch: true })`) does;
 *  - secondary indexes of the loaded tables are dropped first and built again after the load (one sorted
 *    build instead of millions of random index inserts);
 *  - SQLite: multi-row INSERTs (prepared 50-row statements, reused) in large transactions;
 *    MySQL: one tab-separated file per table, loaded with `LOAD DATA LOCAL INFILE` (falls back to multi-row
 *    INSERTs when the server refuses local files).
 *
 * After the load the figures are checked against a brute-force count of the raw message log for the sampled
 * groups (messages per day, active members per day, speakers per hour, member-day rows): they must be equal.
 */
import { closeSync, createReadStream, openSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { DataSource } from 'typeorm'
import { createConnection } from 'mysql2/promise'
import { insertIgnore, type Row } from '../../src/adapters/db/sql'
import { FeatureStore } from '../../src/adapters/db/feature-store'
import type { IncomingMessage, MessageType } from '../../src/kernel/context'
import { addDays } from '../../src/kernel/time'
import type { Random } from '../../src/ports/random'
import { zipfSampler } from '../../src/simulation/chatter'
import { StatsBuffer } from '../../src/features/stats/stats.buffer'
import { STATS_ENTITIES } from '../../src/features/stats/stats.entity'
import { weekdayOf, weekOf } from '../../src/features/stats/stats.time'

/** Hour weights of a group chat's day (quiet nights, morning and evening peaks). */
export const HOURS = [2, 1, 0.5, 0.3, 0.3, 0.6, 2, 5, 9, 10, 9, 8, 9, 7, 6, 6, 6, 6, 7, 9, 11, 12, 9, 5]
const HOUR_SUM = HOURS.reduce((a, b) => a + b, 0)
const HOUR_MS = 3_600_000

/** The loaded tables and their columns, in row order. */
export const TABLES = {
  groupDay: { table: 'qy_stats_group_day', columns: ['group_id', 'day', 'messages', 'text_count', 'media_count', 'card_count', 'other_count', 'active', 'joins', 'leaves', 'checkins', 'autoreply_hits', 'moderation_hits', 'moderation_actions'] },
  groupHour: { table: 'qy_stats_group_hour', columns: ['group_id', 'day', 'hour', 'weekday', 'messages', 'speakers'] },
  memberDay: { table: 'qy_stats_member_day', columns: ['group_id', 'day', 'member_id', 'week', 'messages', 'checkins', 'streak'] },
  memberMonth: { table: 'qy_stats_member_month', columns: ['group_id', 'month', 'member_id', 'days'] },
  member: { table: 'qy_stats_member', columns: ['group_id', 'member_id', 'joined_day', 'joined_week', 'left_day'] },
  ruleDay: { table: 'qy_stats_rule_day', columns: ['group_id', 'day', 'kind', 'rule', 'hits', 'actions'] },
  log: { table: 'qy_message_log', columns: ['id', 'group_id', 'sender_id', 'type', 'text', 'at'] },
} as const
type TableKey = keyof typeof TABLES

export interface GenerateOptions {
  db: DataSource
  /** MySQL URL (null: SQLite). */
  mysql: string | null
  tmp: string
  groupIds: string[]
  sizes: number[]
  days: number
  messages: number
  firstDay: string
  /** The first `rawGroups` groups' messages also go into the message log (all of them: the full raw log). */
  rawGroups: number
  /** How many of the raw-logged groups are checked against a brute-force count of the log (3 queries each). */
  verifyGroups: number
  random: Random
  timezone: string
  /** UTC offset of `timezone` in hours (the bench's groups keep one fixed offset). */
  offsetHours: number
}

export interface GenerateResult {
  messages: number
  rows: Record<string, number>
  rawRows: number
  /** Wall-clock phases (ms): simulate + count + write files/rows, bulk load (MySQL files), index builds. */
  phases: { generateMs: number; loadMs: number; indexMs: number; totalMs: number }
  /** CPU time of this process per generated message (the MySQL server's work is not in it). */
  cpuUsPerMessage: number
  loader: string
  /** Raw-log sample vs rollups: every compared figure equal. */
  verified: { groups: number; days: number; equal: boolean; mismatches: string[] }
}

/** Splits `n` into parts by weights (expected share plus a sampled remainder). */
function split(random: Random, n: number, weights: readonly number[], total: number): number[] {
  const out = new Array<number>(weights.length).fill(0)
  let left = n
  for (let i = 0; i < weights.length; i++) {
    const share = Math.floor((n * (weights[i] as number)) / total)
    out[i] = share
    left -= share
  }
  while (left-- > 0) {
    let r = random.next() * total
    let i = 0
    while (i < weights.length - 1 && (r -= weights[i] as number) > 0) i++
    out[i] = (out[i] as number) + 1
  }
  return out
}

/** Where rows go: batched INSERTs (SQLite) or tab-separated files for LOAD DATA (MySQL). */
interface Sink { push(key: TableKey, row: Row): Promise<void>; finish(): Promise<number> }

class SqliteSink implements Sink {
  private rows = new Map<TableKey, Row[]>()
  constructor(private readonly db: DataSource, private readonly counts: Record<string, number>) {}
  async push(key: TableKey, row: Row): Promise<void> {
    let list = this.rows.get(key)
    if (!list) this.rows.set(key, (list = []))
    list.push(row)
    if (list.length >= 100_000) await this.write(key)
  }
  private async write(key: TableKey): Promise<void> {
    const list = this.rows.get(key)
    if (!list || list.length === 0) return
    this.rows.set(key, [])
    const { table, columns } = TABLES[key]
    await this.db.transaction((m) => insertIgnore(m, table, [...columns], list))
    this.counts[table] = (this.counts[table] ?? 0) + list.length
  }
  async finish(): Promise<number> {
    for (const key of [...this.rows.keys()]) await this.write(key)
    return 0
  }
}

const tsv = (v: string | number | null): string => (v === null ? '\\N' : String(v))

class MysqlSink implements Sink {
  private files = new Map<TableKey, { fd: number; path: string; chunks: string[]; size: number }>()
  constructor(private readonly url: string, private readonly tmp: string, private readonly counts: Record<string, number>, private readonly loaded: { how: string }) {}
  push(key: TableKey, row: Row): Promise<void> {
    let f = this.files.get(key)
    if (!f) {
      const path = join(this.tmp, `${key}.tsv`)
      this.files.set(key, (f = { fd: openSync(path, 'w'), path, chunks: [], size: 0 }))
    }
    const line = row.map(tsv).join('\t') + '\n'
    f.chunks.push(line)
    f.size += line.length
    if (f.size > 4_000_000) { writeSync(f.fd, f.chunks.join('')); f.chunks = []; f.size = 0 }
    const { table } = TABLES[key]
    this.counts[table] = (this.counts[table] ?? 0) + 1
    return Promise.resolve()
  }
  /** Loads every file; returns the load's wall time (ms). */
  async finish(): Promise<number> {
    for (const f of this.files.values()) { writeSync(f.fd, f.chunks.join('')); closeSync(f.fd) }
    const t = performance.now()
    const conn = await createConnection({ uri: this.url, flags: ['+LOCAL_FILES'], infileStreamFactory: (path: string) => createReadStream(path) })
    try {
      await conn.query('SET unique_checks = 0, foreign_key_checks = 0')
      // Four tables at a time would contend for the same two cores: one file after the other.
      for (const [key, f] of this.files) {
        const { table, columns } = TABLES[key]
        try {
          await conn.query(`LOAD DATA LOCAL INFILE ? INTO TABLE ${table} CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (${columns.join(',')})`, [f.path])
          this.loaded.how = 'LOAD DATA LOCAL INFILE'
        } catch (error) {
          // The server refuses local files (local_infile=OFF): multi-row INSERTs of the same rows.
          this.loaded.how = `multi-row INSERT (LOAD DATA refused: ${(error as Error).message.slice(0, 80)})`
          await insertFile(conn, table, [...columns], f.path)
        }
        rmSync(f.path, { force: true })
      }
    } finally { await conn.end() }
    return performance.now() - t
  }
}

async function insertFile(conn: Awaited<ReturnType<typeof createConnection>>, table: string, columns: string[], path: string): Promise<void> {
  const { readFileSync } = await import('node:fs')
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0)
  const per = Math.floor(6000 / columns.length)
  for (let i = 0; i < lines.length; i += per) {
    const part = lines.slice(i, i + per).map((l) => l.split('\t').map((v) => (v === '\\N' ? null : v)))
    await conn.query(`INSERT INTO ${table} (${columns.join(',')}) VALUES ?`, [part])
  }
}

/** Secondary indexes of `tables`, dropped now; the returned function builds them again. */
async function dropSecondaryIndexes(db: DataSource, mysql: boolean, tables: string[]): Promise<() => Promise<void>> {
  if (!mysql) {
    const list: Array<{ name: string; sql: string }> = await db.query(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (${tables.map(() => '?').join(',')})`, tables)
    for (const i of list) await db.query(`DROP INDEX "${i.name}"`)
    return async () => { for (const i of list) await db.query(i.sql) }
  }
  const stats: Array<{ t: string; i: string; c: string; sub: number | null; nonUnique: number | string }> = await db.query(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS i, COLUMN_NAME AS c, SUB_PART AS sub, NON_UNIQUE AS nonUnique FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' AND TABLE_NAME IN (${tables.map(() => '?').join(',')}) ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`, tables)
  const byTable = new Map<string, Map<string, { unique: boolean; cols: string[] }>>()
  for (const s of stats) {
    const t = byTable.get(s.t) ?? new Map<string, { unique: boolean; cols: string[] }>()
    byTable.set(s.t, t)
    const idx = t.get(s.i) ?? { unique: Number(s.nonUnique) === 0, cols: [] }
    t.set(s.i, idx)
    idx.cols.push(s.sub ? `\`${s.c}\`(${s.sub})` : `\`${s.c}\``)
  }
  for (const [t, idx] of byTable) await db.query(`ALTER TABLE ${t} ${[...idx.keys()].map((i) => `DROP INDEX \`${i}\``).join(', ')}`)
  return async () => {
    // One ALTER per table builds all of its indexes in one pass over the rows.
    for (const [t, idx] of byTable) await db.query(`ALTER TABLE ${t} ${[...idx].map(([i, x]) => `ADD ${x.unique ? 'UNIQUE ' : ''}INDEX \`${i}\` (${x.cols.join(',')})`).join(', ')}`)
  }
}

const TYPES: Array<[number, MessageType]> = [[0.8, 'text'], [0.92, 'image'], [0.97, 'url'], [1, 'other']]

/** Generates and loads the community; see the file's comment. */
export async function generate(o: GenerateOptions): Promise<GenerateResult> {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const mysql = o.mysql !== null
  const tables = Object.values(TABLES).map((t) => t.table)
  const rebuildIndexes = await dropSecondaryIndexes(o.db, mysql, tables)
  const counts: Record<string, number> = {}
  const loaded = { how: mysql ? 'LOAD DATA LOCAL INFILE' : 'multi-row INSERT (prepared 50-row statements) in 100k-row transactions' }
  const sink: Sink = mysql ? new MysqlSink(o.mysql as string, o.tmp, counts, loaded) : new SqliteSink(o.db, counts)
  const store = new FeatureStore(o.db, 'stats', STATS_ENTITIES)
  const activity = o.groupIds.map((_, i) => 1 / (i + 1) ** 0.8)
  const activitySum = activity.reduce((a, b) => a + b, 0)
  const perGroupDay = o.messages / o.days
  const message: IncomingMessage = { id: '', botId: 'bench-bot', groupId: '', senderId: '', senderName: '', type: 'text', text: '', mentions: [], mentionsBot: false, at: 0 }
  let messages = 0
  let rawRows = 0
  for (const [gi, groupId] of o.groupIds.entries()) {
    const size = o.sizes[gi] as number
    // Half the members were there from the start; the rest joined over the period (cohorts).
    const joinedOn = Array.from({ length: size }, (_, k) => (k < size / 2 ? -1 : Math.floor(((k - size / 2) / (size / 2)) * o.days)))
    for (let k = 0; k < size; k++) {
      const d = joinedOn[k] as number
      if (d >= 0) await sink.push('member', [groupId, `u${gi}-${k}`, addDays(o.firstDay, d), weekOf(addDays(o.firstDay, d)), null])
    }
    const zipf = zipfSampler(o.random, size)
    // The product's counting code; one buffer per group (its rows are taken out after the group).
    const buffer = new StatsBuffer(store, () => 0)
    const dayFigures = new Map<string, { joins: number; leaves: number; arHits: number; modHits: number }>()
    message.groupId = groupId
    for (let d = 0; d < o.days; d++) {
      const day = addDays(o.firstDay, d)
      const weekFactor = weekdayOf(day) >= 5 ? 0.7 : 1.1
      const dayMessages = Math.max(0, Math.round(perGroupDay * ((activity[gi] as number) / activitySum) * weekFactor * (0.6 + o.random.next() * 0.8)))
      const dayStart = Date.parse(`${day}T00:00:00Z`) - o.offsetHours * HOUR_MS
      const hours = split(o.random, dayMessages, HOURS, HOUR_SUM)
      for (let h = 0; h < 24; h++) {
        const n = hours[h] as number
        if (n === 0) continue
        // Times within the hour, in order (the product's local-time cache expects messages in time order).
        const offsets = Array.from({ length: n }, () => Math.floor(o.random.next() * HOUR_MS)).sort((a, b) => a - b)
        for (let j = 0; j < n; j++) {
          let k = zipf()
          if ((joinedOn[k] as number) > d) k = k % Math.ceil(size / 2)
          const r = o.random.next()
          message.type = (TYPES.find(([p]) => r < p) as [number, MessageType])[1]
          message.senderId = `u${gi}-${k}`
          message.at = dayStart + h * HOUR_MS + (offsets[j] as number)
          message.id = `m-${gi}-${d}-${h}-${j}`
          buffer.record(message, o.timezone)
          if (gi < o.rawGroups) { await sink.push('log', [message.id, groupId, message.senderId, message.type, null, message.at]); rawRows++ }
        }
      }
      messages += dayMessages
      dayFigures.set(day, { joins: joinedOn.filter((j) => j === d).length, leaves: o.random.next() < 0.3 ? 1 : 0, arHits: Math.round(dayMessages * 0.02), modHits: Math.round(dayMessages * 0.005) })
    }
    const batch = buffer.takeBatch(false)
    // Distinct counts from the batch's member rows (as the product's rebuild writes them).
    const active = new Map<string, number>()
    const checkedIn = new Map<string, number>()
    const sep = '\u0000'
    // Member-day rows by day then member (the primary key's order: cheaper B-tree and LOAD DATA).
    batch.memberDay.sort((a, b) => (a[1] === b[1] ? ((a[2] as string) < (b[2] as string) ? -1 : 1) : (a[1] as string) < (b[1] as string) ? -1 : 1))
    for (const r of batch.memberDay) {
      const day = r[1] as string
      active.set(day, (active.get(day) ?? 0) + 1)
    }
    for (const r of batch.memberDay) {
      const day = r[1] as string
      // Check-ins: 30 % of each day's speakers, streaks cycling over a month.
      const c = checkedIn.get(day) ?? 0
      const checkin = c < Math.round((active.get(day) ?? 0) * 0.3)
      checkedIn.set(day, c + 1)
      const d = Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${o.firstDay}T00:00:00Z`)) / 86_400_000)
      await sink.push('memberDay', [r[0] as string, day, r[2] as string, r[3] as string, r[4] as number, checkin ? 1 : 0, checkin ? 1 + (d % 30) : 0])
    }
    const speakers = new Map<string, number>()
    for (const r of batch.memberHour) { const k = `${String(r[1])}${sep}${String(r[2])}`; speakers.set(k, (speakers.get(k) ?? 0) + 1) }
    batch.groupDay.sort((a, b) => ((a[1] as string) < (b[1] as string) ? -1 : 1))
    for (const r of batch.groupDay) {
      const day = r[1] as string
      const f = dayFigures.get(day) ?? { joins: 0, leaves: 0, arHits: 0, modHits: 0 }
      const n = active.get(day) ?? 0
      await sink.push('groupDay', [groupId, day, r[2] as number, r[3] as number, r[4] as number, r[5] as number, r[6] as number, n, f.joins, f.leaves, Math.round(n * 0.3), f.arHits, f.modHits, Math.round(f.modHits * 0.6)])
      if (f.arHits > 0) await sink.push('ruleDay', [groupId, day, 'autoreply', String(1 + (gi % 5)), f.arHits, f.arHits])
      if (f.modHits > 0) await sink.push('ruleDay', [groupId, day, 'moderation', 'links', f.modHits, Math.round(f.modHits * 0.6)])
    }
    batch.groupHour.sort((a, b) => ((a[1] as string) < (b[1] as string) ? -1 : (a[1] as string) > (b[1] as string) ? 1 : (a[2] as number) - (b[2] as number)))
    for (const r of batch.groupHour) await sink.push('groupHour', [groupId, r[1] as string, r[2] as number, r[3] as number, r[4] as number, speakers.get(`${String(r[1])}${sep}${String(r[2])}`) ?? 0])
    for (const r of batch.memberMonth) await sink.push('memberMonth', r)
  }
  const generateMs = performance.now() - t0
  const loadMs = await sink.finish()
  const t2 = performance.now()
  await rebuildIndexes()
  const indexMs = performance.now() - t2
  const cpu = process.cpuUsage(cpu0)
  const totalMs = performance.now() - t0
  const verified = await verify(o, Math.min(o.verifyGroups, o.rawGroups, o.groupIds.length))
  return {
    messages, rows: counts, rawRows,
    phases: { generateMs: Math.round(generateMs), loadMs: Math.round(loadMs), indexMs: Math.round(indexMs), totalMs: Math.round(totalMs) },
    cpuUsPerMessage: Math.round(((cpu.user + cpu.system) / Math.max(messages, 1)) * 100) / 100,
    loader: loaded.how, verified,
  }
}

/**
 * The loaded rollups against a brute-force count of the raw log (sampled groups): messages and active
 * members per day, messages and speakers per hour, messages per member and day.
 */
async function verify(o: GenerateOptions, groups: number): Promise<GenerateResult['verified']> {
  const mismatches: string[] = []
  let days = 0
  const shift = o.offsetHours * 3600
  const dayExpr = o.mysql ? `DATE_FORMAT(FROM_UNIXTIME(FLOOR(at / 1000) + ${shift}), '%Y-%m-%d')` : `strftime('%Y-%m-%d', at / 1000 + ${shift}, 'unixepoch')`
  const hourExpr = o.mysql ? `HOUR(FROM_UNIXTIME(FLOOR(at / 1000) + ${shift}))` : `CAST(strftime('%H', at / 1000 + ${shift}, 'unixepoch') AS INTEGER)`
  const text = (rows: Array<Record<string, unknown>>): string[] => rows.map((r) => Object.values(r).map((v) => String(Number.isNaN(Number(v)) ? v : Number(v))).join('|')).sort()
  const compare = (what: string, a: string[], b: string[]): void => {
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) mismatches.push(`${what}: rollups ${a.length} rows vs raw log ${b.length} rows${a.length === b.length ? ' (values differ)' : ''}`)
  }
  // The UTC-midnight-shifted expressions assume the fixed offset the bench's timezone has (no DST).
  const utc = o.mysql ? 'SET time_zone = \'+00:00\'' : null
  if (utc) await o.db.query(utc)
  for (const groupId of o.groupIds.slice(0, groups)) {
    const gd = text(await o.db.query('SELECT day, messages, active FROM qy_stats_group_day WHERE group_id = ?', [groupId]))
    const rawGd = text(await o.db.query(`SELECT ${dayExpr} AS day, COUNT(*) AS messages, COUNT(DISTINCT sender_id) AS active FROM qy_message_log WHERE group_id = ? GROUP BY day`, [groupId]))
    compare(`${groupId} group-day`, gd, rawGd)
    days += gd.length
    const gh = text(await o.db.query('SELECT day, hour, messages, speakers FROM qy_stats_group_hour WHERE group_id = ?', [groupId]))
    const rawGh = text(await o.db.query(`SELECT ${dayExpr} AS day, ${hourExpr} AS hour, COUNT(*) AS messages, COUNT(DISTINCT sender_id) AS speakers FROM qy_message_log WHERE group_id = ? GROUP BY day, hour`, [groupId]))
    compare(`${groupId} group-hour`, gh, rawGh)
    const md = text(await o.db.query('SELECT day, member_id, messages FROM qy_stats_member_day WHERE group_id = ?', [groupId]))
    const rawMd = text(await o.db.query(`SELECT ${dayExpr} AS day, sender_id, COUNT(*) AS messages FROM qy_message_log WHERE group_id = ? GROUP BY day, sender_id`, [groupId]))
    compare(`${groupId} member-day`, md, rawMd)
  }
  return { groups, days, equal: mismatches.length === 0, mismatches }
}
