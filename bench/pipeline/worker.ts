import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { loadConfig } from '../../src/config/load'
import type { IncomingMessage } from '../../src/kernel/context'
import { silentLogger } from '../../src/kernel/logger'
import type { ProcessResult } from '../../src/kernel/processor'
import { seededRandom } from '../../src/ports/random'
import { deleteRedisKeysWithPrefix } from '../../src/adapters/redis/redis-ports'
import { Runtime } from '../../src/main'
import { emptyFeature } from './empty-feature'
import { CpuProfiler, summarize, type ProfileSummary } from './profile'
import { recreateDatabase, type StorageMode } from './storage'
import { DEFAULT_STREAM, generateStream, syncedEvent } from './stream'

/** Which pipeline a run measures. */
export type PipelineMode = 'full' | 'empty'

/** One benchmark run: one storage, one pipeline, one fresh runtime (in its own process). */
export interface RunSpec {
  storage: StorageMode
  mode: PipelineMode
  messages: number
  concurrency: number
  profile: boolean
  dbUrl?: string
  redisUrl?: string
  /** Where CPU profiles are written. */
  profileDir: string
}

/** A correctness check after the run. */
export interface Check { name: string; expected: number; actual: number; ok: boolean }

/** Figures of one run. */
export interface RunResult {
  storage: StorageMode
  mode: PipelineMode
  profiled: boolean
  messages: number
  concurrency: number
  wallMs: number
  msgsPerSec: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  meanMs: number
  peakRssMb: number
  /** RSS just before the first submit (runtime started, stream in memory). */
  startRssMb: number
  /** Duration of the final flush, inside wallMs. */
  finalFlushMs: number
  /** Flushes during the timed run (timer + final), their longest duration and the configured interval. */
  flushes: { count: number; maxMs: number; totalMs: number; intervalMs: number }
  results: Record<ProcessResult, number>
  checks: Check[]
  setup: { generateMs: number; startMs: number; registerMs: number }
  stream: { groups: number; membersPerGroup: number; types: Record<string, number>; topGroupShare: number; textChars: number }
  profile?: ProfileSummary
}

const mb = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10
const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

/**
 * Feeds the messages like an adapter receiving bursts: every macrotask (setImmediate) it submits new
 * messages until `concurrency` are in flight, then yields, so timers (the flush interval, the RSS sampler)
 * and socket I/O (MySQL, Redis) run between bursts. Latency of a message = submit() call → its promise
 * resolving (process.hrtime.bigint), stored in `latencies` (ms).
 */
function feed(runtime: Runtime, messages: IncomingMessage[], concurrency: number, latencies: Float64Array): Promise<Record<ProcessResult, number>> {
  return new Promise((resolveAll, reject) => {
    const results: Record<ProcessResult, number> = { processed: 0, duplicate: 0, failed: 0 }
    let next = 0
    let done = 0
    let inFlight = 0
    let scheduled = false
    const pump = (): void => {
      scheduled = false
      while (inFlight < concurrency && next < messages.length) {
        const i = next++
        inFlight++
        const t0 = process.hrtime.bigint()
        runtime.submit(messages[i] as IncomingMessage).then((result) => {
          latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6
          results[result]++
          inFlight--
          done++
          if (done === messages.length) resolveAll(results)
          else if (!scheduled && next < messages.length) { scheduled = true; setImmediate(pump) }
        }, reject)
      }
    }
    if (messages.length === 0) resolveAll(results)
    else pump()
  })
}

/** Runs one benchmark in this process and returns its figures. */
export async function runOne(spec: RunSpec): Promise<RunResult> {
  const t0 = performance.now()
  const stream = generateStream({ ...DEFAULT_STREAM, messages: spec.messages })
  const generateMs = performance.now() - t0
  const textChars = stream.messages.reduce((n, m) => n + m.text.length, 0)

  const tmp = mkdtempSync(join(tmpdir(), `qunyun-bench-${spec.storage}-${spec.mode}-`))
  const useServers = spec.storage === 'mysql-redis'
  const keyPrefix = `qunyun-bench:${process.pid}:${Date.now()}:`
  if (useServers) {
    if (!spec.dbUrl || !spec.redisUrl) throw new Error('mysql-redis run needs dbUrl and redisUrl')
    await recreateDatabase(spec.dbUrl)
  }
  const config = loadConfig({
    overrides: {
      dataDir: tmp,
      log: { level: 'error' },
      simulation: { mode: 'off' },
      database: { url: useServers ? spec.dbUrl : null },
      redis: { url: useServers ? spec.redisUrl : null, keyPrefix },
    },
  })
  const runtime = new Runtime(config, {
    log: silentLogger,
    random: seededRandom(7),
    bots: [],
    http: false,
    scheduler: false,
    simulation: false,
    // A real file (WAL, synchronous=NORMAL as in production), not :memory:.
    sqlitePath: join(tmp, 'bench.sqlite'),
    features: spec.mode === 'empty' ? [emptyFeature(config.timezone)] : undefined,
  })

  // Time every flush (the interval timer calls this.flush(), so the instance property catches it too).
  const flushes = { count: 0, maxMs: 0, totalMs: 0, intervalMs: config.activity.flushIntervalMs }
  let timing = false
  const flush = runtime.flush.bind(runtime)
  runtime.flush = async () => {
    const start = performance.now()
    try { await flush() } finally {
      if (timing) {
        const ms = performance.now() - start
        flushes.count++
        flushes.totalMs += ms
        if (ms > flushes.maxMs) flushes.maxMs = ms
      }
    }
  }

  let result: RunResult | undefined
  let failure: unknown
  try {
    const t1 = performance.now()
    await runtime.start()
    const startMs = performance.now() - t1

    // Register every group and its members as the adapter does at login, one at a time (each sync is a
    // transaction; SQLite has a single connection). Then warm the rules cache. Not timed.
    const t2 = performance.now()
    for (const group of stream.groups) await runtime.publish(syncedEvent(group, stream.options.botId, stream.options.startAt - 60_000))
    await Promise.all(stream.groups.map((g) => runtime.rules.forGroup(g.id)))
    await runtime.flush()
    const registerMs = performance.now() - t2

    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const latencies = new Float64Array(stream.messages.length)
    const startRss = process.memoryUsage().rss
    let peakRss = startRss
    const sampler = setInterval(() => { const rss = process.memoryUsage().rss; if (rss > peakRss) peakRss = rss }, 50)

    const profiler = spec.profile ? new CpuProfiler() : undefined
    await profiler?.start()
    timing = true
    const begin = process.hrtime.bigint()
    const results = await feed(runtime, stream.messages, spec.concurrency, latencies)
    const flushStart = process.hrtime.bigint()
    await runtime.flush()
    const end = process.hrtime.bigint()
    timing = false
    const profile = await profiler?.stop()
    clearInterval(sampler)
    peakRss = Math.max(peakRss, process.memoryUsage().rss)

    const wallMs = Number(end - begin) / 1e6
    const sorted = Float64Array.from(latencies).sort()
    const n = stream.messages.length
    const checks: Check[] = [{ name: 'results processed', expected: n, actual: results.processed, ok: results.processed === n }]
    const count = async (sql: string): Promise<number> => {
      const rows: Array<Record<string, unknown>> = await runtime.db.query(sql)
      return Number(Object.values(rows[0] ?? {})[0] ?? 0)
    }
    if (spec.mode === 'full') {
      const daily = await count('SELECT COALESCE(SUM(messages), 0) AS n FROM qy_activity_daily')
      const log = await count('SELECT COUNT(*) AS n FROM qy_message_log')
      const hourly = await count('SELECT COALESCE(SUM(messages), 0) AS n FROM qy_activity_hourly')
      checks.push({ name: 'SUM(qy_activity_daily.messages)', expected: n, actual: daily, ok: daily === n })
      checks.push({ name: 'SUM(qy_activity_hourly.messages)', expected: n, actual: hourly, ok: hourly === n })
      checks.push({ name: 'COUNT(qy_message_log)', expected: n, actual: log, ok: log === n })
    }
    if (!useServers) {
      const seen = await count('SELECT COUNT(*) AS n FROM qy_seen_message')
      checks.push({ name: 'COUNT(qy_seen_message)', expected: n, actual: seen, ok: seen === n })
    }

    let profileSummary: ProfileSummary | undefined
    if (profile) {
      mkdirSync(spec.profileDir, { recursive: true })
      const file = resolve(spec.profileDir, `${spec.storage}-${spec.mode}.cpuprofile`)
      writeFileSync(file, JSON.stringify(profile))
      profileSummary = summarize(profile, file)
    }

    result = {
      storage: spec.storage, mode: spec.mode, profiled: spec.profile, messages: n, concurrency: spec.concurrency,
      wallMs: round(wallMs, 1),
      msgsPerSec: Math.round(n / (wallMs / 1000)),
      p50Ms: round(percentile(sorted, 50)), p90Ms: round(percentile(sorted, 90)), p99Ms: round(percentile(sorted, 99)),
      p999Ms: round(percentile(sorted, 99.9)), maxMs: round(sorted[n - 1] ?? 0),
      meanMs: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, n)),
      peakRssMb: mb(peakRss), startRssMb: mb(startRss),
      finalFlushMs: round(Number(end - flushStart) / 1e6, 1),
      flushes: { count: flushes.count, maxMs: round(flushes.maxMs, 1), totalMs: round(flushes.totalMs, 1), intervalMs: flushes.intervalMs },
      results, checks,
      setup: { generateMs: Math.round(generateMs), startMs: Math.round(startMs), registerMs: Math.round(registerMs) },
      stream: { groups: stream.groups.length, membersPerGroup: stream.options.membersPerGroup, types: stream.types, topGroupShare: round(stream.topGroupShare), textChars },
      profile: profileSummary,
    }
  } catch (error) {
    failure = error
  } finally {
    await runtime.stop().catch((error: unknown) => { failure ??= error })
    if (useServers && spec.redisUrl) {
      const deleted = await deleteRedisKeysWithPrefix({ url: spec.redisUrl, keyPrefix }).catch((error: unknown) => { failure ??= error; return -1 })
      // Every message left one dedupe mark in Redis (SET NX PX): that is the shared dedupe's durability.
      if (result) result.checks.push({ name: 'Redis dedupe keys (deleted after the run)', expected: result.messages, actual: deleted, ok: deleted === result.messages })
    }
    rmSync(tmp, { recursive: true, force: true })
  }
  if (failure !== undefined || !result) throw failure ?? new Error('run produced no result')
  return result
}

// Forked by run.ts: run the spec from argv, report over IPC, exit.
if (require.main === module) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as RunSpec
  runOne(spec).then(
    (result) => process.send?.({ ok: true, result }, () => process.exit(0)),
    (error: unknown) => process.send?.({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () => process.exit(1)),
  )
}
