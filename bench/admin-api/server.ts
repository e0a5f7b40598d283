/**
 * One benchmark server in its own process (forked by run.ts; the load generator runs in the parent).
 * Exactly one app per process takes load, so no target's type feedback or heap ever touches another's.
 *
 *   bare              Koa 3 hello-world: `ctx.body = { hello: 'world' }`
 *   replay            plain Koa answering with the headers and JSON body the real route sent (--breakdown)
 *   real              the qunyun Runtime (embedded: SQLite temp file + in-process coordination) serving
 *                     GET /api/v1/groups/:id with bearer auth, rate limits, validation and the cached read;
 *                     with a variant (--what-if), the same runtime behind an HTTP app with one candidate change
 *   real-mysql-redis  the same against MySQL + Redis
 *
 * Listens on 127.0.0.1:0 and answers commands over IPC: window-start / window-end (CPU time, event-loop
 * utilisation and delay, SQL statements over a measured run), profile-start / profile-stop (CPU and
 * allocation profile), replay (what the replay app answers), stop (cleans up: temp files, database, Redis keys).
 *
 *   argv: <kind> <messages> <seedNow ms> [variant]    env (MySQL + Redis): BENCH_DB_URL, BENCH_REDIS_URL
 */
import { mkdtempSync, rmSync } from 'node:fs'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks'
import Koa from 'koa'
import { createConnection } from 'mysql2/promise'
import { AllocationProfiler, CpuProfiler, summarize, summarizeAllocations, type ProfileSummary } from './profile'
import type { Variant } from './variants'
import type { Principal } from '../../src/kernel/auth'
import type { IncomingMessage } from '../../src/kernel/context'
import { GroupSynced, type MemberSnapshot } from '../../src/kernel/events'
import type { RouteDefinition } from '../../src/kernel/routes'

/** Which server a child runs. */
export type TargetKind = 'bare' | 'replay' | 'real' | 'real-mysql-redis'


/** Sent once when the server listens. */
export interface Ready {
  type: 'ready'
  port: number
  path: string
  headers: Record<string, string>
  /** What was seeded (real targets). */
  seed?: { groupId: string; members: number; messages: number; submitted: Record<string, number>; setupMs: number; storage: string; coordination: string; routes: number }
  /** Whether node:domain got loaded (it slows every EventEmitter; production does not load it). */
  domainLoaded: boolean
}

/** CPU and event-loop use of the server process over one window. */
export interface Window {
  wallMs: number
  /** user + system CPU time of the process. */
  cpuMs: number
  systemCpuMs: number
  eventLoopUtilization: number
  /** Longest and p99 event-loop delay (1 ms resolution): how long the loop was blocked at worst. */
  loopDelayMaxMs: number
  loopDelayP99Ms: number
  /** SQL statements the runtime issued (real targets; counted through the DataSource logger). */
  queries: number | null
}

/** A command from run.ts and its answer. */
export type Command =
  | { id: number; cmd: 'window-start' | 'window-end' | 'profile-start' | 'profile-stop' | 'stop' }
  | { id: number; cmd: 'replay'; replay: Replay }
/** What the replay app answers: a response's headers (Koa sets Content-Type/Length itself) and JSON body. */
export interface Replay { headers: Record<string, string>; body: unknown }
export type Answer = { type: 'answer'; id: number; ok: true; result?: Window | ProfileSummary } | { type: 'answer'; id: number; ok: false; error: string }

const REPO = resolve(__dirname, '../..')
const DAY_MS = 86_400_000

interface Target {
  ready: Omit<Ready, 'type' | 'domainLoaded'>
  close(): Promise<void>
  replay?: (r: Replay) => void
  queries?: () => number
}

function listen(app: Koa): Promise<Server> {
  return new Promise((resolveListen, reject) => {
    const server = app.listen(0, '127.0.0.1', () => resolveListen(server))
    server.once('error', reject)
  })
}

function close(server: Server): Promise<void> {
  return new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()) })
}

async function bare(): Promise<Target> {
  const app = new Koa()
  app.use((ctx) => { ctx.body = { hello: 'world' } })
  const server = await listen(app)
  return { ready: { port: (server.address() as AddressInfo).port, path: '/', headers: {} }, close: () => close(server) }
}

/** Plain Koa, no middleware of ours, answering with the real route's response: what the bytes alone cost. */
async function replay(): Promise<Target> {
  let body: unknown = { hello: 'world' }
  let headers: Array<[string, string]> = []
  const app = new Koa()
  app.use((ctx) => {
    for (const [name, value] of headers) ctx.set(name, value)
    ctx.body = body
  })
  const server = await listen(app)
  return {
    ready: { port: (server.address() as AddressInfo).port, path: '/', headers: {} },
    close: () => close(server),
    replay: (r) => { body = r.body; headers = Object.entries(r.headers) },
  }
}

/** Drops (and unless `drop`, recreates) the benchmark database; refuses names without "bench". */
async function recreateDatabase(url: string, drop: boolean): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_]+$/.test(name) || !/bench/i.test(name)) throw new Error(`refusing to touch database "${name}": the benchmark only recreates databases named [A-Za-z0-9_]+ containing "bench"`)
  const server = new URL(url)
  server.pathname = '/'
  const conn = await createConnection({ uri: server.toString() })
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
    if (!drop) await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  } finally {
    await conn.end()
  }
}

async function real(servers: { dbUrl: string; redisUrl: string } | null, messages: number, seedNow: number, variant: Variant | undefined): Promise<Target> {
  // Loaded here so the bare and replay children never load the application.
  const { loadConfig } = await import('../../src/config/load')
  const { silentLogger } = await import('../../src/kernel/logger')
  const { Runtime } = await import('../../src/main')
  const { seededRandom } = await import('../../src/ports/random')
  const { chineseName, messageText, zipfSampler } = await import('../../src/simulation/chatter')
  const { deleteRedisKeysWithPrefix } = await import('../../src/adapters/redis/redis-ports')
  const { createHttpApp } = await import('../../src/adapters/http/app')
  const { MemoryRateLimiter } = await import('../../src/ports/memory')
  type HttpAppOptions = Parameters<typeof createHttpApp>[0]

  const started = performance.now()
  const tmp = mkdtempSync(join(tmpdir(), 'qunyun-bench-api-'))
  const keyPrefix = `qunyun-bench-api:${process.pid}:${Date.now().toString(36)}:`
  if (servers) await recreateDatabase(servers.dbUrl, false)
  const config = loadConfig({
    // Only the overrides below: a QUNYUN_DB_URL in the shell must not turn the embedded run into a MySQL one.
    env: {},
    configDir: join(REPO, 'config'),
    overrides: {
      server: { host: '127.0.0.1', port: 0 },
      dataDir: tmp,
      api: { rateLimits: { perToken: { perMinute: 1_000_000, burst: 100_000 }, perIp: { perMinute: 1_000_000, burst: 100_000 } } },
      log: { level: 'error' },
      simulation: { mode: 'off' },
      database: { url: servers?.dbUrl ?? null },
      redis: { url: servers?.redisUrl ?? null, keyPrefix },
    },
  })
  const runtime = new Runtime(config, { log: silentLogger, http: true, scheduler: false, simulation: false, bots: [], random: seededRandom(11) })
  let variantServer: Server | undefined
  const cleanup = async (): Promise<void> => {
    if (variantServer) await close(variantServer)
    await runtime.stop().catch(() => undefined)
    if (servers) {
      await recreateDatabase(servers.dbUrl, true).catch((e: unknown) => console.error(`could not drop the benchmark database: ${String(e)}`))
      await deleteRedisKeysWithPrefix({ url: servers.redisUrl, keyPrefix }).catch((e: unknown) => console.error(`could not delete Redis keys ${keyPrefix}*: ${String(e)}`))
    }
    rmSync(tmp, { recursive: true, force: true })
  }
  try {
    await runtime.start()
    const runtimePort = runtime.address?.port
    if (!runtimePort) throw new Error('the runtime did not listen')

    // One group of 200 members, synced as the adapter does at login; then a few thousand messages over the
    // 7 days before `seedNow` (Zipf senders), generated up front so every process seeds the same data.
    const random = seededRandom(20_251_112)
    const botId = 'bench-bot'
    const groupId = 'bench-api-room@chatroom'
    const members: MemberSnapshot[] = Array.from({ length: 200 }, (_, i) => ({
      id: `wm-bench-api-${String(i + 1).padStart(3, '0')}`, name: chineseName(random), role: i === 0 ? 'owner' : i === 1 ? 'admin' : 'member',
    }))
    await runtime.publish(GroupSynced.of({
      id: 'bench:synced', botId, groupId, name: '读书会 · 基准测试', ownerId: members[0]?.id, adminIds: [members[1]?.id as string],
      members, at: seedNow - 8 * DAY_MS,
    }))
    const sender = zipfSampler(random, members.length)
    const ats = Array.from({ length: messages }, () => seedNow - Math.floor(random.next() * 7 * DAY_MS)).sort((a, b) => a - b)
    const stream: IncomingMessage[] = ats.map((at, i) => {
      const m = members[sender()] as MemberSnapshot
      return { id: `bench-api-msg-${i}`, botId, groupId, senderId: m.id, senderName: m.name, type: 'text', text: messageText(random, 5, 60), mentions: [], mentionsBot: false, at }
    })
    const submitted: Record<string, number> = {}
    let next = 0
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < stream.length) {
        const result = await runtime.submit(stream[next++] as IncomingMessage)
        submitted[result] = (submitted[result] ?? 0) + 1
      }
    }))
    await runtime.flush()

    // Count SQL statements (cache misses, token lookups, flushes) by wrapping the DataSource logger's logQuery,
    // which every TypeORM query runner calls once per statement; query logging stays off.
    let queries = 0
    const logger = runtime.db.logger
    const logQuery = logger.logQuery.bind(logger)
    logger.logQuery = (...a: Parameters<typeof logQuery>) => { queries++; return logQuery(...a) }

    const { token } = await runtime.access.createToken({ name: 'bench-operator', role: 'operator', groupIds: [groupId], allGroups: false, createdBy: null })

    // --what-if: the same runtime (stores, limiter, routes) behind an HTTP app with one candidate change, on its
    // own port; the runtime's own app stays idle in this process. Options as Runtime.listen() builds them.
    let port = runtimePort
    if (variant) {
      const { api } = config
      const bucket = (r: { perMinute: number; burst: number }): { capacity: number; refillPerSec: number } => ({ capacity: r.burst, refillPerSec: r.perMinute / 60 })
      const base: HttpAppOptions = {
        routes: runtime.routes, log: silentLogger, auth: runtime.access, audit: { append: (entry) => runtime.access.audit(entry) }, rateLimiter: runtime.ports.rateLimiter, clock: runtime.clock,
        bodyLimit: api.bodyLimitBytes, corsOrigins: api.corsOrigins, trustProxy: api.trustProxy,
        limits: {
          perToken: bucket(api.rateLimits.perToken), perIp: bucket(api.rateLimits.perIp),
          failedAuthPerIp: bucket(api.rateLimits.failedAuthPerIp), tokenCreation: bucket(api.rateLimits.tokenCreation),
        },
        readiness: {},
      }
      const detail = runtime.routes.find((r) => r.method === 'GET' && r.path === '/api/v1/groups/:id')
      if (!detail) throw new Error('GET /api/v1/groups/:id is not mounted')
      const withDetail = (replacement: RouteDefinition): RouteDefinition[] => runtime.routes.map((r) => (r === detail ? replacement : r))

      // The principal cached by the raw bearer string: no checksum, no SHA-256 on a hit (TokenStore hashes
      // first, then looks up its 5 s cache).
      const byToken = new Map<string, { principal: Principal | null; until: number }>()
      const rawTokenCache = {
        async authenticate(bearer: string): Promise<Principal | null> {
          const now = Date.now()
          const hit = byToken.get(bearer)
          if (hit && hit.until > now) return hit.principal
          const principal = await runtime.access.authenticate(bearer)
          byToken.set(bearer, { principal, until: now + 5_000 })
          return principal
        },
      }
      // The group detail cached as JSON text: one JSON.stringify per flush interval instead of one per request.
      const texts = new Map<string, { text: string; until: number }>()
      const detailAsText: RouteDefinition = {
        ...detail, contentType: 'application/json; charset=utf-8',
        async handler(input) {
          const id = String((input.params as { id: string }).id)
          const hit = texts.get(id)
          if (hit && hit.until > Date.now()) return hit.text
          const text = JSON.stringify(await detail.handler(input))
          texts.set(id, { text, until: Date.now() + config.activity.flushIntervalMs })
          return text
        },
      }
      // Single flight: concurrent misses of the detail cache and of the token cache share one lookup (today
      // every request in flight when an entry expires runs its own queries).
      const detailsInFlight = new Map<string, Promise<unknown>>()
      const singleFlightDetail: RouteDefinition = {
        ...detail,
        handler(input) {
          const id = String((input.params as { id: string }).id)
          let p = detailsInFlight.get(id)
          if (!p) {
            p = detail.handler(input).finally(() => detailsInFlight.delete(id))
            detailsInFlight.set(id, p)
          }
          return p
        },
      }
      const tokensInFlight = new Map<string, Promise<Principal | null>>()
      const singleFlightTokens = {
        authenticate(bearer: string): Promise<Principal | null> {
          let p = tokensInFlight.get(bearer)
          if (!p) {
            p = runtime.access.authenticate(bearer).finally(() => tokensInFlight.delete(bearer))
            tokensInFlight.set(bearer, p)
          }
          return p
        },
      }
      // The per-address bucket kept in process (each replica guards itself); only the per-token bucket in Redis.
      const localIp = new MemoryRateLimiter(runtime.clock)
      const localIpLimiter = { take: (key: string, spec: { capacity: number; refillPerSec: number }, cost?: number) => (key.startsWith('api:ip:') ? localIp : runtime.ports.rateLimiter).take(key, spec, cost) }

      const options: Record<Variant, HttpAppOptions> = {
        whatIfTokenCache: { ...base, auth: rawTokenCache },
        whatIfJsonText: { ...base, routes: withDetail(detailAsText) },
        whatIfOneRoute: { ...base, routes: [detail] },
        whatIfAll: { ...base, auth: rawTokenCache, routes: [detailAsText] },
        whatIfSingleFlight: { ...base, auth: singleFlightTokens, routes: withDetail(singleFlightDetail) },
        whatIfLocalIpLimit: { ...base, rateLimiter: localIpLimiter },
        whatIfMysqlRedisBoth: { ...base, auth: singleFlightTokens, rateLimiter: localIpLimiter, routes: withDetail(singleFlightDetail) },
      }
      variantServer = await listen(createHttpApp(options[variant]))
      port = (variantServer.address() as AddressInfo).port
    }
    return {
      ready: {
        port, path: `/api/v1/groups/${encodeURIComponent(groupId)}`, headers: { authorization: `Bearer ${token}` },
        seed: {
          groupId, members: members.length, messages, submitted, setupMs: Math.round(performance.now() - started), routes: runtime.routes.length,
          storage: servers ? `MySQL (${new URL(servers.dbUrl).pathname.slice(1)})` : 'SQLite temp file', coordination: servers ? `Redis (prefix ${keyPrefix})` : 'in-process',
        },
      },
      close: cleanup,
      queries: () => queries,
    }
  } catch (error) {
    await cleanup()
    throw error
  }
}

async function main(): Promise<void> {
  const kind = process.argv[2] as TargetKind
  const messages = Number(process.argv[3] ?? 3000)
  const seedNow = Number(process.argv[4] ?? Date.now())
  const variant = (process.argv[5] || undefined) as Variant | undefined
  const send = (m: Ready | Answer | { type: 'failed'; error: string }): void => { process.send?.(m) }
  let target: Target
  try {
    target = kind === 'bare' ? await bare()
      : kind === 'replay' ? await replay()
        : kind === 'real' ? await real(null, messages, seedNow, variant)
          : await real({ dbUrl: process.env.BENCH_DB_URL as string, redisUrl: process.env.BENCH_REDIS_URL as string }, messages, seedNow, variant)
  } catch (error) {
    send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    process.exit(1)
  }

  let window: { at: number; cpu: NodeJS.CpuUsage; elu: EventLoopUtilization; queries: number } | undefined
  const delay = monitorEventLoopDelay({ resolution: 1 })
  let profiler: { cpu: CpuProfiler; alloc: AllocationProfiler } | undefined
  let closing: Promise<void> | undefined
  const shutdown = (): Promise<void> => (closing ??= target.close())

  process.on('message', (c: Command) => {
    void (async (): Promise<Answer> => {
      switch (c.cmd) {
        case 'window-start':
          delay.reset()
          delay.enable()
          window = { at: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), queries: target.queries?.() ?? 0 }
          return { type: 'answer', id: c.id, ok: true }
        case 'window-end': {
          if (!window) throw new Error('window-end without window-start')
          const cpu = process.cpuUsage(window.cpu)
          const elu = performance.eventLoopUtilization(window.elu)
          delay.disable()
          const result: Window = {
            wallMs: performance.now() - window.at, cpuMs: (cpu.user + cpu.system) / 1000, systemCpuMs: cpu.system / 1000, eventLoopUtilization: elu.utilization,
            loopDelayMaxMs: delay.max / 1e6, loopDelayP99Ms: delay.percentile(99) / 1e6,
            queries: target.queries ? target.queries() - window.queries : null,
          }
          window = undefined
          return { type: 'answer', id: c.id, ok: true, result }
        }
        case 'profile-start':
          profiler = { cpu: new CpuProfiler(), alloc: new AllocationProfiler() }
          await profiler.alloc.start()
          await profiler.cpu.start(200)
          return { type: 'answer', id: c.id, ok: true }
        case 'profile-stop': {
          if (!profiler) throw new Error('profile-stop without profile-start')
          const profile = await profiler.cpu.stop()
          const allocations = await profiler.alloc.stop()
          profiler = undefined
          return { type: 'answer', id: c.id, ok: true, result: { ...summarize(profile), allocations: summarizeAllocations(allocations) } }
        }
        case 'replay':
          if (!target.replay) throw new Error('this server has no replay app')
          target.replay(c.replay)
          return { type: 'answer', id: c.id, ok: true }
        case 'stop':
          await shutdown()
          return { type: 'answer', id: c.id, ok: true }
      }
    })().then(send, (error: unknown) => send({ type: 'answer', id: c.id, ok: false, error: String(error) }))
      .finally(() => { if (c.cmd === 'stop') process.disconnect() })
  })
  // The parent went away without saying stop (crash, kill): clean up all the same.
  process.on('disconnect', () => { void shutdown().finally(() => process.exit(0)) })
  // Ctrl-C reaches the whole process group: the parent stops us in order; a plain SIGTERM still cleans up
  // (temp files, benchmark database, Redis keys) before exiting.
  process.on('SIGINT', () => { /* the parent handles Ctrl-C and sends stop */ })
  process.on('SIGTERM', () => { void shutdown().finally(() => process.exit(143)) })

  send({ type: 'ready', ...target.ready, domainLoaded: ((process as unknown as { moduleLoadList?: string[] }).moduleLoadList ?? []).includes('NativeModule domain') })
}

// Only as a forked server process (run.ts imports this module's types alone).
if (require.main === module) void main()
