/**
 * Small, focused measurements behind the suggestions in README.md (not part of the benchmark's figures):
 *
 *   npx ts-node --transpile-only bench/pipeline/probes.ts flush-block     # an embedded activity flush blocks the event loop
 *   npx ts-node --transpile-only bench/pipeline/probes.ts redis-dedupe    # SET NX per message vs one script per burst
 *   npx ts-node --transpile-only bench/pipeline/probes.ts directory-key   # concatenated Map keys vs nested Maps
 *   npx ts-node --transpile-only bench/pipeline/probes.ts mysql-chunks    # MySQL message-log insert: 5,000- vs 500-row statements
 *   npx ts-node --transpile-only bench/pipeline/probes.ts stop-loss       # MySQL: stop() during a periodic flush loses buffered rows
 *   npx ts-node --transpile-only bench/pipeline/probes.ts all
 *
 * redis-dedupe uses QUNYUN_REDIS_URL (default redis://127.0.0.1:6379/0) and deletes its keys afterwards;
 * mysql-chunks and stop-loss create and drop the database qunyun_bench_probe on the server of QUNYUN_DB_URL
 * (default mysql://root@127.0.0.1:3306/).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { loadConfig } from '../../src/config/load'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../src/adapters/db/data-source'
import { FeatureStore } from '../../src/adapters/db/feature-store'
import { activityFeature } from '../../src/features/activity'
import { FEATURES } from '../../src/features'
import { ActivityBuffer } from '../../src/features/activity/activity.buffer'
import { createConnection } from 'mysql2/promise'
import { insertIgnore, type Row } from '../../src/adapters/db/sql'
import { silentLogger } from '../../src/kernel/logger'
import { Runtime } from '../../src/main'
import { DEFAULT_DB_URL, DEFAULT_REDIS_URL, recreateDatabase } from './storage'
import { DEFAULT_STREAM, generateStream, syncedEvent } from './stream'

/** Runs `work` while a 2 ms timer measures how late its ticks come: the longest event-loop block. */
async function withLoopWatch<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; ticks: number; maxBlockMs: number }> {
  let last = performance.now()
  let ticks = 0
  let maxBlockMs = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxBlockMs = Math.max(maxBlockMs, now - last - 2)
    last = now
    ticks++
  }, 2)
  await new Promise((r) => setTimeout(r, 10))
  last = performance.now()
  ticks = 0
  maxBlockMs = 0
  const start = performance.now()
  const value = await work()
  const ms = performance.now() - start
  maxBlockMs = Math.max(maxBlockMs, performance.now() - last - 2)
  clearInterval(timer)
  return { value, ms, ticks, maxBlockMs }
}

/** Records 100,000 messages in an ActivityBuffer on a SQLite file and flushes it, watching the event loop. */
async function flushBlock(): Promise<void> {
  const stream = generateStream({ ...DEFAULT_STREAM, messages: 100_000 })
  const dir = mkdtempSync(join(tmpdir(), 'qunyun-probe-'))
  const config = loadConfig({ overrides: { database: { url: null } } })
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES), join(dir, 'probe.sqlite')))
  try {
    const buffer = new ActivityBuffer(new FeatureStore(db, activityFeature.name, activityFeature.entities ?? []))
    for (const m of stream.messages) buffer.record(m, config.timezone, true)
    const r = await withLoopWatch(() => buffer.flush())
    console.log(`flush-block: ActivityBuffer.flush() of ${stream.messages.length.toLocaleString('en-US')} messages on SQLite took ${r.ms.toFixed(0)} ms; `
      + `timer ticks during it: ${r.ticks}; longest event-loop block ${r.maxBlockMs.toFixed(0)} ms (${((r.ms * 1000) / stream.messages.length).toFixed(1)} µs per message)`)
  } finally {
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}

const DEDUPE_LUA = "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('SET', k, '1', 'PX', ARGV[1], 'NX') and 1 or 0 end return r"

/** 200,000 dedupe marks in bursts of 256: one SET NX each (what RedisDedupe does) vs one script call per burst. */
async function redisDedupe(): Promise<void> {
  const url = process.env.QUNYUN_REDIS_URL || DEFAULT_REDIS_URL
  const redis = new Redis(url, { enableAutoPipelining: true, lazyConnect: true })
  await redis.connect()
  redis.defineCommand('probeSeenMany', { lua: DEDUPE_LUA })
  const seenMany = (redis as unknown as { probeSeenMany(count: number, ...args: Array<string | number>): Promise<number[]> }).probeSeenMany.bind(redis)
  const n = 200_000
  const burst = 256
  try {
    for (const variant of ['SET NX per message', 'one script per burst', 'SET NX per message', 'one script per burst']) {
      const prefix = `qunyun-probe:${process.pid}:${Date.now()}:`
      const cpu0 = process.cpuUsage()
      const t = performance.now()
      for (let i = 0; i < n; i += burst) {
        const keys: string[] = []
        for (let j = i; j < Math.min(n, i + burst); j++) keys.push(`${prefix}dedupe:bench-msg-${String(j).padStart(7, '0')}`)
        if (variant.startsWith('SET')) await Promise.all(keys.map((k) => redis.set(k, '1', 'PX', 172_800_000, 'NX')))
        else await seenMany(keys.length, ...keys, 172_800_000)
      }
      const wall = performance.now() - t
      const cpu = process.cpuUsage(cpu0)
      console.log(`redis-dedupe: ${variant.padEnd(21)} wall ${wall.toFixed(0)} ms, node CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms = ${((cpu.user + cpu.system) / n).toFixed(2)} µs per message`)
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
        cursor = next
        if (keys.length > 0) await redis.del(...keys)
      } while (cursor !== '0')
    }
  } finally {
    await redis.quit()
  }
}

/** The directory's member lookup: `groupId + sep + memberId` keys vs a Map per group. */
async function directoryKey(): Promise<void> {
  const stream = generateStream(DEFAULT_STREAM)
  const sep = '\u0000'
  const flat = new Map<string, object>()
  const nested = new Map<string, Map<string, object>>()
  for (const g of stream.groups) {
    const inner = new Map<string, object>()
    nested.set(g.id, inner)
    for (const m of g.members) { const v = { id: m.id }; flat.set(g.id + sep + m.id, v); inner.set(m.id, v) }
  }
  for (let round = 0; round < 3; round++) {
    let hits = 0
    let t = performance.now()
    for (const m of stream.messages) if (flat.get(m.groupId + sep + m.senderId)) hits++
    const a = performance.now() - t
    t = performance.now()
    for (const m of stream.messages) if (nested.get(m.groupId)?.get(m.senderId)) hits++
    const b = performance.now() - t
    const per = (ms: number): string => ((ms * 1000) / stream.messages.length).toFixed(2)
    console.log(`directory-key: concatenated key ${per(a)} µs per lookup, nested Maps ${per(b)} µs per lookup (${hits} hits)`)
  }
}

/** URL of the probe database on the benchmark's MySQL server. */
function probeDbUrl(): string {
  const url = new URL(process.env.QUNYUN_DB_URL || DEFAULT_DB_URL)
  url.pathname = '/qunyun_bench_probe'
  return url.toString()
}

async function dropProbeDb(url: string): Promise<void> {
  const server = new URL(url)
  server.pathname = '/'
  const conn = await createConnection({ uri: server.toString() })
  try { await conn.query('DROP DATABASE IF EXISTS `qunyun_bench_probe`') } finally { await conn.end() }
}

/** 100,000 message-log rows into MySQL in one transaction: as insertIgnore chunks them (5,000 rows) vs 500-row calls. */
async function mysqlChunks(): Promise<void> {
  const url = probeDbUrl()
  await recreateDatabase(url)
  const stream = generateStream({ ...DEFAULT_STREAM, messages: 100_000 })
  const config = loadConfig({ overrides: { database: { url } } })
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES)))
  const columns = ['id', 'group_id', 'sender_id', 'type', 'text', 'at']
  try {
    for (const [label, slice] of [['insertIgnore(all rows)', 0], ['insertIgnore per 500 rows', 500], ['insertIgnore(all rows)', 0], ['insertIgnore per 500 rows', 500]] as const) {
      const tag = `-${Math.random().toString(36).slice(2, 8)}`
      const rows: Row[] = stream.messages.map((m) => [m.id + tag, m.groupId, m.senderId, m.type, m.text, m.at])
      const cpu0 = process.cpuUsage()
      const r = await withLoopWatch(() => db.transaction(async (m) => {
        if (slice === 0) await insertIgnore(m, 'qy_message_log', columns, rows)
        else for (let i = 0; i < rows.length; i += slice) await insertIgnore(m, 'qy_message_log', columns, rows.slice(i, i + slice))
      }))
      const cpu = process.cpuUsage(cpu0)
      console.log(`mysql-chunks: ${label.padEnd(26)} wall ${r.ms.toFixed(0)} ms, node CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, longest event-loop block ${r.maxBlockMs.toFixed(0)} ms`)
    }
  } finally {
    await db.destroy()
    await dropProbeDb(url)
  }
}

/**
 * MySQL, flush interval 200 ms: 50,000 messages, wait until the timer starts writing them, submit 10,000
 * more, then stop() at once. stop() calls flush(), which returns the write already running, so the
 * 10,000 recorded after it began are never written.
 */
async function stopLoss(): Promise<void> {
  const url = probeDbUrl()
  await recreateDatabase(url)
  const stream = generateStream({ ...DEFAULT_STREAM, groups: 20, messages: 60_000 })
  const config = loadConfig({ overrides: { database: { url }, redis: { url: null }, activity: { flushIntervalMs: 200 }, simulation: { mode: 'off' } } })
  const runtime = new Runtime(config, { log: silentLogger, bots: [], http: false, scheduler: false, simulation: false })
  try {
    await runtime.start()
    for (const g of stream.groups) await runtime.publish(syncedEvent(g, DEFAULT_STREAM.botId, DEFAULT_STREAM.startAt - 60_000))
    await runtime.flush()
    let writing = false
    const flush = runtime.flush.bind(runtime)
    runtime.flush = () => {
      const p = flush()
      if (!writing) { writing = true; void p.finally(() => { writing = false }).catch(() => undefined) }
      return p
    }
    await Promise.all(stream.messages.slice(0, 50_000).map((m) => runtime.submit(m)))
    while (!writing) await new Promise((r) => setTimeout(r, 1))
    await Promise.all(stream.messages.slice(50_000).map((m) => runtime.submit(m)))
    const during = writing
    await runtime.stop()
    const conn = await createConnection({ uri: url })
    try {
      const [rows] = await conn.query('SELECT COUNT(*) AS n FROM qy_message_log')
      const stored = Number((rows as Array<{ n: number | string }>)[0]?.n ?? 0)
      console.log(`stop-loss: ${stream.messages.length.toLocaleString('en-US')} messages processed, stop() called while a periodic write was ${during ? 'running' : 'not running'}; `
        + `qy_message_log after a clean stop(): ${stored.toLocaleString('en-US')} rows${stored < stream.messages.length ? ` (${(stream.messages.length - stored).toLocaleString('en-US')} lost)` : ''}`)
    } finally {
      await conn.end()
    }
  } finally {
    await runtime.stop().catch(() => undefined)
    await dropProbeDb(url)
  }
}

const PROBES: Record<string, () => Promise<void>> = {
  'flush-block': flushBlock, 'redis-dedupe': redisDedupe, 'directory-key': directoryKey, 'mysql-chunks': mysqlChunks, 'stop-loss': stopLoss,
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'all'
  const names = which === 'all' ? Object.keys(PROBES) : [which]
  for (const name of names) {
    const probe = PROBES[name]
    if (!probe) throw new Error(`unknown probe ${name}; one of ${Object.keys(PROBES).join(', ')}, all`)
    await probe()
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
