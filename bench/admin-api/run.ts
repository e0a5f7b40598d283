/**
 * Admin API benchmark (see README.md): a bare Koa 3 hello-world vs GET /api/v1/groups/:id of the real
 * Runtime (request id, security headers, per-IP and per-token rate limits, bearer auth, role and group
 * scope checks, zod validation, cached group detail with 7-day activity), side by side in one command.
 *
 *   npm run bench:admin-api
 *   npm run bench:admin-api -- --redis-mysql   # also the real route on MySQL + Redis
 *   npm run bench:admin-api -- --breakdown     # also: plain Koa sending the real route's response; the real stack's GET /healthz
 *   npm run bench:admin-api -- --what-if       # also: the real route with candidate fixes, measured the same way
 *                                                # (on the embedded target; with --redis-mysql on the MySQL + Redis one)
 *   npm run bench:admin-api -- --profile       # CPU profiles of bare and real (taken anyway when below goal)
 *   options: --duration N (10 s measured)  --warmup N (3 s)  --connections N (50)  --rounds N (2)
 *            --messages N (3000 seeded)  --quiet-wait N (0: before each measured run wait up to N s for other
 *            processes to use < 0.3 cores; for shared machines)  --no-profile
 *
 * Each server runs in its own child process; autocannon runs in this one (all on 127.0.0.1, bounded in
 * time). Targets run in alternating order round by round; each is reported by its best round (highest
 * requests/s). Ends with one line `BENCH {json}`; exits 1 when a request was not answered 2xx.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { resolve } from 'node:path'
import autocannon from 'autocannon'
import Redis from 'ioredis'
import type { ProfileEntry, ProfileSummary } from './profile'
import type { Answer, Command, Ready, Replay, TargetKind, Window } from './server'
import { WHAT_IFS, type Variant } from './variants'

/** The issue's goal: the real route at ≥ 50% of bare Koa's throughput. */
const GOAL_RATIO = 0.5
const DEFAULT_DB_URL = 'mysql://root@127.0.0.1:3306/qunyun_bench_api'
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0'

interface Args {
  duration: number
  warmup: number
  connections: number
  rounds: number
  messages: number
  redisMysql: boolean
  breakdown: boolean
  whatIf: boolean
  /** Seconds to wait at most, before each measured run, for the rest of the machine to go quiet (0 = don't). */
  quietWait: number
  profile: 'on' | 'off' | 'auto'
}

function parseArgs(argv: string[]): Args {
  const args: Args = { duration: 10, warmup: 3, connections: 50, rounds: 2, messages: 3000, redisMysql: false, breakdown: false, whatIf: false, quietWait: 0, profile: 'auto' }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const int = (min: number): number => {
      const v = Number(argv[++i])
      if (!Number.isInteger(v) || v < min) throw new Error(`${a} needs an integer ≥ ${min}`)
      return v
    }
    if (a === '--duration') args.duration = int(1)
    else if (a === '--warmup') args.warmup = int(0)
    else if (a === '--connections') args.connections = int(1)
    else if (a === '--rounds') args.rounds = int(1)
    else if (a === '--messages') args.messages = int(1)
    else if (a === '--redis-mysql' || a === '--mysql-redis') args.redisMysql = true
    else if (a === '--breakdown') args.breakdown = true
    else if (a === '--what-if') args.whatIf = true
    else if (a === '--quiet-wait') args.quietWait = int(0)
    else if (a === '--profile') args.profile = 'on'
    else if (a === '--no-profile') args.profile = 'off'
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench/admin-api/run.ts [--duration N] [--warmup N] [--connections N] [--rounds N] [--messages N] [--redis-mysql] [--breakdown] [--what-if] [--quiet-wait N] [--profile | --no-profile]')
      process.exit(0)
    } else throw new Error(`unknown option ${a}`)
  }
  return args
}

/** A server child process and its command channel. */
class Server {
  private seq = 0
  private readonly pending = new Map<number, (a: Answer) => void>()
  ready!: Ready
  private constructor(readonly kind: TargetKind, readonly label: string, private readonly child: ChildProcess) {}

  static start(kind: TargetKind, label: string, messages: number, seedNow: number, variant: Variant | undefined, env: NodeJS.ProcessEnv): Promise<Server> {
    const child = fork(resolve(__dirname, 'server.ts'), [kind, String(messages), String(seedNow), variant ?? ''], {
      cwd: resolve(__dirname, '../..'),
      // A small transpile-on-require hook instead of ts-node, which would load node:domain into the server (see register.js).
      execArgv: ['--enable-source-maps', '-r', resolve(__dirname, 'register.js')],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const server = new Server(kind, label, child)
    return new Promise((resolveStart, reject) => {
      child.on('message', (m: Ready | Answer | { type: 'failed'; error: string }) => {
        if (m.type === 'ready') { server.ready = m; resolveStart(server) }
        else if (m.type === 'failed') reject(new Error(`${label} did not start:\n${m.error}`))
        else server.pending.get(m.id)?.(m)
      })
      child.on('exit', (code) => {
        reject(new Error(`${label} exited (code ${code})`))
        for (const done of server.pending.values()) done({ type: 'answer', id: -1, ok: false, error: `${label} exited (code ${code})` })
      })
    })
  }

  async command<T>(cmd: Command['cmd'], replay?: Replay): Promise<T> {
    const id = ++this.seq
    const answer = await new Promise<Answer>((done) => {
      this.pending.set(id, done)
      this.child.send((cmd === 'replay' ? { id, cmd, replay: replay as Replay } : { id, cmd }) satisfies Command)
    })
    this.pending.delete(id)
    if (!answer.ok) throw new Error(`${this.label}: ${cmd} failed: ${answer.error}`)
    return answer.result as T
  }

  /** Stops the server (which drops what it created) and waits for the process to end. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return
    const exited = new Promise<void>((done) => this.child.once('exit', () => done()))
    await this.command('stop').catch(() => undefined)
    await Promise.race([exited, new Promise((done) => setTimeout(done, 15_000).unref())])
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

/** One URL under load, served by one server process. */
interface Endpoint {
  /** bare, real, realMysqlRedis, replay, healthz, whatIf… */
  key: string
  label: string
  server: Server
  url: string
  headers: Record<string, string>
}

/** Figures of one autocannon run. */
interface RunFigures {
  key: Endpoint['key']
  label: string
  round: number
  /** autocannon's requests/s (mean of its 1-s samples). */
  reqPerSec: number
  total: number
  durationS: number
  /** Latency of every response, from autocannon's 'response' event (sub-ms resolution). */
  p50Ms: number
  p90Ms: number
  p99Ms: number
  maxMs: number
  /** autocannon's own p99 (whole milliseconds). */
  autocannonP99Ms: number
  errors: number
  timeouts: number
  non2xx: number
  statuses: Record<string, number>
  bytesPerResponse: number
  /** The server process over the measured run. */
  server: Window & { cpuUsPerRequest: number }
  /** This process (autocannon) over the measured run, in cores. */
  loadGeneratorCores: number
  /** Everything else on the machine over the run, in cores (busy time from /proc/stat minus both of ours; includes MariaDB and Redis). */
  otherCores: number | null
  /** What the Redis server processed during the run (all clients; MySQL + Redis target only): commands, and
   *  scripts (EVAL/EVALSHA calls = round trips of the rate limiter; the commands inside them count as commands too). */
  redisCommands: number | null
  redisScripts: number | null
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}

const round2 = (n: number): number => Math.round(n * 100) / 100

/** Busy CPU time of the whole machine so far (ms), from /proc/stat; null where there is none. */
function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number) as number[]
    // USER_HZ is 100 on Linux: one tick = 10 ms.
    return ((user as number) + (nice as number) + (system as number) + (irq as number) + (softirq as number) + (steal as number)) * 10
  } catch {
    return null
  }
}

/** CPU the machine spends while we send no load, in cores (sampled over `ms`); null where /proc/stat is missing. */
async function idleLoad(ms = 1000): Promise<number | null> {
  const a = machineBusyMs()
  await new Promise((done) => setTimeout(done, ms))
  const b = machineBusyMs()
  return a === null || b === null ? null : (b - a) / ms
}

/** Waits (at most `maxS` seconds) until other processes use under 0.3 cores; returns how long it waited and the last level. */
async function waitQuiet(maxS: number): Promise<{ waitedS: number; load: number | null }> {
  const started = Date.now()
  let load = await idleLoad()
  while (load !== null && load > 0.3 && Date.now() - started < maxS * 1000) load = await idleLoad()
  return { waitedS: Math.round((Date.now() - started) / 100) / 10, load }
}

/** One autocannon run; records each response's latency and status. */
async function cannon(endpoint: Endpoint, durationS: number, connections: number): Promise<{ result: autocannon.Result; latencies: Float64Array; statuses: Record<string, number> }> {
  let latencies = new Float64Array(1 << 17)
  let n = 0
  const statuses: Record<string, number> = {}
  const result = await new Promise<autocannon.Result>((resolveRun, reject) => {
    const instance = autocannon({ url: endpoint.url, connections, pipelining: 1, duration: durationS, headers: endpoint.headers, timeout: 10 },
      (error: unknown, r: autocannon.Result) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolveRun(r)))
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (n === latencies.length) { const grown = new Float64Array(latencies.length * 2); grown.set(latencies); latencies = grown }
      latencies[n++] = responseTime
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1
    })
  })
  return { result, latencies: latencies.slice(0, n).sort(), statuses }
}

/** Commands and script calls processed so far by the Redis server (INFO stats, INFO commandstats). */
async function redisCommandsProcessed(redis: Redis): Promise<{ commands: number; scripts: number }> {
  const stats = await redis.info('stats')
  const commandstats = await redis.info('commandstats')
  const calls = (cmd: string): number => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(commandstats)?.[1] ?? 0)
  return { commands: Number(/total_commands_processed:(\d+)/.exec(stats)?.[1] ?? NaN), scripts: calls('evalsha') + calls('eval') }
}

async function measure(endpoint: Endpoint, round: number, args: Args, profile?: (s: ProfileSummary) => void, redis?: Redis): Promise<RunFigures> {
  const redis0 = redis ? await redisCommandsProcessed(redis) : null
  await endpoint.server.command('window-start')
  if (profile) await endpoint.server.command('profile-start')
  const cpu0 = process.cpuUsage()
  const busy0 = machineBusyMs()
  const { result, latencies, statuses } = await cannon(endpoint, args.duration, args.connections)
  const busy1 = machineBusyMs()
  const cpu = process.cpuUsage(cpu0)
  if (profile) profile(await endpoint.server.command<ProfileSummary>('profile-stop'))
  const server = await endpoint.server.command<Window>('window-end')
  const redis1 = redis ? await redisCommandsProcessed(redis) : null
  const wallMs = result.duration * 1000
  const ownMs = (cpu.user + cpu.system) / 1000
  return {
    key: endpoint.key, label: endpoint.label, round,
    reqPerSec: result.requests.mean, total: result.requests.total, durationS: result.duration,
    p50Ms: round2(percentile(latencies, 50)), p90Ms: round2(percentile(latencies, 90)), p99Ms: round2(percentile(latencies, 99)),
    maxMs: round2(latencies[latencies.length - 1] ?? 0), autocannonP99Ms: result.latency.p99,
    errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, statuses,
    bytesPerResponse: result.requests.total > 0 ? Math.round(result.throughput.total / result.requests.total) : 0,
    server: { ...server, cpuUsPerRequest: result.requests.total > 0 ? Math.round((server.cpuMs * 1000) / result.requests.total) : 0 },
    loadGeneratorCores: round2(ownMs / wallMs),
    otherCores: busy0 !== null && busy1 !== null ? round2(Math.max(0, busy1 - busy0 - ownMs - server.cpuMs) / wallMs) : null,
    redisCommands: redis0 && redis1 ? redis1.commands - redis0.commands : null,
    redisScripts: redis0 && redis1 ? redis1.scripts - redis0.scripts : null,
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')

function table(rows: RunFigures[]): string {
  const head = ['target', 'req/s (mean)', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'bytes/resp', 'server CPU µs/req', 'server ELU', 'loop block max ms', 'SQL stmts', 'autocannon cores', 'other cores']
  const cells = rows.map((r) => [
    r.label, fmt(r.reqPerSec), r.p50Ms.toFixed(2), r.p90Ms.toFixed(2), r.p99Ms.toFixed(2), r.maxMs.toFixed(1), String(r.errors + r.timeouts), String(r.non2xx),
    String(r.bytesPerResponse), String(r.server.cpuUsPerRequest), `${(r.server.eventLoopUtilization * 100).toFixed(0)}%`,
    r.server.loopDelayMaxMs.toFixed(1), r.server.queries === null ? '-' : String(r.server.queries), r.loadGeneratorCores.toFixed(2), r.otherCores === null ? '?' : r.otherCores.toFixed(2),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)))
  const line = (c: string[]): string => c.map((x, i) => (i === 0 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n')
}

function entries(title: string, list: ProfileEntry[], perRequestUs?: number): string {
  return [title, ...list.map((e, i) => `  ${String(i + 1).padStart(2)}. ${e.ms.toFixed(0).padStart(6)} ms ${e.pct.toFixed(1).padStart(5)}%`
    + `${perRequestUs ? ` ${((e.ms * 1000) / perRequestUs).toFixed(1).padStart(6)} µs/req` : ''}  ${e.fn}${e.where ? `  ${e.where}` : ''}`)].join('\n')
}

/** Areas of two profiles side by side in µs per request, biggest difference first. */
function compareAreas(bare: { p: ProfileSummary; requests: number }, real: { p: ProfileSummary; requests: number }): string {
  const per = (e: ProfileEntry, n: number): number => (e.ms * 1000) / n
  const names = new Set([...bare.p.allAreas.map((a) => a.fn), ...real.p.allAreas.map((a) => a.fn)])
  const rows = [...names].map((name) => {
    const b = bare.p.allAreas.find((a) => a.fn === name)
    const r = real.p.allAreas.find((a) => a.fn === name)
    return { name, bare: b ? per(b, bare.requests) : 0, real: r ? per(r, real.requests) : 0 }
  }).sort((x, y) => (y.real - y.bare) - (x.real - x.bare)).slice(0, 15)
  const busyB = (bare.p.busyMs * 1000) / bare.requests
  const busyR = (real.p.busyMs * 1000) / real.requests
  return [
    `busy time per request: bare ${busyB.toFixed(1)} µs, real ${busyR.toFixed(1)} µs (difference ${(busyR - busyB).toFixed(1)} µs); by area, largest difference first:`,
    `  ${'bare µs/req'.padStart(11)}  ${'real µs/req'.padStart(11)}  ${'diff'.padStart(6)}  area`,
    ...rows.map((r) => `  ${r.bare.toFixed(1).padStart(11)}  ${r.real.toFixed(1).padStart(11)}  ${(r.real - r.bare).toFixed(1).padStart(6)}  ${r.name}`),
  ].join('\n')
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const dbUrl = process.env.QUNYUN_DB_URL || DEFAULT_DB_URL
  const redisUrl = process.env.QUNYUN_REDIS_URL || DEFAULT_REDIS_URL
  console.log(`qunyun admin API benchmark: bare Koa vs GET /api/v1/groups/:id — autocannon, ${args.connections} connections, pipelining 1, `
    + `warm-up ${args.warmup} s + ${args.duration} s measured per run, ${args.rounds} round(s) in alternating order, best round reported`)
  console.log(`machine: ${availableParallelism()} cores shared by the servers and autocannon (and anything else running); node ${process.version}; `
    + `load average before the run ${loadavg().map((l) => l.toFixed(2)).join(' / ')}`)

  const servers: Server[] = []
  let redisStats: Redis | undefined
  let exitCode = 0
  let benchLine: Record<string, unknown> | undefined
  const stopAll = async (): Promise<void> => {
    redisStats?.disconnect()
    await Promise.all(servers.map((s) => s.stop()))
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { console.log(`\n${signal}: stopping the servers …`); void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143)) })
  }
  try {
    // One server process per endpoint, so no target's JIT feedback, heap or GC touches another's. Every real
    // process seeds the same data (same seed, same `seedNow`); each MySQL one gets its own database.
    const seedNow = Date.now()
    let databases = 0
    const mysqlEnv = (): NodeJS.ProcessEnv => {
      const url = new URL(dbUrl)
      if (databases++ > 0) url.pathname = `${url.pathname}_${databases}`
      return { BENCH_DB_URL: url.toString(), BENCH_REDIS_URL: redisUrl }
    }
    interface Spec { key: string; label: string; kind: TargetKind; variant?: Variant; path?: string }
    const specs: Spec[] = [
      { key: 'bare', label: 'bare Koa', kind: 'bare' },
      { key: 'real', label: 'real route (SQLite, in-process)', kind: 'real' },
    ]
    if (args.redisMysql) specs.push({ key: 'realMysqlRedis', label: 'real route (MySQL + Redis)', kind: 'real-mysql-redis' })
    if (args.breakdown) {
      specs.push({ key: 'replay', label: 'breakdown: bare Koa + real response', kind: 'replay' })
      specs.push({ key: 'healthz', label: 'breakdown: real stack, GET /healthz', kind: 'real', path: '/healthz' })
    }
    // --what-if variants go on one storage only, to keep a run bounded: MySQL + Redis when asked for, else embedded.
    if (args.whatIf) {
      const [kind, set] = args.redisMysql ? ['real-mysql-redis' as const, WHAT_IFS.mysqlRedis] : ['real' as const, WHAT_IFS.embedded]
      for (const [key, label] of Object.entries(set)) specs.push({ key, label, kind, variant: key as Variant })
    }
    if (args.redisMysql) redisStats = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
    const settled = await Promise.allSettled(specs.map((sp) => Server.start(sp.kind, sp.label, args.messages, seedNow, sp.variant, sp.kind === 'real-mysql-redis' ? mysqlEnv() : {})))
    for (const s of settled) if (s.status === 'fulfilled') servers.push(s.value)
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
    if (failed) throw failed.reason

    const endpoints: Endpoint[] = specs.map((sp, i) => {
      const server = servers[i] as Server
      const path = sp.path ?? server.ready.path
      return { key: sp.key, label: sp.label, server, url: `http://127.0.0.1:${server.ready.port}${path}`, headers: sp.path ? {} : server.ready.headers }
    })
    const byKey = (key: string): Endpoint | undefined => endpoints.find((e) => e.key === key)
    const bare = byKey('bare') as Endpoint
    const real = byKey('real') as Endpoint

    for (const s of servers) if (s.ready.domainLoaded) console.log(`  ! node:domain is loaded in ${s.label}: every EventEmitter is slower than in production`)
    // One request each, checked by hand before any load.
    const bodies = new Map<string, string>()
    let realResponse: { headers: Headers; body: unknown } | undefined
    for (const e of endpoints) {
      if (e.key === 'replay') continue
      const res = await fetch(e.url, { headers: e.headers })
      const text = await res.text()
      if (res.status !== 200) throw new Error(`${e.label}: GET ${e.url} answered ${res.status}: ${text}`)
      bodies.set(e.key, text)
      if (e.key === 'bare' || e.key === 'healthz') { console.log(`- ${e.label}: GET ${new URL(e.url).pathname} → 200, ${text.length} bytes`); continue }
      const body = JSON.parse(text) as { activity?: { days: Array<{ messages: number }> }; memberCount?: number }
      if (e.key === 'real') realResponse = { headers: res.headers, body }
      const days = body.activity?.days ?? []
      if (days.reduce((n, d) => n + d.messages, 0) === 0) throw new Error(`${e.label}: the group detail shows no activity: ${text}`)
      if (e.key.startsWith('whatIf')) continue
      const s = e.server.ready.seed
      console.log(`- ${e.label}: ${s?.storage}, ${s?.coordination}; ${s?.routes} routes mounted; seeded 1 group × ${s?.members} members and ${fmt(s?.messages ?? 0)} messages `
        + `(${Object.entries(s?.submitted ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}) in ${((s?.setupMs ?? 0) / 1000).toFixed(1)} s; `
        + `GET ${e.server.ready.path} with an operator token scoped to the group → 200, ${Buffer.byteLength(text)} bytes of JSON, memberCount ${body.memberCount}, `
        + `messages per day ${days.map((d) => d.messages).join('/')}`)
    }
    const replayEndpoint = byKey('replay')
    if (replayEndpoint && realResponse) {
      // Plain Koa answering with the real route's headers and body: the cost of the bytes alone.
      const skip = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive'])
      const headers: Record<string, string> = {}
      realResponse.headers.forEach((value, name) => { if (!skip.has(name)) headers[name] = value })
      await replayEndpoint.server.command('replay', { headers, body: realResponse.body })
      console.log(`- breakdown: plain Koa replaying ${Object.keys(headers).join(', ')} + the JSON body; GET /healthz of the real app (public: request id, headers, per-IP limit, CORS, router)`)
    }
    const whatIfs = endpoints.filter((e) => e.key.startsWith('whatIf'))
    if (whatIfs.length > 0) {
      // Each variant must answer exactly what the unchanged route on the same storage answers.
      for (const e of whatIfs) {
        const reference = bodies.get(args.redisMysql ? 'realMysqlRedis' : 'real')
        const res = await fetch(e.url, { headers: e.headers })
        if (bodies.get(e.key) !== reference || !/^application\/json/.test(res.headers.get('content-type') ?? '')) {
          throw new Error(`${e.label}: answers differently from the real route (${res.headers.get('content-type')}): ${bodies.get(e.key)?.slice(0, 200)}`)
        }
        await res.arrayBuffer()
      }
      console.log(`- what-if, each in its own process on the same data: ${whatIfs.map((x) => x.label.replace(/^what-if[^:]*: /, '')).join('; ')} — each answers byte-identical JSON`)
    }

    // Rounds in alternating order (bare, real, …, then again) so drift on the shared machine hits all alike.
    const runs: RunFigures[] = []
    for (let r = 1; r <= args.rounds; r++) {
      for (const e of endpoints) {
        if (args.quietWait > 0) {
          const q = await waitQuiet(args.quietWait)
          if (q.waitedS > 1.5 || (q.load ?? 0) > 0.3) console.log(`  (waited ${q.waitedS} s for a quieter machine; other processes now ${q.load?.toFixed(2) ?? '?'} cores)`)
        }
        if (args.warmup > 0) {
          const w = await cannon(e, args.warmup, args.connections)
          const bad = w.result.non2xx + w.result.errors + w.result.timeouts
          if (bad > 0) { exitCode = 1; console.log(`  ! warm-up of ${e.label}: ${bad} requests not answered 2xx (${JSON.stringify(w.statuses)}, errors ${w.result.errors})`) }
        }
        const f = await measure(e, r, args, undefined, e.server.kind === 'real-mysql-redis' ? redisStats : undefined)
        runs.push(f)
        console.log(`- round ${r} ${e.label}: ${fmt(f.reqPerSec)} req/s, p50 ${f.p50Ms.toFixed(2)} ms, p99 ${f.p99Ms.toFixed(2)} ms, ${fmt(f.total)} requests `
          + `${JSON.stringify(f.statuses)}, errors ${f.errors + f.timeouts}; server ${f.server.cpuUsPerRequest} µs CPU/req (${Math.round((f.server.systemCpuMs * 1000) / Math.max(1, f.total))} of it in the kernel); loop block max ${f.server.loopDelayMaxMs.toFixed(1)} ms${f.server.queries !== null ? `, ${f.server.queries} SQL statements` : ''}${f.redisCommands !== null ? `; Redis: ${(f.redisCommands / Math.max(1, f.total)).toFixed(2)} commands/req, ${((f.redisScripts ?? 0) / Math.max(1, f.total)).toFixed(2)} script round trips/req` : ''}; other processes ${f.otherCores?.toFixed(2) ?? '?'} cores`)
      }
    }
    for (const f of runs) if (f.non2xx > 0 || f.errors > 0 || f.timeouts > 0) exitCode = 1

    const best = new Map<string, RunFigures>()
    for (const e of endpoints) best.set(e.key, runs.filter((f) => f.key === e.key).reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a)))
    const pick = (key: string): RunFigures => best.get(key) as RunFigures
    const ratio = (key: string): number => Math.round((pick(key).reqPerSec / pick('bare').reqPerSec) * 1000) / 1000

    console.log(`\nbest of ${args.rounds} round(s) by requests/s (latency over every response of that run; server CPU = user + system time of the server process / requests; `
      + 'ELU = event-loop utilisation of the server; loop block = longest event-loop delay; SQL stmts = statements the runtime ran during the run; '
      + 'other cores = the rest of the machine during the run, MariaDB and Redis included):\n')
    console.log(table(endpoints.map((e) => pick(e.key))))
    console.log('')
    const b = pick('bare')
    for (const e of endpoints) {
      if (e.key === 'bare') continue
      const f = pick(e.key)
      const goal = e.key === 'real' || e.key === 'realMysqlRedis' ? ` (goal ≥ ${GOAL_RATIO * 100}%: ${ratio(e.key) >= GOAL_RATIO ? 'MET' : 'NOT MET'})` : ''
      console.log(`ratio ${e.label} / bare Koa: ${(ratio(e.key) * 100).toFixed(1)}% of the requests/s${goal}; p99 ${f.p99Ms.toFixed(2)} vs ${b.p99Ms.toFixed(2)} ms; `
        + `server CPU ${f.server.cpuUsPerRequest} vs ${b.server.cpuUsPerRequest} µs/req`)
    }
    for (const e of endpoints) console.log(`rounds ${e.label}: ${runs.filter((f) => f.key === e.key).map((f) => fmt(f.reqPerSec)).join(', ')} req/s`)
    console.log(`check: every request answered 2xx: ${exitCode === 0 ? 'yes' : 'NO'} (${runs.map((f) => `${f.label} #${f.round} ${JSON.stringify(f.statuses)}`).join('; ')})`)

    // CPU profiles of bare and real: asked for, or automatically when below goal. Not counted above.
    const belowGoal = endpoints.some((e) => (e.key === 'real' || e.key === 'realMysqlRedis') && ratio(e.key) < GOAL_RATIO)
    let profiled: { bare: { p: ProfileSummary; requests: number }; real: { p: ProfileSummary; requests: number; f: RunFigures } } | undefined
    if (args.profile === 'on' || (args.profile === 'auto' && belowGoal)) {
      console.log(`\nCPU profiles (${args.profile === 'on' ? '--profile' : 'below goal'}): one more ${args.duration} s run each of bare Koa and ${real.label}, sampled in the server process, not counted above …`)
      let pb: ProfileSummary | undefined
      let pr: ProfileSummary | undefined
      if (args.quietWait > 0) await waitQuiet(args.quietWait)
      const fb = await measure(bare, 0, args, (s) => { pb = s })
      if (args.quietWait > 0) await waitQuiet(args.quietWait)
      const fr = await measure(real, 0, args, (s) => { pr = s })
      profiled = { bare: { p: pb as ProfileSummary, requests: fb.total }, real: { p: pr as ProfileSummary, requests: fr.total, f: fr } }
      for (const [label, f, p] of [['bare Koa', fb, pb], [real.label, fr, pr]] as Array<[string, RunFigures, ProfileSummary]>) {
        console.log(`\n${label} (profiled): ${fmt(f.reqPerSec)} req/s, p99 ${f.p99Ms.toFixed(2)} ms, ${fmt(f.total)} requests; ${fmt(p.samples)} samples over ${fmt(p.wallMs)} ms: `
          + `busy ${fmt(p.busyMs)} ms, idle ${fmt(p.idleMs)} ms; % of busy time`)
        console.log(entries('top 15 functions by self time:', p.self, f.total))
        if (label !== 'bare Koa') {
          console.log(entries('self time by area (native code counted for its JS caller):', p.areas, f.total))
          console.log(entries('project functions by inclusive time:', p.inclusive, f.total))
        }
        if (p.allocations) {
          const a = p.allocations
          console.log(`allocations (sampled, freed objects included): ${fmt(a.totalBytes / Math.max(1, f.total))} bytes per request; top sites:`)
          console.log(a.sites.map((e, i) => `  ${String(i + 1).padStart(2)}. ${fmt(e.ms / Math.max(1, f.total)).padStart(6)} B/req ${e.pct.toFixed(1).padStart(5)}%  ${e.fn}${e.where ? `  ${e.where}` : ''}`).join('\n'))
        }
      }
      console.log(`\n${compareAreas(profiled.bare, profiled.real)}`)
    }

    const figures = (f: RunFigures): Record<string, unknown> => ({
      reqPerSec: Math.round(f.reqPerSec), p50Ms: f.p50Ms, p99Ms: f.p99Ms, errors: f.errors + f.timeouts, non2xx: f.non2xx, requests: f.total,
      serverCpuUsPerReq: f.server.cpuUsPerRequest, serverKernelUsPerReq: Math.round((f.server.systemCpuMs * 1000) / Math.max(1, f.total)), bytesPerResponse: f.bytesPerResponse, loopBlockMaxMs: round2(f.server.loopDelayMaxMs),
      ...(f.server.queries !== null ? { sqlStatements: f.server.queries } : {}),
      ...(f.redisCommands !== null ? { redisCommandsPerReq: round2(f.redisCommands / Math.max(1, f.total)), redisScriptsPerReq: round2((f.redisScripts ?? 0) / Math.max(1, f.total)) } : {}),
      otherCores: f.otherCores,
      rounds: runs.filter((r) => r.key === f.key).map((r) => Math.round(r.reqPerSec)),
    })
    const bench: Record<string, unknown> = {
      benchmark: 'admin-api', connections: args.connections, pipelining: 1, durationS: args.duration, warmupS: args.warmup, rounds: args.rounds, pick: 'best',
      cores: availableParallelism(), node: process.version,
      bare: figures(b), real: figures(pick('real')), ratio: ratio('real'), goalRatio: GOAL_RATIO, goalMet: ratio('real') >= GOAL_RATIO,
    }
    if (best.has('realMysqlRedis')) { bench.realMysqlRedis = figures(pick('realMysqlRedis')); bench.ratioMysqlRedis = ratio('realMysqlRedis') }
    if (best.has('replay')) { bench.breakdown = { bareWithRealResponse: figures(pick('replay')), ratioBareWithRealResponse: ratio('replay'), realHealthz: figures(pick('healthz')), ratioRealHealthz: ratio('healthz') } }
    if (whatIfs.length > 0) bench.whatIf = Object.fromEntries(whatIfs.map((e) => [e.key, { ...figures(pick(e.key)), ratio: ratio(e.key) }]))
    if (profiled) bench.profileTop = profiled.real.p.self.slice(0, 5).map((e) => ({ fn: e.fn, where: e.where, pct: e.pct }))
    benchLine = bench
  } catch (error) {
    exitCode = 1
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
  } finally {
    // Servers stopped (benchmark database dropped, Redis keys deleted) before the last line.
    await stopAll()
  }
  if (benchLine) {
    benchLine.ok = exitCode === 0
    console.log(`BENCH ${JSON.stringify(benchLine)}`)
  }
  process.exitCode = exitCode
}

void main()
