/**
 * Retention purge benchmark (see README.md): the message-text purge of a large message log on MySQL, while
 * a writer keeps inserting new message rows one by one (what the activity flush does), side by side:
 *   batched — the retention service (select up to batchSize keys by the time index, delete exactly those,
 *             pause, repeat), as the daily job runs it;
 *   one-shot — a single `DELETE … WHERE at < ?` (what the message-log purge did before).
 * Figures: rows purged per second, CPU-µs per purged row (this process), the longest single statement,
 * and the concurrent writer's insert latency (p50 / p99 / max) during each purge.
 *
 *   npm run bench:retention
 *   npm run bench:retention -- --rows 200000 --batch 2000 --pause 20 --mysql [url]
 *   (default mysql://root@127.0.0.1:3306/qunyun_bench_retention; recreated)
 *
 * Ends with one line `BENCH {json}`.
 */
import { performance } from 'node:perf_hooks'
import { createConnection } from 'mysql2/promise'
import type { DataSource } from 'typeorm'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../src/adapters/db/data-source'
import { DbRetentionStore } from '../../src/adapters/db/retention-store'
import { loadConfig } from '../../src/config/load'
import { FEATURES } from '../../src/features'
import { silentLogger } from '../../src/kernel/logger'
import { RetentionService, type RetentionStore } from '../../src/kernel/retention'
import { declaredPersonalData } from '../../src/personal-data'

const DAY = 86_400_000

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? process.argv[i + 1] : undefined
  return v !== undefined && !v.startsWith('--') ? v : fallback
}

const ROWS = Number(arg('rows', '200000'))
const BATCH = Number(arg('batch', '2000'))
const PAUSE = Number(arg('pause', '20'))
const URL_ = arg('mysql', 'mysql://root@127.0.0.1:3306/qunyun_bench_retention')

async function recreate(url: string): Promise<void> {
  const u = new URL(url)
  const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) })
  const name = u.pathname.slice(1)
  await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
  await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
  await c.end()
}

/** Fills the message log: `old` rows past the 30-day boundary, 10% as many recent ones. */
async function seed(db: DataSource, now: number, tag: string): Promise<void> {
  await db.query('DELETE FROM qy_message_log')
  const rows: Array<Array<string | number>> = []
  const total = ROWS + Math.floor(ROWS / 10)
  for (let i = 0; i < total; i++) {
    const old = i < ROWS
    const at = old ? now - 31 * DAY - (i % (60 * DAY)) : now - (i % (20 * DAY))
    rows.push([`${tag}-${i}`, `g${i % 300}@chatroom`, `m${i % 5000}`, 'text', `消息内容 ${i} 今天天气不错，大家早上好`, at])
  }
  for (let i = 0; i < rows.length; i += 1000) {
    const part = rows.slice(i, i + 1000)
    await db.query(`INSERT INTO qy_message_log (id, group_id, sender_id, type, text, at) VALUES ${part.map(() => '(?,?,?,?,?,?)').join(',')}`, part.flat())
  }
}

/** Inserts one new message row at a time until stopped; returns each insert's latency (ms). */
function writer(db: DataSource, now: number): { stop: () => Promise<number[]> } {
  let running = true
  const latencies: number[] = []
  let n = 0
  const loop = (async () => {
    while (running) {
      const t = performance.now()
      await db.query('INSERT INTO qy_message_log (id, group_id, sender_id, type, text, at) VALUES (?,?,?,?,?,?)', [`w-${now}-${n++}`, 'g1@chatroom', 'writer', 'text', '新消息', now])
      latencies.push(performance.now() - t)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  return { stop: async () => { running = false; await loop; return latencies } }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? 0 : (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number)
}

/** A store that also times each batch statement (the longest one is what other writers may wait behind). */
function timed(store: RetentionStore, out: number[]): RetentionStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      if (key !== 'purgeBatch') return Reflect.get(target, key, receiver) as unknown
      return async (...a: Parameters<RetentionStore['purgeBatch']>) => {
        const t = performance.now()
        try { return await target.purgeBatch(...a) } finally { out.push(performance.now() - t) }
      }
    },
  })
}

interface Figures { rows: number; seconds: number; rowsPerSec: number; cpuUsPerRow: number; longestStatementMs: number; statements: number; writer: { inserts: number; p50: number; p99: number; max: number } }

async function measure(db: DataSource, now: number, purge: () => Promise<{ rows: number; statements: number[] }>): Promise<Figures> {
  const w = writer(db, now)
  await new Promise((r) => setTimeout(r, 500))
  const cpu = process.cpuUsage()
  const t = performance.now()
  const { rows, statements } = await purge()
  const seconds = (performance.now() - t) / 1000
  const used = process.cpuUsage(cpu)
  await new Promise((r) => setTimeout(r, 500))
  const lat = await w.stop()
  const round = (x: number) => Math.round(x * 100) / 100
  return {
    rows, seconds: round(seconds), rowsPerSec: Math.round(rows / seconds), cpuUsPerRow: round((used.user + used.system) / Math.max(1, rows)),
    longestStatementMs: round(Math.max(...statements)), statements: statements.length,
    writer: { inserts: lat.length, p50: round(pct(lat, 50)), p99: round(pct(lat, 99)), max: round(Math.max(...lat)) },
  }
}

async function main(): Promise<void> {
  await recreate(URL_)
  const config = loadConfig({ overrides: { database: { url: URL_ }, retention: { batchSize: BATCH, pauseMs: PAUSE } } })
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES)))
  try {
    const now = Date.now()
    const clock = { now: () => now, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) }
    const statements: number[] = []
    const service = new RetentionService({
      settings: config.retention, store: timed(new DbRetentionStore(db), statements), clock, log: silentLogger, timezone: config.timezone,
      scopes: async () => new Map(), declarations: declaredPersonalData(FEATURES),
    })
    process.stdout.write(`seeding ${ROWS} old + ${Math.floor(ROWS / 10)} recent message rows …\n`)
    await seed(db, now, 'a')
    const batched = await measure(db, now, async () => {
      const run = await service.purge('message-text', { source: 'cli' })
      return { rows: run.detail.find((d) => d.table === 'qy_message_log')?.deleted ?? 0, statements: [...statements] }
    })
    process.stdout.write(`batched:  ${JSON.stringify(batched)}\n`)
    await seed(db, now, 'b')
    const oneShot = await measure(db, now, async () => {
      const t = performance.now()
      const res = await db.query('DELETE FROM qy_message_log WHERE at < ?', [now - 30 * DAY]) as { affectedRows?: number }
      return { rows: Number(res.affectedRows ?? 0), statements: [performance.now() - t] }
    })
    process.stdout.write(`one-shot: ${JSON.stringify(oneShot)}\n`)
    const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.001)) * 100) / 100
    process.stdout.write(`writer max latency one-shot / batched: ${ratio(oneShot.writer.max, batched.writer.max)}×; longest statement one-shot / batched: ${ratio(oneShot.longestStatementMs, batched.longestStatementMs)}×; purge time batched / one-shot: ${ratio(batched.seconds, oneShot.seconds)}×\n`)
    console.log('BENCH ' + JSON.stringify({
      bench: 'retention', database: 'mysql', rows: ROWS, batchSize: BATCH, pauseMs: PAUSE, batched, oneShot,
      writerMaxRatio: ratio(oneShot.writer.max, batched.writer.max), longestStatementRatio: ratio(oneShot.longestStatementMs, batched.longestStatementMs),
      purgeTimeRatio: ratio(batched.seconds, oneShot.seconds),
    }))
  } finally {
    await db.destroy()
  }
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
