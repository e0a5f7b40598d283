/**
 * Replicas mode of the pipeline benchmark: the same stream through 1, 2 and 3 runtimes, each in its own
 * process, on one MySQL database and one Redis key prefix (as several qunyun replicas run in production).
 *
 *   npm run bench:pipeline -- --replicas 1,2,3 [--messages N] [--concurrency N] [--groups N] [--members N] [--bots N] [--redeliver X]
 *
 * The stream's groups are spread over `--bots` bot accounts (group i → bot i mod bots); each bot is run by
 * exactly one replica (bot j → replica j mod R — the outcome of the bot leases, fixed here so every run
 * splits the work the same way), and a message goes to the replica running its bot, as WeCom delivers it
 * to the logged-in account. A share `--redeliver` of the messages is delivered a second time later in the
 * stream (WeCom's redelivery), to the same replica, so the shared dedupe is on the path.
 *
 * Every replica first runs the first 10 % of its share untimed (warm-up), then a closed loop over the rest (`--concurrency` in flight per replica); they start
 * together. Figures per replica count: msg/s over the wall time (first submit → last flush of any
 * replica) of the timed messages (copies included), CPU-µs per message summed over the replica processes, CPU-µs per message of the MySQL and
 * Redis servers, the same net of what each process burns idle (measured over 3 s before the run), p50/p99 latency over all messages, MySQL statements and Redis round trips per message
 * (counted in each replica's clients), and the duplicates / losses check: every unique message processed
 * exactly once, every redelivered copy reported as a duplicate, SUM(qy_activity_daily.messages) and
 * COUNT(qy_message_log) (keyed by message id) equal to the unique messages. Ends with one line `BENCH {json}`; exits 1 when a
 * check fails.
 */
import { fork } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createConnection } from 'mysql2/promise'
import { loadConfig } from '../../src/config/load'
import type { IncomingMessage } from '../../src/kernel/context'
import type { ProcessResult } from '../../src/kernel/processor'
import { silentLogger } from '../../src/kernel/logger'
import { seededRandom } from '../../src/ports/random'
import { systemClock } from '../../src/ports/clock'
import { deleteRedisKeysWithPrefix } from '../../src/adapters/redis/redis-ports'
import { Runtime } from '../../src/main'
import { advertTerms, storeFaqRules, useBenchPack } from './product'
import { DEFAULT_DB_URL, DEFAULT_REDIS_URL, recreateDatabase } from './storage'
import { DEFAULT_STREAM, generateStream, syncedEvent, type BenchGroup } from './stream'
import { serverCpuMs } from './worker'

/** What every replica process of one run is told. */
interface ReplicaSpec {
  index: number
  replicas: number
  messages: number
  concurrency: number
  groups: number
  members: number
  bots: number
  redeliver: number
  dbUrl: string
  redisUrl: string
  keyPrefix: string
  /** The first replica stores the shared FAQ rules (the database is shared). */
  seed: boolean
}

/** What a replica reports after its share went through and was flushed. */
interface ReplicaResult {
  index: number
  messages: number
  copies: number
  /** CPU of this process while idle (ms per second), measured before the timed phase. */
  idleCpuMsPerSec: number
  /** Messages and copies of the timed phase (after the warm-up). */
  timed: number
  startedAt: number
  endedAt: number
  cpuMs: number
  results: Record<ProcessResult, number>
  latencies: number[]
  mysqlStatements: number
  redisCommands: number
  redisRoundTrips: number
}

const botOf = (groupIndex: number, bots: number): string => `bench-b${groupIndex % bots}`
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits

/**
 * Counts MySQL statements (mysql2's query/execute) and Redis commands / round trips (ioredis: a pipeline
 * or multi is one round trip for all its commands) made by this process.
 */
function countClientCalls(): { mysql: () => number; redis: () => { commands: number; roundTrips: number } } {
  let mysql = 0
  let commands = 0
  let pipelined = 0
  let pipelines = 0
  // Patched prototypes of the client libraries (bench-only instrumentation), hence the loose types.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  const Base: any = require(join(dirname(require.resolve('mysql2')), 'lib', 'base', 'connection.js'))
  for (const name of ['query', 'execute']) {
    const original = Base.prototype[name]
    Base.prototype[name] = function (this: unknown, ...args: unknown[]) { mysql++; return original.apply(this, args) }
  }
  const Redis: any = require('ioredis').default
  const send = Redis.prototype.sendCommand
  Redis.prototype.sendCommand = function (this: unknown, ...args: unknown[]) { commands++; return send.apply(this, args) }
  const Pipeline: any = require(join(dirname(require.resolve('ioredis')), 'Pipeline.js')).default
  const exec = Pipeline.prototype.exec
  Pipeline.prototype.exec = function (this: { _queue?: unknown[] }, ...args: unknown[]) { pipelines++; pipelined += this._queue?.length ?? 0; return exec.apply(this, args) }
  /* eslint-enable @typescript-eslint/no-explicit-any */
  return { mysql: () => mysql, redis: () => ({ commands, roundTrips: commands - pipelined + pipelines }) }
}

/** One replica process: its share of the stream through a full runtime on the shared MySQL + Redis. */
async function replicaMain(spec: ReplicaSpec): Promise<void> {
  const counters = countClientCalls()
  const stream = generateStream({ ...DEFAULT_STREAM, messages: spec.messages, groups: spec.groups, membersPerGroup: spec.members, violationTerms: advertTerms(resolve(__dirname, '..', '..', 'rules')) })
  const groupIndex = new Map(stream.groups.map((g, i) => [g.id, i]))
  const replicaOf = (groupId: string): number => ((groupIndex.get(groupId) ?? 0) % spec.bots) % spec.replicas
  const mine: IncomingMessage[] = []
  for (const m of stream.messages) {
    if (replicaOf(m.groupId) !== spec.index) continue
    mine.push({ ...m, botId: botOf(groupIndex.get(m.groupId) ?? 0, spec.bots) })
  }
  // Redelivered copies: the same message again, 50–500 positions later in this replica's share.
  const random = seededRandom(11 + spec.index)
  const feed: IncomingMessage[] = [...mine]
  let copies = 0
  for (let i = mine.length - 1; i >= 0; i--) {
    if (random.next() >= spec.redeliver) continue
    feed.splice(Math.min(feed.length, i + 1 + random.int(50, 500)), 0, mine[i] as IncomingMessage)
    copies++
  }
  let simNow = stream.options.startAt - 120_000
  const tmp = mkdtempSync(join(tmpdir(), 'qunyun-bench-replica-'))
  const config = loadConfig({
    overrides: {
      dataDir: tmp, log: { level: 'info' }, simulation: { mode: 'off' },
      database: { url: spec.dbUrl }, redis: { url: spec.redisUrl, keyPrefix: spec.keyPrefix },
      replicas: { id: `bench-r${spec.index}` },
    },
  })
  const runtime = new Runtime(config, {
    log: silentLogger, clock: { now: (): number => simNow, sleep: systemClock.sleep }, random: seededRandom(7 + spec.index),
    bots: [], http: false, scheduler: false, simulation: false,
  })
  for (let b = 0; b < spec.bots; b++) if (b % spec.replicas === spec.index) useBenchPack(runtime, `bench-b${b}`)
  try {
    await runtime.start()
    if (spec.seed) await storeFaqRules(runtime, stream.options.startAt - 120_000)
    const groups = stream.groups.filter((g) => replicaOf(g.id) === spec.index)
    let next = 0
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < groups.length) {
        const g = groups[next++] as BenchGroup
        await runtime.publish(syncedEvent(g, botOf(groupIndex.get(g.id) ?? 0, spec.bots), stream.options.startAt - 60_000))
      }
    }))
    process.send?.({ type: 'started' })
    // The rules of every group are read once the seeding replica stored the FAQ rules (told by the parent).
    await new Promise<void>((r) => process.once('message', () => r()))
    await Promise.all(groups.map((g) => runtime.rules.forGroup(g.id)))
    // Warm-up (untimed, but counted by the checks): the first 10 % of the share, so the JIT and the
    // per-group caches are warm in every process, however small its share.
    const warm = feed.splice(0, Math.floor(feed.length / 10))
    const warmResults = await Promise.all(warm.map((m) => { if (m.at > simNow) simNow = m.at; return runtime.submit(m) }))
    await runtime.flush()
    // What the process spends with nothing to do (lease renewals, claim and queue polling, dedupe
    // keep-alives, the database probe, flush timers): CPU over 3 s idle.
    const idleBefore = process.cpuUsage()
    const idleStart = performance.now()
    await new Promise((r) => setTimeout(r, 3_000))
    const idleUsed = process.cpuUsage(idleBefore)
    const idleCpuMsPerSec = (idleUsed.user + idleUsed.system) / (performance.now() - idleStart)
    process.send?.({ type: 'ready' })
    await new Promise<void>((r) => process.once('message', () => r()))

    const results: Record<ProcessResult, number> = { processed: 0, duplicate: 0, failed: 0, shed: 0 }
    const latencies: number[] = new Array<number>(feed.length)
    const mysqlBefore = counters.mysql()
    const redisBefore = counters.redis()
    const cpuBefore = process.cpuUsage()
    const startedAt = Date.now()
    await new Promise<void>((resolveAll, reject) => {
      let sent = 0
      let done = 0
      let inFlight = 0
      let scheduled = false
      const pump = (): void => {
        scheduled = false
        while (inFlight < spec.concurrency && sent < feed.length) {
          const i = sent++
          const message = feed[i] as IncomingMessage
          if (message.at > simNow) simNow = message.at
          inFlight++
          const t0 = performance.now()
          runtime.submit(message).then((result) => {
            latencies[i] = performance.now() - t0
            results[result]++
            inFlight--
            if (++done === feed.length) resolveAll()
            else if (!scheduled && sent < feed.length) { scheduled = true; setImmediate(pump) }
          }, reject)
        }
      }
      if (feed.length === 0) resolveAll()
      else pump()
    })
    await runtime.flush()
    await runtime.flush()
    const endedAt = Date.now()
    for (const r of warmResults) results[r]++
    const cpu = process.cpuUsage(cpuBefore)
    const redis = counters.redis()
    const result: ReplicaResult = {
      index: spec.index, messages: mine.length, copies, timed: feed.length, idleCpuMsPerSec, startedAt, endedAt, cpuMs: (cpu.user + cpu.system) / 1000, results, latencies,
      mysqlStatements: counters.mysql() - mysqlBefore, redisCommands: redis.commands - redisBefore.commands, redisRoundTrips: redis.roundTrips - redisBefore.roundTrips,
    }
    process.send?.({ type: 'result', result })
    await new Promise<void>((r) => process.once('message', () => r()))
  } finally {
    await runtime.stop().catch(() => undefined)
    rmSync(tmp, { recursive: true, force: true })
  }
}

interface ReplicasArgs { counts: number[]; messages: number; concurrency: number; groups: number; members: number; bots: number; redeliver: number }

function parse(argv: string[]): ReplicasArgs {
  const args: ReplicasArgs = { counts: [1, 2, 3], messages: 30_000, concurrency: 64, groups: 300, members: 50, bots: 6, redeliver: 0.05 }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const int = (): number => {
      const v = Number(argv[++i])
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`)
      return v
    }
    if (a === '--replicas') {
      args.counts = (argv[++i] ?? '').split(',').map(Number)
      if (args.counts.length === 0 || args.counts.some((n) => !Number.isInteger(n) || n < 1 || n > 8)) throw new Error('--replicas takes a list of counts 1–8, e.g. 1,2,3')
    } else if (a === '--messages') args.messages = int()
    else if (a === '--concurrency') args.concurrency = int()
    else if (a === '--groups') args.groups = int()
    else if (a === '--members') args.members = int()
    else if (a === '--bots') args.bots = int()
    else if (a === '--redeliver') {
      args.redeliver = Number(argv[++i])
      if (!(args.redeliver >= 0 && args.redeliver <= 1)) throw new Error('--redeliver needs a share between 0 and 1')
    } else throw new Error(`unknown option of the replicas mode: ${a}`)
  }
  if (Math.max(...args.counts) > args.bots) throw new Error('--bots must be at least the largest replica count (a replica without a bot has nothing to do)')
  return args
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

type FromReplica = { type: 'started' } | { type: 'ready' } | { type: 'result'; result: ReplicaResult }

/** One run: R replica processes on a freshly created database and a fresh Redis prefix. */
async function runReplicas(r: number, args: ReplicasArgs, dbUrl: string, redisUrl: string): Promise<Record<string, unknown>> {
  await recreateDatabase(dbUrl)
  const keyPrefix = `qunyun-bench-replicas:${process.pid}:${r}:${Date.now().toString(36)}:`
  const children = Array.from({ length: r }, (_, index) => {
    const spec: ReplicaSpec = { index, replicas: r, messages: args.messages, concurrency: args.concurrency, groups: args.groups, members: args.members, bots: args.bots, redeliver: args.redeliver, dbUrl, redisUrl, keyPrefix, seed: index === 0 }
    return { spec, child: undefined as ReturnType<typeof fork> | undefined, inbox: [] as FromReplica[], waiters: [] as Array<(m: FromReplica) => void> }
  })
  const next = (c: typeof children[number]): Promise<FromReplica> => {
    const m = c.inbox.shift()
    return m ? Promise.resolve(m) : new Promise((res) => c.waiters.push(res))
  }
  try {
    // Started one after the other: the first one migrates the new database.
    for (const c of children) {
      const child = fork(__filename, ['--replica', JSON.stringify(c.spec)], { execArgv: ['-r', 'ts-node/register/transpile-only'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      c.child = child
      child.on('message', (m: FromReplica) => { const w = c.waiters.shift(); if (w) w(m); else c.inbox.push(m) })
      child.on('exit', (code) => { if (code !== 0) { const w = c.waiters.shift(); w?.({ type: 'result', result: undefined as unknown as ReplicaResult }) } })
      const m = await next(c)
      if (m.type !== 'started') throw new Error(`replica ${c.spec.index} failed to start`)
    }
    for (const c of children) c.child?.send('rules')
    for (const c of children) if ((await next(c)).type !== 'ready') throw new Error(`replica ${c.spec.index} failed while loading rules`)
    const serversBefore = serverCpuMs()
    for (const c of children) c.child?.send('go')
    const results: ReplicaResult[] = []
    for (const c of children) {
      const m = await next(c)
      if (m.type !== 'result' || !m.result) throw new Error(`replica ${c.spec.index} failed during the run`)
      results.push(m.result)
    }
    const serversMs = serverCpuMs() - serversBefore
    const url = new URL(dbUrl)
    const db = await createConnection({ uri: url.toString() })
    const scalar = async (sql: string): Promise<number> => Number(Object.values(((await db.query(sql))[0] as Array<Record<string, unknown>>)[0] ?? {})[0] ?? 0)
    const daily = await scalar('SELECT COALESCE(SUM(messages), 0) FROM qy_activity_daily')
    const logged = await scalar('SELECT COUNT(*) FROM qy_message_log')
    await db.end()
    for (const c of children) c.child?.send('exit')
    const unique = results.reduce((n, x) => n + x.messages, 0)
    const copies = results.reduce((n, x) => n + x.copies, 0)
    const sum = (k: ProcessResult): number => results.reduce((n, x) => n + x.results[k], 0)
    const timed = results.reduce((n, x) => n + x.timed, 0)
    const wallMs = Math.max(...results.map((x) => x.endedAt)) - Math.min(...results.map((x) => x.startedAt))
    const cpuMs = results.reduce((n, x) => n + x.cpuMs, 0)
    const latencies = results.flatMap((x) => x.latencies).sort((a, b) => a - b)
    const checks = [
      { name: 'processed = unique messages', expected: unique, actual: sum('processed') },
      { name: 'duplicates reported = redelivered copies', expected: copies, actual: sum('duplicate') },
      { name: 'failed + shed', expected: 0, actual: sum('failed') + sum('shed') },
      { name: 'SUM(qy_activity_daily.messages)', expected: unique, actual: daily },
      { name: 'COUNT(qy_message_log)', expected: unique, actual: logged },
    ].map((c) => ({ ...c, ok: c.expected === c.actual }))
    return {
      replicas: r, messages: unique, copies, timed, wallMs, msgsPerSec: Math.round(timed / (wallMs / 1000)),
      cpuUsPerMsg: round((cpuMs * 1000) / timed), perReplicaCpuUsPerMsg: results.map((x) => round((x.cpuMs * 1000) / Math.max(1, x.timed))),
      // The same without what the processes spend idle over the wall time (per-process background work).
      idleCpuMsPerSecPerReplica: results.map((x) => round(x.idleCpuMsPerSec, 2)),
      cpuUsPerMsgNetOfIdle: round(((cpuMs - results.reduce((n, x) => n + x.idleCpuMsPerSec, 0) * wallMs / 1000) * 1000) / timed),
      cpuSharePct: Math.round((cpuMs / wallMs) * 100), serversCpuUsPerMsg: round((serversMs * 1000) / timed),
      p50Ms: round(percentile(latencies, 50), 2), p99Ms: round(percentile(latencies, 99), 2),
      mysqlStatementsPerMsg: round(results.reduce((n, x) => n + x.mysqlStatements, 0) / timed, 3),
      redisCommandsPerMsg: round(results.reduce((n, x) => n + x.redisCommands, 0) / timed, 2),
      redisRoundTripsPerMsg: round(results.reduce((n, x) => n + x.redisRoundTrips, 0) / timed, 2),
      // The log is keyed by message id (a second write of one message would not show there); the counters would.
      duplicates: Math.max(0, daily - unique), lost: Math.max(0, unique - logged),
      checks,
    }
  } finally {
    for (const c of children) if (c.child && c.child.exitCode === null) await new Promise<void>((res) => { c.child?.once('exit', () => res()); setTimeout(() => { c.child?.kill('SIGKILL'); res() }, 30_000).unref() })
    await deleteRedisKeysWithPrefix({ url: redisUrl, keyPrefix }).catch(() => 0)
  }
}

/** The replicas mode (run.ts dispatches `--replicas` here). */
export async function replicasBench(argv: string[]): Promise<void> {
  const args = parse(argv)
  const dbUrl = process.env.QUNYUN_DB_URL ? withBenchName(process.env.QUNYUN_DB_URL) : DEFAULT_DB_URL
  const redisUrl = process.env.QUNYUN_REDIS_URL ?? DEFAULT_REDIS_URL
  const load = loadavg().map((x) => round(x, 2))
  console.log(`pipeline, replicas mode: ${args.messages} messages (+${Math.round(args.redeliver * 100)} % redelivered) over ${args.groups} groups × ${args.members} members, ${args.bots} bots, ${args.concurrency} in flight per replica; ${availableParallelism()} cores, load ${load.join(' ')}`)
  const rows: Array<Record<string, unknown>> = []
  for (const r of args.counts) {
    const row = await runReplicas(r, args, dbUrl, redisUrl)
    rows.push(row)
    console.log(`  ${r} replica${r > 1 ? 's' : ' '}: ${row.msgsPerSec} msg/s, ${row.cpuUsPerMsg} CPU-µs/msg over the replicas (${String(row.perReplicaCpuUsPerMsg)} each; ${row.cpuUsPerMsgNetOfIdle} net of idle, idle ${String(row.idleCpuMsPerSecPerReplica)} CPU-ms/s each), servers ${row.serversCpuUsPerMsg} CPU-µs/msg, CPU share ${row.cpuSharePct} %, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, MySQL ${row.mysqlStatementsPerMsg} statements/msg, Redis ${row.redisRoundTripsPerMsg} round trips/msg (${row.redisCommandsPerMsg} commands), duplicates ${row.duplicates}, lost ${row.lost}`)
    for (const c of row.checks as Array<{ name: string; expected: number; actual: number; ok: boolean }>) if (!c.ok) console.log(`    CHECK FAILED ${c.name}: expected ${c.expected}, got ${c.actual}`)
  }
  const base = rows[0] as { msgsPerSec: number; cpuUsPerMsg: number }
  const bench = {
    benchmark: 'pipeline-replicas', storage: 'mysql-redis', cores: availableParallelism(), loadAvg1m: load[0], loadAvg1mEnd: round(loadavg()[0] ?? 0, 2),
    messages: args.messages, redeliver: args.redeliver, groups: args.groups, members: args.members, bots: args.bots, concurrencyPerReplica: args.concurrency,
    runs: rows.map(({ checks, ...row }) => ({ ...row, checksOk: (checks as Array<{ ok: boolean }>).every((c) => c.ok), speedup: round((row.msgsPerSec as number) / base.msgsPerSec, 2), cpuRatio: round((row.cpuUsPerMsg as number) / base.cpuUsPerMsg, 2) })),
  }
  console.log(`BENCH ${JSON.stringify(bench)}`)
  if (rows.some((row) => !(row.checks as Array<{ ok: boolean }>).every((c) => c.ok))) process.exitCode = 1
}

/** The benchmark's own database next to the one QUNYUN_DB_URL names (it is dropped and recreated). */
function withBenchName(url: string): string {
  const u = new URL(url)
  u.pathname = '/qunyun_bench_replicas'
  return u.toString()
}

if (require.main === module) {
  if (process.argv[2] === '--replica') {
    replicaMain(JSON.parse(process.argv[3] ?? '{}') as ReplicaSpec).then(() => process.exit(0), (error: unknown) => {
      process.stderr.write(`bench replica failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
      process.exit(1)
    })
  } else {
    replicasBench(process.argv.slice(2)).catch((error: unknown) => {
      console.error(error instanceof Error ? error.stack ?? error.message : String(error))
      process.exit(1)
    })
  }
}
