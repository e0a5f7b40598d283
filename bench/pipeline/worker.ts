import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config/load'
import type { IncomingMessage } from '../../src/kernel/context'
import { silentLogger, type Logger } from '../../src/kernel/logger'
import type { ProcessResult } from '../../src/kernel/processor'
import { createLogger } from '../../src/logging'
import { seededRandom } from '../../src/ports/random'
import { systemClock } from '../../src/ports/clock'
import { deleteRedisKeysWithPrefix } from '../../src/adapters/redis/redis-ports'
import { Runtime } from '../../src/main'
import { emptyFeature } from './empty-feature'
import { advertTerms, storeFaqRules, useBenchPack } from './product'
import { CpuProfiler, summarize, type ProfileSummary } from './profile'
import { recreateDatabase, type StorageMode } from './storage'
import { DEFAULT_STREAM, generateStream, syncedEvent, type BenchGroup } from './stream'

/** Which pipeline a run measures. */
export type PipelineMode = 'full' | 'empty'

/** One benchmark run: one storage, one pipeline, one fresh runtime (in its own process). */
export interface RunSpec {
  storage: StorageMode
  mode: PipelineMode
  messages: number
  /** Closed-loop phase: messages kept in flight. */
  concurrency: number
  /** Open-loop phase: offered load in msg/s (0 = skip the phase; -1 = 80 % of this run's closed-loop msg/s). */
  rate: number
  /** Stream shape: groups, members per group, share of text messages violating the rules. */
  groups: number
  members: number
  violationRate: number
  /** Stream shape (see StreamOptions.shape; absent = realistic) and days it spans (realistic). */
  shape?: 'realistic' | 'legacy'
  days?: number
  /** Embedded: flush writes through the SQLite writer thread (off unless asked, as in the product). */
  writerThread?: boolean
  profile: boolean
  /** 'silent' (default) or 'winston': the production logger (JSON, level info) writing to a null stream. */
  logger: 'silent' | 'winston'
  dbUrl?: string
  redisUrl?: string
  /** Where CPU profiles are written. */
  profileDir: string
}

/** A correctness check after the run. */
export interface Check { name: string; expected: number; actual: number; ok: boolean }

/** Latency distribution in ms. */
export interface Latency { p50Ms: number; p90Ms: number; p99Ms: number; p999Ms: number; maxMs: number; meanMs: number }

/** The open-loop phase: messages arrive at a fixed rate whatever the pipeline does. */
export interface OpenLoop extends Latency {
  rate: number
  messages: number
  /** Messages / time from the first arrival until the last one resolved. */
  achievedPerSec: number
  eventLoop: LoopFigures
  flushes: { count: number; maxMs: number }
  /** Messages submitted more than 2 ms after their scheduled arrival (the feeder itself was held up), and the worst. */
  lateSends: number
  lateMaxMs: number
}

/** Event-loop figures: a 2 ms timer's lateness, and perf_hooks.monitorEventLoopDelay (1 ms resolution). */
export interface LoopFigures {
  p99Ms: number; maxMs: number; delayP99Ms: number; delayMaxMs: number
  /**
   * The longest stretch between two ticks of the 2 ms timer counted in this process's CPU time instead of
   * wall time: what the process itself held the loop for, even when other processes took the cores
   * (wall-time lateness then includes the time it was not scheduled at all).
   */
  cpuMaxMs: number
}

/** Figures of one run. */
export interface RunResult extends Latency {
  storage: StorageMode
  mode: PipelineMode
  profiled: boolean
  logger: 'silent' | 'winston'
  /** Features of the runtime, in pipeline order. */
  features: string[]
  messages: number
  concurrency: number
  /** First submit → all resolved and flushed. */
  wallMs: number
  msgsPerSec: number
  peakRssMb: number
  /** RSS just before the first submit (runtime started, stream in memory). */
  startRssMb: number
  /** Duration of the final flush(es), inside wallMs. */
  finalFlushMs: number
  /**
   * CPU time of the closed-loop phase: this process (all threads) and, for MySQL + Redis, the servers;
   * per message, and the process's share of the wall time (well below 100 % = starved by other processes).
   */
  cpu: { processMs: number; processUsPerMsg: number; processSharePct: number; serversMs: number; serversUsPerMsg: number }
  /** How long the event loop was blocked during the closed-loop phase. */
  eventLoop: LoopFigures
  /** Flush writes during the closed-loop phase (timer + final): count, calls that joined a running write, longest, total. */
  flushes: { count: number; joined: number; maxMs: number; totalMs: number; intervalMs: number; byPartMs: Record<string, number> }
  /** p99 latency of messages in flight while a flush write ran vs the others. */
  latencyVsFlush: { duringCount: number; duringP99Ms: number; outsideCount: number; outsideP99Ms: number }
  /**
   * Time from a message's resolution until a flush surely made it durable (upper bound), and what the
   * first flush() after the last message made durable (it may join a periodic flush already running).
   */
  durability: { lagP50Ms: number; lagP99Ms: number; lagMaxMs: number; finalFlushJoinedInFlight: boolean; loggedAfterFirstFlush: number }
  open?: OpenLoop
  results: Record<ProcessResult, number>
  checks: Check[]
  setup: { generateMs: number; startMs: number; registerMs: number }
  stream: { groups: number; membersPerGroup: number; types: Record<string, number>; topGroupShare: number; textChars: number; violating: number; faq: number; shape?: string; days?: number; speakerSkew?: number; checkIns?: number; commands?: number; firstOfDay?: number; spanMs?: number }
  /** What the full pipeline did about it (both phases): moderation events by detector, outbound actions queued. */
  effects: { moderationByDetector: Record<string, number>; outbound: number }
  profile?: ProfileSummary
}

/** CPU time (ms) used so far by the database and Redis servers on this machine (Linux /proc; 0 elsewhere). */
export function serverCpuMs(): number {
  let ticks = 0
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue
      try {
        const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
        if (comm !== 'mariadbd' && comm !== 'mysqld' && comm !== 'redis-server') continue
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        ticks += Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of stat)
      } catch { /* process gone */ }
    }
  } catch { return 0 }
  return ticks * 10 // USER_HZ is 100 on Linux
}

const mb = (bytes: number): number => Math.round((bytes / 1_048_576) * 10) / 10
const round = (n: number, digits = 3): number => Math.round(n * 10 ** digits) / 10 ** digits

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

function distribution(latencies: Float64Array): Latency {
  const sorted = Float64Array.from(latencies).sort()
  return {
    p50Ms: round(percentile(sorted, 50)), p90Ms: round(percentile(sorted, 90)), p99Ms: round(percentile(sorted, 99)),
    p999Ms: round(percentile(sorted, 99.9)), maxMs: round(sorted[sorted.length - 1] ?? 0),
    meanMs: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  }
}

/**
 * How long the event loop was blocked: a 2 ms interval timer records how late each tick is. (perf_hooks'
 * monitorEventLoopDelay misses long synchronous stretches such as a better-sqlite3 flush, so not that.)
 */
class LoopMonitor {
  private readonly lateness: number[] = []
  private timer?: NodeJS.Timeout
  private last = 0
  private readonly histogram = monitorEventLoopDelay({ resolution: 1 })
  private lastCpu = 0
  private cpuMax = 0
  private cpuNow(): number { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
  start(): void {
    this.histogram.enable()
    this.lastCpu = this.cpuNow()
    this.last = performance.now()
    this.timer = setInterval(() => {
      const now = performance.now()
      this.lateness.push(Math.max(0, now - this.last - 2))
      this.last = now
      const cpu = this.cpuNow()
      if (cpu - this.lastCpu > this.cpuMax) this.cpuMax = cpu - this.lastCpu
      this.lastCpu = cpu
    }, 2)
  }
  stop(): LoopFigures {
    clearInterval(this.timer)
    this.histogram.disable()
    const h = this.histogram
    // A block that lasts until now (e.g. the final flush) has not been seen by a tick yet.
    this.lateness.push(Math.max(0, performance.now() - this.last - 2))
    const sorted = Float64Array.from(this.lateness).sort()
    return {
      p99Ms: round(percentile(sorted, 99), 1), maxMs: round(sorted[sorted.length - 1] ?? 0, 1),
      // The histogram records how late its 1 ms timer ran (ns); it includes the timer's own resolution.
      delayP99Ms: round(h.percentile(99) / 1e6, 1), delayMaxMs: round(h.max / 1e6, 1), cpuMaxMs: round(Math.max(this.cpuMax, this.cpuNow() - this.lastCpu), 1),
    }
  }
}

type Results = Record<ProcessResult, number>

/** The bench clock's time: the latest submitted message's `at` (see runOne). */
let simNow = Date.now()
function submitAt(runtime: Runtime, message: IncomingMessage): Promise<ProcessResult> {
  if (message.at > simNow) simNow = message.at
  return runtime.submit(message)
}

/**
 * Closed loop, like an adapter receiving bursts: every macrotask (setImmediate) it submits new messages
 * until `concurrency` are in flight, then yields, so timers (the flush interval, the RSS sampler) and
 * socket I/O (MySQL, Redis) run between bursts. Latency = submit() call → its promise resolving.
 */
function feedClosed(runtime: Runtime, messages: IncomingMessage[], concurrency: number, latencies: Float64Array, doneAt: Float64Array): Promise<Results> {
  return new Promise((resolveAll, reject) => {
    const results: Results = { processed: 0, duplicate: 0, failed: 0, shed: 0 }
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
        submitAt(runtime, messages[i] as IncomingMessage).then((result) => {
          latencies[i] = Number(process.hrtime.bigint() - t0) / 1e6
          doneAt[i] = performance.now()
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

/**
 * Open loop: message i arrives at start + i/rate whatever the pipeline is doing; arrivals are released in
 * ~1 ms timer ticks (like socket reads). Latency = scheduled arrival → promise resolved, so time the event
 * loop spent blocked (e.g. in a synchronous flush) counts, which the closed loop cannot see.
 */
function feedOpen(runtime: Runtime, messages: IncomingMessage[], rate: number, latencies: Float64Array): Promise<{ results: Results; ms: number; late: number; lateMaxMs: number }> {
  return new Promise((resolveAll, reject) => {
    const results: Results = { processed: 0, duplicate: 0, failed: 0, shed: 0 }
    const gap = 1000 / rate
    const start = performance.now()
    let next = 0
    let done = 0
    let late = 0
    let lateMaxMs = 0
    const pump = (): void => {
      // Arrivals follow the clock, not the ticks: after a stall the messages due meanwhile are sent at
      // once (they would have queued in the socket) and counted as late; latency starts at the arrival.
      const now = performance.now()
      const due = Math.min(messages.length, Math.floor((now - start) / gap) + 1)
      while (next < due) {
        const i = next++
        const arrival = start + i * gap
        const lateBy = now - arrival
        if (lateBy > 2) { late++; if (lateBy > lateMaxMs) lateMaxMs = lateBy }
        submitAt(runtime, messages[i] as IncomingMessage).then((result) => {
          latencies[i] = performance.now() - arrival
          results[result]++
          done++
          if (done === messages.length) resolveAll({ results, ms: performance.now() - start, late, lateMaxMs })
        }, reject)
      }
      if (next < messages.length) setTimeout(pump, 1)
    }
    if (messages.length === 0) resolveAll({ results, ms: 0, late: 0, lateMaxMs: 0 })
    else pump()
  })
}

/** Runs one benchmark in this process and returns its figures. */
export async function runOne(spec: RunSpec): Promise<RunResult> {
  const t0 = performance.now()
  const rulesDir = resolve(__dirname, '..', '..', 'rules')
  const streamOptions = { ...DEFAULT_STREAM, messages: spec.messages, groups: spec.groups, membersPerGroup: spec.members, violationRate: spec.violationRate, violationTerms: advertTerms(rulesDir), shape: spec.shape ?? DEFAULT_STREAM.shape, days: spec.days ?? DEFAULT_STREAM.days }
  const stream = generateStream(streamOptions)
  simNow = stream.options.startAt - 120_000
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
      log: { level: 'info' },
      simulation: { mode: 'off' },
      // The SQLite writer thread on (off by default in the product; this bench measures it). CPU µs include its thread.
      database: { url: useServers ? spec.dbUrl : null, writerThread: spec.writerThread === true },
      redis: { url: useServers ? spec.redisUrl : null, keyPrefix },
    },
  })
  const log: Logger = spec.logger === 'winston'
    ? createLogger({ log: { level: 'info', format: 'json' } }, new Writable({ write(_chunk, _encoding, done) { done() } }))
    : silentLogger
  // The runtime's clock follows the stream: flood and duplicate windows, day buckets and dedupe expiry see
  // message time (a realistic pace), not the compressed wall time of the benchmark. Timers still sleep in real time.
  const clock = { now: (): number => simNow, sleep: systemClock.sleep }
  const runtime = new Runtime(config, {
    log,
    clock,
    random: seededRandom(7),
    bots: [],
    http: false,
    scheduler: false,
    simulation: false,
    // A real file (WAL, synchronous=NORMAL as in production), not :memory:.
    sqlitePath: join(tmp, 'bench.sqlite'),
    features: spec.mode === 'empty' ? [emptyFeature(config.timezone)] : undefined,
  })
  // The product as deployed: the default rule pack with group rules on (moderation, check-in, auto-reply).
  if (spec.mode === 'full') useBenchPack(runtime, stream.options.botId)

  // Observe every flush (the interval timer calls this.flush(), so the instance property catches it too).
  // Runtime.flush() hands a caller the flush already in progress, if any: such a call is "joined" and
  // writes nothing recorded after that flush began. Only "fresh" flushes start a write.
  const intervalMs = config.activity.flushIntervalMs
  let writes: Array<{ start: number; end: number }> = []
  let joined = 0
  let timing = false
  const flushParts: Record<string, number> = {}
  let current: Promise<void> | undefined
  const flush = runtime.flush.bind(runtime)
  runtime.flush = () => {
    const start = performance.now()
    const p = flush()
    const fresh = p !== current
    current = p
    if (timing && !fresh) joined++
    return p.finally(() => { if (timing && fresh) writes.push({ start, end: performance.now() }) })
  }
  const count = async (sql: string): Promise<number> => {
    const rows: Array<Record<string, unknown>> = await runtime.db.query(sql)
    return Number(Object.values(rows[0] ?? {})[0] ?? 0)
  }
  /** Checks that `n` messages in total are processed and stored. */
  const verify = async (phase: string, n: number, processed: number): Promise<Check[]> => {
    const checks: Check[] = [{ name: `${phase}: results processed`, expected: n, actual: processed, ok: processed === n }]
    if (spec.mode === 'full') {
      const daily = await count('SELECT COALESCE(SUM(messages), 0) AS n FROM qy_activity_daily')
      const hourly = await count('SELECT COALESCE(SUM(messages), 0) AS n FROM qy_activity_hourly')
      const logged = await count('SELECT COUNT(*) AS n FROM qy_message_log')
      checks.push({ name: `${phase}: SUM(qy_activity_daily.messages)`, expected: n, actual: daily, ok: daily === n })
      checks.push({ name: `${phase}: SUM(qy_activity_hourly.messages)`, expected: n, actual: hourly, ok: hourly === n })
      checks.push({ name: `${phase}: COUNT(qy_message_log)`, expected: n, actual: logged, ok: logged === n })
    }
    if (!useServers) {
      const seen = await count('SELECT COUNT(*) AS n FROM qy_seen_message')
      checks.push({ name: `${phase}: COUNT(qy_seen_message)`, expected: n, actual: seen, ok: seen === n })
    }
    return checks
  }

  let result: RunResult | undefined
  let failure: unknown
  try {
    const t1 = performance.now()
    await runtime.start()
    const startMs = performance.now() - t1
    // Time each part of a flush: every feature's flush() and the dedupe marks (a private field of Runtime).
    const part = (name: string, target: { flush?: () => Promise<void | number> } | undefined): void => {
      const original = target?.flush?.bind(target)
      if (!target || !original) return
      target.flush = async () => {
        const start = performance.now()
        try { return await original() } finally { if (timing) flushParts[name] = (flushParts[name] ?? 0) + performance.now() - start }
      }
    }
    for (const f of runtime.features) part(f.name, f.instance)
    part('dedupe marks', (runtime as unknown as { seen?: { flush?: () => Promise<void> } }).seen)

    // Register every group and its members as the adapter does at login, then warm the rules cache; not
    // timed. SQLite has one connection, so groups sync one at a time; MySQL has a pool, so 8 at once.
    const t2 = performance.now()
    if (spec.mode === 'full') await storeFaqRules(runtime, stream.options.startAt - 120_000)
    const syncAt = stream.options.startAt - 60_000
    let nextGroup = 0
    await Promise.all(Array.from({ length: useServers ? 8 : 1 }, async () => {
      while (nextGroup < stream.groups.length) await runtime.publish(syncedEvent(stream.groups[nextGroup++] as BenchGroup, stream.options.botId, syncAt))
    }))
    await Promise.all(stream.groups.map((g) => runtime.rules.forGroup(g.id)))
    await runtime.flush()
    const registerMs = performance.now() - t2

    // ---- Phase 1: closed loop (throughput, latency, RSS, durability, profile) ----
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const n = stream.messages.length
    const latencies = new Float64Array(n)
    const doneAt = new Float64Array(n)
    const startRss = process.memoryUsage().rss
    let peakRss = startRss
    const sampler = setInterval(() => { const rss = process.memoryUsage().rss; if (rss > peakRss) peakRss = rss }, 50)
    const loop = new LoopMonitor()
    const profiler = spec.profile ? new CpuProfiler() : undefined
    await profiler?.start()
    loop.start()
    timing = true
    const cpuBefore = process.cpuUsage()
    const serversBefore = useServers ? serverCpuMs() : 0
    const begin = process.hrtime.bigint()
    const results = await feedClosed(runtime, stream.messages, spec.concurrency, latencies, doneAt)
    const flushStart = process.hrtime.bigint()
    // The first flush() after the last message, as a caller would do it; then (untimed) what it made durable.
    const joinedBefore = joined
    await runtime.flush()
    const firstFlushEnd = process.hrtime.bigint()
    const joinedInFlight = joined > joinedBefore
    const pause = performance.now()
    const afterFirstFlush = spec.mode === 'full' ? await count('SELECT COUNT(*) AS n FROM qy_message_log') : n
    const pausedMs = performance.now() - pause
    // A second flush(): a fresh write of whatever the first call did not cover, so all counted work is durable.
    const secondStart = process.hrtime.bigint()
    await runtime.flush()
    const end = process.hrtime.bigint()
    timing = false
    const cpuUsed = process.cpuUsage(cpuBefore)
    const serversUsed = useServers ? serverCpuMs() - serversBefore : 0
    const loopFigures = loop.stop()
    const profile = await profiler?.stop()
    clearInterval(sampler)
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
    const closedWrites = writes
    const closedJoined = joined
    const closedParts = Object.fromEntries(Object.entries(flushParts).map(([k, v]) => [k, Math.round(v)]))

    const wallMs = Number(firstFlushEnd - begin) / 1e6 + Number(end - secondStart) / 1e6
    const finalFlushMs = Number(firstFlushEnd - flushStart) / 1e6 + Number(end - secondStart) / 1e6
    // Durability lag (upper bound): from a message's resolution to the end of the first fresh flush that
    // started after it (that flush surely contains it); the counting query in between does not count.
    closedWrites.sort((a, b) => a.start - b.start)
    const lags = new Float64Array(n)
    let maxLag = 0
    for (let i = 0; i < n; i++) {
      const t = doneAt[i] as number
      let lo = 0
      let hi = closedWrites.length
      while (lo < hi) { const mid = (lo + hi) >>> 1; if ((closedWrites[mid] as { start: number }).start >= t) hi = mid; else lo = mid + 1 }
      const w = closedWrites[lo]
      const lag = w ? w.end - t - (w.start > pause ? pausedMs : 0) : 0
      lags[i] = lag
      if (lag > maxLag) maxLag = lag
    }
    lags.sort()
    // Latency of messages in flight while a flush write ran vs the others (writes never overlap each other).
    const during: number[] = []
    const outside: number[] = []
    for (let i = 0; i < n; i++) {
      const endAt = doneAt[i] as number
      const startAt = endAt - (latencies[i] as number)
      let lo = 0
      let hi = closedWrites.length
      while (lo < hi) { const mid = (lo + hi) >>> 1; if ((closedWrites[mid] as { start: number }).start > endAt) hi = mid; else lo = mid + 1 }
      const w = closedWrites[lo - 1]
      ;(w && w.end >= startAt ? during : outside).push(latencies[i] as number)
    }
    const p99Of = (xs: number[]): number => percentile(Float64Array.from(xs).sort(), 99)
    const checks = await verify('closed loop', n, results.processed)

    let profileSummary: ProfileSummary | undefined
    if (profile) {
      mkdirSync(spec.profileDir, { recursive: true })
      const file = resolve(spec.profileDir, `${spec.storage}-${spec.mode}.cpuprofile`)
      writeFileSync(file, JSON.stringify(profile))
      profileSummary = summarize(profile, file)
    }

    // ---- Phase 2: open loop at the offered rate (latency as an arriving message sees it) ----
    let open: OpenLoop | undefined
    let total = n
    const rate = spec.rate < 0 ? Math.max(1, Math.round(0.8 * n / (wallMs / 1000))) : spec.rate
    if (rate > 0) {
      const last = stream.messages[n - 1]
      const second = generateStream({ ...streamOptions, messages: n, seed: DEFAULT_STREAM.seed + 1, startAt: (last?.at ?? DEFAULT_STREAM.startAt) + 1_000 })
      gc?.()
      writes = []
      const openLatencies = new Float64Array(n)
      const openLoop = new LoopMonitor()
      openLoop.start()
      timing = true
      const fed = await feedOpen(runtime, second.messages, rate, openLatencies)
      timing = false
      const openLoopFigures = openLoop.stop()
      await runtime.flush()
      await runtime.flush()
      total += n
      checks.push(...await verify('after open loop', total, results.processed + fed.results.processed))
      open = {
        rate, messages: n, lateSends: fed.late, lateMaxMs: round(fed.lateMaxMs, 1), achievedPerSec: Math.round(n / (fed.ms / 1000)), ...distribution(openLatencies),
        eventLoop: openLoopFigures,
        flushes: { count: writes.length, maxMs: round(Math.max(0, ...writes.map((w) => w.end - w.start)), 1) },
      }
    }

    // What moderation and auto-reply did (untimed): violations by detector, actions queued.
    const effects = { moderationByDetector: {} as Record<string, number>, outbound: 0 }
    if (spec.mode === 'full') {
      await runtime.flush()
      const rows: Array<{ detector: string; n: number | string }> = await runtime.db.query('SELECT detector, COUNT(*) AS n FROM qy_moderation_event GROUP BY detector')
      for (const r of rows) effects.moderationByDetector[r.detector] = Number(r.n)
      // Replies and removals are stored in the background; give the saves a moment (the bot has no channel here).
      for (let i = 0; i < 20 && runtime.outbound.active > 0; i++) await new Promise((r) => setTimeout(r, 100))
      effects.outbound = await count('SELECT COUNT(*) AS n FROM qy_outbound')
    }
    result = {
      storage: spec.storage, mode: spec.mode, profiled: spec.profile, logger: spec.logger, features: runtime.features.map((f) => f.name), messages: n, concurrency: spec.concurrency,
      wallMs: round(wallMs, 1), msgsPerSec: Math.round(n / (wallMs / 1000)), ...distribution(latencies),
      peakRssMb: mb(peakRss), startRssMb: mb(startRss), finalFlushMs: round(finalFlushMs, 1),
      eventLoop: loopFigures,
      cpu: {
        processMs: Math.round((cpuUsed.user + cpuUsed.system) / 1000),
        processUsPerMsg: round((cpuUsed.user + cpuUsed.system) / n, 1),
        // The pause for the counting query is inside the CPU window but not in wallMs; it is tiny.
        processSharePct: Math.round(((cpuUsed.user + cpuUsed.system) / 1000 / wallMs) * 100),
        serversMs: serversUsed, serversUsPerMsg: round((serversUsed * 1000) / n, 1),
      },
      flushes: {
        count: closedWrites.length, joined: closedJoined, intervalMs,
        maxMs: round(Math.max(0, ...closedWrites.map((w) => w.end - w.start)), 1),
        totalMs: round(closedWrites.reduce((a, w) => a + w.end - w.start, 0), 1),
        byPartMs: closedParts,
      },
      latencyVsFlush: { duringCount: during.length, duringP99Ms: round(p99Of(during)), outsideCount: outside.length, outsideP99Ms: round(p99Of(outside)) },
      durability: {
        lagP50Ms: round(percentile(lags, 50), 1), lagP99Ms: round(percentile(lags, 99), 1), lagMaxMs: round(maxLag, 1),
        finalFlushJoinedInFlight: joinedInFlight, loggedAfterFirstFlush: afterFirstFlush,
      },
      open, results, checks,
      setup: { generateMs: Math.round(generateMs), startMs: Math.round(startMs), registerMs: Math.round(registerMs) },
      stream: { groups: stream.groups.length, membersPerGroup: stream.options.membersPerGroup, types: stream.types, topGroupShare: round(stream.topGroupShare), textChars, violating: stream.violating, faq: stream.faq, shape: stream.options.shape, days: stream.options.days, speakerSkew: stream.options.speakerSkew, checkIns: stream.checkIns, commands: stream.commands, firstOfDay: stream.firstOfDay, spanMs: stream.spanMs },
      effects,
      profile: profileSummary,
    }
  } catch (error) {
    failure = error
  } finally {
    await runtime.stop().catch((error: unknown) => { failure ??= error })
    if (useServers && spec.redisUrl) {
      const deleted = await deleteRedisKeysWithPrefix({ url: spec.redisUrl, keyPrefix }).catch((error: unknown) => { failure ??= error; return -1 })
      // Every message left one dedupe mark in Redis (SET NX PX): the shared dedupe's durable state.
      const expected = (result?.messages ?? 0) + (result?.open?.messages ?? 0)
      // The full pipeline also keeps moderation's flood and duplicate counters under the prefix: at least one key per message then.
      if (result) result.checks.push(spec.mode === 'full'
        ? { name: 'Redis keys: dedupe marks + moderation counters (deleted after the run) ≥ messages', expected, actual: deleted, ok: deleted >= expected }
        : { name: 'Redis dedupe keys (deleted after the run)', expected, actual: deleted, ok: deleted === expected })
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
