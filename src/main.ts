import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { DataSource } from 'typeorm'
import type { ZodType } from 'zod'
import type { BotDefinition, Config } from './config/config.schema'
import { ConfigError, loadBots } from './config/load'
import type { GroupInfo, GroupRecord, IncomingMessage, OutboundAction } from './kernel/context'
import type { DomainEvent } from './kernel/events'
import type { FeatureDefinition, FeatureInstance } from './kernel/feature'
import type { Logger } from './kernel/logger'
import { expiryFromMinutes, OutboundQueue, TransientError } from './kernel/outbound'
import { errorText, MessageProcessor, type GroupDirectory, type ProcessResult } from './kernel/processor'
import type { RouteDefinition } from './kernel/routes'
import { systemClock, type Clock } from './ports/clock'
import { createMemoryPorts } from './ports/memory'
import type { CoordinationPorts } from './ports/ports'
import { seededRandom, systemRandom, type Random } from './ports/random'
import { createRedisPorts } from './adapters/redis/redis-ports'
import { CORE_ENTITIES, dataSourceOptions, openDatabase } from './adapters/db/data-source'
import { redactUrl } from './kernel/url'
import { createHttpApp, TOKEN_COMMAND } from './adapters/http/app'
import { createServicePuppet, setWechatyLogLevel, WechatyBot, type PuppetLike } from './adapters/wechaty/bot'
import { SimWorld } from './adapters/wechaty/sim-world'
import type { FeatureDeps, GroupSummaryContributor } from './app/feature-deps'
import { DbOutboundStore } from './app/outbound-store'
import { readRulePack, RuleStore, type RulePack } from './app/rules'
import { Scheduler } from './app/scheduler'
import { EmbeddedSeenFilter, SharedSeenFilter, type DurableSeenFilter } from './app/seen'
import { FEATURES } from './features'
import { SimulatedCommunity, SIMULATION_RULE_PACK } from './simulation/community'
import { Narrator } from './simulation/narrator'
import { EXAMPLE_ANSWERS, seedExampleAutoReplies } from './simulation/seed'
import { TokenStore } from './app/auth/tokens'
import { AuditLog } from './app/auth/audit'
import { platformRoutes } from './app/auth/auth.routes'
import { rulesRoutes } from './app/rules.routes'

/** Options of a runtime beyond the configuration (tests, simulations and benchmarks set these). */
export interface RuntimeOptions {
  log: Logger
  clock?: Clock
  random?: Random
  /** Bot definitions (default: loaded from bots/). */
  bots?: BotDefinition[]
  /** Supplies each bot's puppet (default: wechaty-puppet-service, or the simulated community). */
  puppetFor?: (bot: BotDefinition) => PuppetLike
  /** SQLite file to use instead of the configured one (':memory:' for ephemeral runs). */
  sqlitePath?: string
  /** Whether to listen for HTTP (default true). */
  http?: boolean
  /** Whether to start cron timers (default true). */
  scheduler?: boolean
  /** Whether to run the built-in simulated community for mock bots (default: per config). */
  simulation?: boolean
  /** Feature registry (default: FEATURES). */
  features?: ReadonlyArray<FeatureDefinition<FeatureDeps, unknown>>
}

/** What the runtime reports to observers (rehearsals and tests wait on these). */
export type RuntimeObservation =
  | { kind: 'message'; id: string; groupId: string; result: ProcessResult }
  | { kind: 'event'; event: DomainEvent }

/** start() ended early because stop() was called meanwhile (not a failure). */
export class StartAborted extends Error {
  constructor() {
    super('start aborted: stop requested')
    this.name = 'StartAborted'
  }
}

/** A feature once set up. */
interface LiveFeature { name: string; instance: FeatureInstance }

/** What start() uses from files and settings, validated before anything is opened. */
export interface Prepared {
  definitions: Array<FeatureDefinition<FeatureDeps, unknown>>
  bots: BotDefinition[]
  schemas: Map<string, ZodType>
  /** Each bot's rule pack by file name, read and validated. */
  packs: Map<string, RulePack>
}

/**
 * The composition root: config → storage → coordination → features → bots + admin API. start() brings
 * everything up in that order; stop() drains and flushes in reverse. Nothing happens at import time.
 */
export class Runtime {
  readonly clock: Clock
  readonly random: Random
  readonly log: Logger
  db!: DataSource
  ports!: CoordinationPorts
  rules!: RuleStore
  outbound!: OutboundQueue
  processor!: MessageProcessor
  scheduler!: Scheduler
  tokens!: TokenStore
  audit!: AuditLog
  features: LiveFeature[] = []
  routes: RouteDefinition[] = []
  readonly bots = new Map<string, WechatyBot>()
  readonly worlds = new Map<string, SimWorld>()
  /** Tells what the bot does in the simulated community (set when a bot runs it). */
  narrator?: Narrator
  /** Set once storage is open; absent when start() failed earlier (stop() must still work then). */
  private seen?: DurableSeenFilter
  private server?: Server
  private flushTimer?: NodeJS.Timeout
  private community?: SimulatedCommunity
  private flushing: Promise<void> | null = null
  private flushQueued: Promise<void> | null = null
  private stopping: Promise<void> | null = null
  private starting: Promise<void> | null = null
  private stopRequested = false
  private readonly summaries = new Map<string, GroupSummaryContributor>()
  private directory?: GroupDirectory
  private readonly resumed = new Set<string>()
  private readonly observers = new Set<(o: RuntimeObservation) => void>()
  private prepared?: Prepared

  constructor(readonly config: Config, private readonly options: RuntimeOptions) {
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? (config.simulation.seed !== null ? seededRandom(config.simulation.seed) : systemRandom)
    this.log = options.log
  }

  /** Admin API address once listening. */
  get address(): AddressInfo | null {
    const a = this.server?.address()
    return a && typeof a === 'object' ? a : null
  }

  /**
   * Reads and validates everything start() needs from files and settings — bot definitions, puppet
   * settings, rule packs — without opening anything. Throws ConfigError listing every problem. start()
   * calls it first; calling it earlier (the CLI does) reports bad files before any port or file is opened.
   */
  prepare(): Prepared {
    if (this.prepared) return this.prepared
    const definitions = [...(this.options.features ?? FEATURES)]
    const bots = this.options.bots ?? loadBots(this.config)
    const schemas = new Map<string, ZodType>()
    for (const f of definitions) if (f.rules) schemas.set(f.name, f.rules)
    const packs = new Map<string, RulePack>()
    const problems: string[] = []
    const files = bots.map((bot) => bot.rulePack)
    if (bots.some((bot) => this.simulates(bot))) files.push(SIMULATION_RULE_PACK)
    for (const file of files) {
      if (packs.has(file)) continue
      try { packs.set(file, readRulePack(this.config.rulesDir, file, schemas)) } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        problems.push(...error.problems)
      }
    }
    if (problems.length > 0) throw new ConfigError(problems)
    this.prepared = { definitions, bots, schemas, packs }
    return this.prepared
  }

  /**
   * Opens storage, sets up features, starts bots, scheduler and the admin API (after prepare()). A stop()
   * requested meanwhile (a signal during start) ends it early with StartAborted.
   */
  start(): Promise<void> {
    this.starting ??= this.doStart()
    return this.starting
  }

  /** Throws StartAborted once stop() was called: start() goes no further than it got. */
  private proceed(): void {
    if (this.stopRequested) throw new StartAborted()
  }

  private async doStart(): Promise<void> {
    const { config, log } = this
    const { definitions, bots, schemas, packs } = this.prepare()
    this.proceed()

    this.ports = config.redis.url
      ? await createRedisPorts({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, clock: this.clock })
      : createMemoryPorts(this.clock)
    this.proceed()

    const entities = [...CORE_ENTITIES, ...definitions.flatMap((f) => f.entities ?? [])]
    this.db = await openDatabase(dataSourceOptions(config, entities, this.options.sqlitePath))
    log.info('storage ready', {
      database: config.database.url ? redactUrl(config.database.url) : (this.options.sqlitePath ?? `${config.dataDir}/${config.database.sqliteFile}`),
      coordination: this.ports.kind,
    })
    this.proceed()

    this.rules = new RuleStore({ db: this.db, pubsub: this.ports.pubsub, clock: this.clock, log, rulesDir: config.rulesDir, schemas })
    for (const [file, pack] of packs) this.rules.usePack(file, pack)
    if (bots.some((bot) => this.simulates(bot))) {
      // The simulated community gets its own pack (every feature on) and a narrator of what the bot does.
      this.narrator = new Narrator(EXAMPLE_ANSWERS)
      definitions.unshift(this.narrator.feature())
    }
    await this.rules.start()

    this.outbound = new OutboundQueue({
      performer: { perform: (action) => this.perform(action) },
      rateLimiter: this.ports.rateLimiter,
      clock: this.clock,
      random: this.random,
      settings: {
        perAccount: { capacity: config.outbound.perAccount.burst, refillPerSec: config.outbound.perAccount.perMinute / 60 },
        perGroup: { capacity: config.outbound.perGroup.burst, refillPerSec: config.outbound.perGroup.perMinute / 60 },
        jitterMs: config.outbound.jitterMs,
        maxAttempts: config.outbound.maxAttempts,
        retryBaseMs: config.outbound.retryBaseMs,
        expiryMs: expiryFromMinutes(config.outbound.expiryMinutes),
      },
      log,
      store: new DbOutboundStore(this.db),
    })
    // Bots start logged out: what is queued before a bot's login waits for it.
    for (const bot of bots) this.outbound.offline(bot.id)

    const deps: FeatureDeps = {
      config, db: this.db, ports: this.ports, clock: this.clock, random: this.random, log, outbound: this.outbound, rules: this.rules,
      groupSummaries: (group) => this.groupSummaries(group),
      contributeGroupSummary: (name, contributor) => { this.summaries.set(name, contributor) },
      onOutboundOutcome: (listener) => this.outbound.onOutcome(listener),
      findGroup: (groupId) => this.findGroup(groupId),
    }
    for (const def of definitions) {
      const instance = await def.setup(deps, (ctx) => ctx.rules.slice(def.name))
      this.features.push({ name: def.name, instance })
      this.routes.push(...(instance.routes ?? []))
    }
    this.tokens = new TokenStore({ db: this.db, clock: this.clock, pubsub: this.ports.pubsub, log })
    await this.tokens.start()
    this.audit = new AuditLog(this.db)
    this.routes.unshift(...platformRoutes(this.tokens, this.audit))
    this.routes.push(...rulesRoutes(this.rules, async (id) => (await this.findGroup(id)) !== null))

    const directory = this.features.find((f) => f.instance.directory)?.instance.directory
    if (!directory) throw new Error('no feature provides the group directory (the groups feature must be registered)')
    this.directory = directory

    const ttlMs = config.pipeline.dedupeTtlHours * 3_600_000
    let seen: DurableSeenFilter
    if (this.ports.kind === 'memory') {
      const memory = (this.ports as ReturnType<typeof createMemoryPorts>).dedupe
      const embedded = new EmbeddedSeenFilter(memory, this.db, this.clock, ttlMs)
      seen = embedded
      const loaded = await embedded.load()
      log.debug('dedupe marks restored', { count: loaded })
    } else {
      seen = new SharedSeenFilter(this.ports.dedupe, ttlMs)
    }
    this.seen = seen

    this.processor = new MessageProcessor({ features: this.features, seen, directory, rules: this.rules, sink: this.outbound, log })

    this.flushTimer = setInterval(() => { void this.flush().catch(() => undefined) }, config.activity.flushIntervalMs)
    this.flushTimer.unref()

    this.scheduler = new Scheduler({ db: this.db, clock: this.clock, log, owner: `${process.pid}` })
    for (const f of this.features) for (const job of f.instance.jobs ?? []) this.scheduler.add(job)
    this.scheduler.add({ name: 'core.purge-dedupe-marks', cron: '40 3 * * *', timezone: config.timezone, run: () => seen.purge() })
    if (this.options.scheduler !== false) this.scheduler.start()

    this.proceed()
    if (this.options.http !== false) await this.listen()

    setWechatyLogLevel(config.log.level)
    for (const bot of bots) {
      this.proceed()
      await this.startBot(bot)
    }
  }

  /** Feeds one message straight into the pipeline (benchmarks; the bots use the same path). */
  submit(message: IncomingMessage): Promise<ProcessResult> {
    return this.processor.submit(message)
  }

  /** Calls `observer` after each message and event from the bots is processed; returns a disposer. */
  observe(observer: (o: RuntimeObservation) => void): () => void {
    this.observers.add(observer)
    return () => this.observers.delete(observer)
  }

  private notify(o: RuntimeObservation): void {
    for (const observer of this.observers) observer(o)
  }

  /** Publishes an adapter event into the pipeline's per-group order. */
  publish(event: DomainEvent): Promise<void> { return this.processor.publish(event) }

  /** Writes every buffered counter, log row and dedupe mark now. */
  flush(): Promise<void> {
    // A write already running does not contain what was recorded after it started: callers get one
    // follow-up write queued behind it (shared by everyone who asks meanwhile), never the running one.
    if (this.flushing) {
      this.flushQueued ??= this.flushing.catch(() => undefined).then(() => {
        this.flushQueued = null
        return this.flush()
      })
      return this.flushQueued
    }
    this.flushing = (async () => {
      for (const f of this.features) {
        try { await f.instance.flush?.() } catch (error) { this.log.error('flush failed', { feature: f.name, error: errorText(error) }) }
      }
      if (this.seen) try { await this.seen.flush() } catch (error) { this.log.error('dedupe flush failed', { error: errorText(error) }) }
    })().finally(() => { this.flushing = null })
    return this.flushing
  }

  /** Graceful stop: no new input, finish what is in flight, drain the outbound queue, flush, close. */
  stop(): Promise<void> {
    this.stopRequested = true
    // A start still running ends at its next step (StartAborted) or fails; then everything it opened is closed.
    this.stopping ??= (this.starting ?? Promise.resolve()).catch(() => undefined).then(() => this.doStop())
    return this.stopping
  }

  private async doStop(): Promise<void> {
    const { log } = this
    log.info('stopping: finishing in-flight work')
    this.community?.stop()
    for (const bot of this.bots.values()) {
      try { await bot.stop() } catch (error) { log.warn('bot stop failed', { bot: bot.id, error: String(error) }) }
    }
    await this.scheduler?.stop()
    await this.processor?.idle()
    for (const f of this.features) {
      try { await f.instance.drain?.() } catch (error) { log.warn('feature drain failed', { feature: f.name, error: String(error) }) }
    }
    if (this.outbound) {
      const drained = await this.outbound.drain(this.config.shutdown.drainTimeoutMs)
      await this.outbound.stop()
      if (!drained) log.warn('outbound queue not empty at shutdown; the rest is kept and resumed at next start', { pending: this.outbound.size })
    }
    if (this.flushTimer) clearInterval(this.flushTimer)
    if (this.db) await this.flush()
    for (const f of this.features) await f.instance.stop?.()
    if (this.server) await new Promise<void>((resolve) => this.server?.close(() => resolve()))
    await this.rules?.stop()
    await this.tokens?.stop()
    await this.ports?.close()
    if (this.db?.isInitialized) await this.db.destroy()
    log.info('stopped cleanly')
  }

  private async listen(): Promise<void> {
    const { api } = this.config
    const bucket = (r: { perMinute: number; burst: number }) => ({ capacity: r.burst, refillPerSec: r.perMinute / 60 })
    const app = createHttpApp({
      routes: this.routes,
      log: this.log,
      auth: this.tokens,
      audit: this.audit,
      rateLimiter: this.ports.rateLimiter,
      clock: this.clock,
      bodyLimit: api.bodyLimitBytes,
      corsOrigins: api.corsOrigins,
      trustProxy: api.trustProxy,
      limits: {
        perToken: bucket(api.rateLimits.perToken), perIp: bucket(api.rateLimits.perIp),
        failedAuthPerIp: bucket(api.rateLimits.failedAuthPerIp), tokenCreation: bucket(api.rateLimits.tokenCreation),
      },
      readiness: {
        database: async () => { await this.db.query('SELECT 1'); return true },
        coordination: () => this.ports.ping(),
        bots: async () => [...this.bots.values()].every((b) => b.online),
      },
    })
    const { host, port } = this.config.server
    await new Promise<void>((resolve, reject) => {
      const server = app.listen(port, host, () => resolve())
      server.once('error', (error) => reject(new Error(`admin API cannot listen on ${host}:${port}: ${error.message}`)))
      this.server = server
    })
    const a = this.address
    const local = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${a?.port ?? port}`
    // Every /api/v1 route needs a token: the hint says how to make one, so the curl answers 200, not 401.
    this.log.info('admin API listening', { url: `http://${host}:${a?.port ?? port}`, try: `TOKEN=$(${TOKEN_COMMAND}) && curl -H "Authorization: Bearer $TOKEN" ${local}/api/v1/groups` })
  }

  /** Whether a bot runs the built-in simulated community (no real account, simulation not switched off). */
  private simulates(bot: BotDefinition): boolean {
    return !this.options.puppetFor && bot.resolvedPuppet !== 'wechaty-puppet-service' && (this.options.simulation ?? this.config.simulation.mode !== 'off')
  }

  private async startBot(definition: BotDefinition): Promise<void> {
    const { log } = this
    const simulate = this.simulates(definition)
    // The simulated groups follow the simulation's pack, not the bot's (meant for real groups).
    const rulePack = simulate ? SIMULATION_RULE_PACK : definition.rulePack
    let world: SimWorld | undefined
    let puppet: PuppetLike
    if (this.options.puppetFor) puppet = this.options.puppetFor(definition)
    else if (definition.resolvedPuppet === 'wechaty-puppet-service') {
      puppet = createServicePuppet(definition, this.config)
      log.info('connecting a real WeCom account through wechaty-puppet-service', { bot: definition.id, endpoint: this.config.puppet.endpoint ?? '(discovered from the token)' })
    } else {
      world = new SimWorld({ now: () => this.clock.now(), botName: definition.name })
      this.worlds.set(definition.id, world)
      puppet = world.puppet as unknown as PuppetLike
    }
    const bot = new WechatyBot({
      definition,
      puppet,
      clock: this.clock,
      log,
      sink: {
        message: (m) => {
          this.rules.assignPack(m.groupId, rulePack)
          void this.processor.submit(m).then((result) => this.notify({ kind: 'message', id: m.id, groupId: m.groupId, result }))
        },
        event: (e) => {
          if ('groupId' in e) this.rules.assignPack(e.groupId, rulePack)
          if (e.type === 'bot.loggedIn' && !this.resumed.has(e.botId)) {
            this.resumed.add(e.botId)
            void this.outbound.resume(e.botId).catch((error: unknown) => log.error('could not resume outbound queue', { error: String(error) }))
          }
          // The queue pauses a bot's lanes while it is logged out and resumes them at its login (after
          // resume() above: the stored actions of the last run are older and go first).
          if (e.type === 'bot.loggedIn') this.outbound.online(e.botId)
          if (e.type === 'bot.loggedOut') this.outbound.offline(e.botId)
          void this.processor.publish(e).then(() => this.notify({ kind: 'event', event: e }))
        },
      },
    })
    this.bots.set(definition.id, bot)
    await bot.start()
    if (world) {
      if (simulate) {
        const { groups, minMembers, maxMembers, messagesPerMinute } = this.config.simulation
        this.community = new SimulatedCommunity(world, this.random, { groups, minMembers, maxMembers, messagesPerMinute }, log.child({ simulation: true }), this.clock)
        this.community.populate()
        await seedExampleAutoReplies(this.routes, log.child({ simulation: true }))
        world.login()
        this.community.start()
        log.warn('SIMULATION: no WeCom token configured, so this bot runs a built-in simulated community on wechaty-puppet-mock. '
          + 'To connect a real account set WECHATY_PUPPET=wechaty-puppet-service and WECHATY_PUPPET_SERVICE_TOKEN=<your WorkPro token> (see README).', { bot: definition.id })
      } else {
        log.warn('no WeCom token configured and the simulation is off: the bot has no account to run', { bot: definition.id })
      }
    }
  }

  private async perform(action: OutboundAction): Promise<void> {
    const bot = this.bots.get(action.botId)
    if (!bot) throw new TransientError(`bot ${action.botId} is not running`)
    await bot.perform(action)
  }

  private async findGroup(groupId: string): Promise<GroupRecord | null> {
    if (!this.directory) throw new Error('the group directory is not set up yet')
    return this.directory.find(groupId)
  }

  private async groupSummaries(group: GroupInfo): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {}
    for (const contributor of this.summaries.values()) Object.assign(out, await contributor(group))
    return out
  }
}
