import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import { hostname } from 'node:os'
import type { AddressInfo } from 'node:net'
import type { DataSource } from 'typeorm'
import type { ZodType } from 'zod'
import type { BotDefinition, Config } from './config/config.schema'
import { ConfigError, loadBots } from './config/load'
import { readRulePack, type RulePack } from './config/rule-packs'
import type { Channel } from './kernel/channel'
import { ChannelHost, type RuntimeObservation } from './kernel/channels'
import type { IncomingMessage } from './kernel/context'
import { DIRECTORY, type GroupDirectory } from './kernel/directory'
import { EventBus } from './kernel/event-bus'
import { OutboundFinished, type EventBase } from './kernel/events'
import type { AnyFeature, RulesSpec } from './kernel/feature'
import { FeatureHost, type LiveFeature } from './kernel/host'
import { errorText, pseudonymisingLogger, type Logger } from './kernel/logger'
import { localTime } from './kernel/time'
import { expiryFromMinutes, OutboundQueue } from './kernel/outbound'
import { outboundVerbs } from './kernel/outbound-service'
import { BotOwnership } from './kernel/ownership'
import { MessageProcessor, type ProcessResult } from './kernel/processor'
import type { RouteDefinition } from './kernel/routes'
import { RuleStore } from './kernel/rules'
import { rulesRoutes } from './kernel/rules.routes'
import { RetentionService } from './kernel/retention'
import { retentionRoutes } from './kernel/retention.routes'
import { Scheduler } from './kernel/scheduler'
import { SerialRunner } from './kernel/serial'
import { redactUrl } from './kernel/url'
import { systemClock, type Clock } from './ports/clock'
import { createMemoryPorts } from './ports/memory'
import type { CoordinationPorts, SeenFilter } from './ports/ports'
import { seededRandom, systemRandom, type Random } from './ports/random'
import { createRedisPorts } from './adapters/redis/redis-ports'
import { databaseSchema, dataSourceOptions, openDatabase } from './adapters/db/data-source'
import { startSqliteWriter, stopSqliteWriter } from './adapters/db/sqlite-writer'
import { FeatureStore } from './adapters/db/feature-store'
import { DbFenceStore } from './adapters/db/fence-store'
import { declaredPersonalData } from './personal-data'
import { DbRetentionStore } from './adapters/db/retention-store'
import { DbOutboundStore } from './adapters/db/outbound-store'
import { DbRuleRepository } from './adapters/db/rule-repository'
import { DbSeenStore } from './adapters/db/seen-store'
import { DatabaseHealth } from './adapters/db/health'
import { createHttpApp, TOKEN_COMMAND } from './adapters/http/app'
import type { WebhookDoc } from './adapters/http/openapi'
import { Metrics } from './adapters/metrics/prometheus'
import { MEDIA } from './contracts/media'
import { createServicePuppet, setWechatyLogLevel, WechatyChannel, type PuppetLike } from './adapters/wechaty/channel'
import { SimWorld } from './adapters/wechaty/sim-world'
import { WecomChannel } from './adapters/wecom/channel'
import { PairedChannel } from './adapters/wecom/pair'
import { WecomStore } from './adapters/wecom/store'
import { wecomLinkRoutes } from './adapters/wecom/link.routes'
import { getGroupChat } from './adapters/wecom/groupchat'
import { WecomApiError } from './adapters/wecom/api'
import { ACCESS, type AccessService } from './contracts/access'
import { FEATURES } from './features'
import { ErasureService, pseudonymOf } from './kernel/erasure'
import { erasureRoutes } from './kernel/erasure.routes'
import { DbPersonalDataStore } from './adapters/db/personal-data-store'
import { pseudonymKey } from './adapters/db/deployment-key'
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { SIMULATED_DAY_MS, SimulatedCommunity, SIMULATION_RULE_PACK } from './simulation/community'
import { Narrator } from './simulation/narrator'
import { EXAMPLE_LOTTERY_ENTRIES, logStatsFigures, routeCaller, seedExampleAutoReplies, seedExampleLottery, seedExampleShare } from './simulation/seed'

/** Pub/sub channel telling a bot's holder that actions were stored for it by another replica. */
const HANDOFF_CHANNEL = 'outbound.handoff'
/** How long a flush waits for the batched event consumers to take the events of the messages it confirms. */
const EVENTS_CATCH_UP_MS = 2_000

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
  features?: readonly AnyFeature[]
}

export type { RuntimeObservation }

/** start() ended early because stop() was called meanwhile (not a failure). */
export class StartAborted extends Error {
  constructor() {
    super('start aborted: stop requested')
    this.name = 'StartAborted'
  }
}

/** What start() uses from files and settings, validated before anything is opened. */
export interface Prepared {
  definitions: AnyFeature[]
  bots: BotDefinition[]
  /** Each feature's rule schema. */
  specs: Map<string, RulesSpec<unknown>>
  /** Each bot's rule pack, read and validated. */
  packs: Map<string, RulePack>
}

/** The WeCom callback URL as the OpenAPI document describes it. */
const WECOM_CALLBACK_DOC: Record<'GET' | 'POST', WebhookDoc> = {
  GET: {
    summary: 'WeCom callback URL check (official API bots)',
    description: 'WeCom calls it when the callback URL is saved: the signature (SHA-1 over the sorted token, timestamp, nonce and echostr) is checked and the decrypted echostr returned as plain text.',
    params: { botId: 'the bot id from bots/' },
    query: { msg_signature: 'SHA-1 signature (40 hex)', timestamp: 'seconds since epoch (within the window)', nonce: 'random string (used once)', echostr: 'encrypted echo string' },
    responses: { 200: 'the decrypted echostr', 400: 'malformed, stale timestamp, bad padding or wrong corp id', 401: 'signature does not match', 404: 'no such bot on the official API', 409: 'nonce already used (replay)' },
  },
  POST: {
    summary: 'WeCom event callback (official API bots)',
    description: 'An encrypted event (customer-group changes): signature, timestamp window, AES-256-CBC decryption with padding and corp id checks, nonce replay check. Answered `success` once the decrypted event is stored in the inbox; processed afterwards through the event path.',
    params: { botId: 'the bot id from bots/' },
    query: { msg_signature: 'SHA-1 signature (40 hex)', timestamp: 'seconds since epoch (within the window)', nonce: 'random string (used once)' },
    bodyType: 'text/xml',
    responses: { 200: 'success (stored; processed afterwards)', 400: 'malformed, stale timestamp, bad padding or wrong corp id', 401: 'signature does not match', 404: 'no such bot on the official API', 409: 'nonce already used (replay)', 503: 'could not be stored; WeCom retries' },
  },
}

/**
 * The composition root: it only wires. config → coordination → storage → rules → outbound queue →
 * features (the kernel's FeatureHost) → message processor → scheduler → admin API → channels. start()
 * brings everything up in that order; stop() stops input, drains and flushes in reverse. Nothing happens
 * at import time.
 */
export class Runtime {
  readonly clock: Clock
  readonly random: Random
  /** The process logger; once storage is open, member ids in its fields are written as pseudonyms. */
  log: Logger
  db!: DataSource
  ports!: CoordinationPorts
  rules!: RuleStore
  outbound!: OutboundQueue
  processor!: MessageProcessor
  scheduler!: Scheduler
  host!: FeatureHost
  channels!: ChannelHost
  /** Which bots run here (leases in the coordination port). */
  ownership!: BotOwnership
  /** This process's name in bot leases and outbound claims. */
  readonly replicaId: string
  /** Prometheus metrics (served at /metrics when enabled). */
  metrics?: Metrics
  /** Whether the database answers, as the message path and /readyz see it. */
  storage?: DatabaseHealth
  /** Retention per data class and its purge jobs (walks every feature's personalData). */
  retention!: RetentionService
  routes: RouteDefinition[] = []
  readonly worlds = new Map<string, SimWorld>()
  /** Bots on the official WeCom API (channel official or both), by bot id. */
  readonly wecom = new Map<string, WecomChannel>()
  /** The official API's inbox and channel-both links (set once storage is open). */
  wecomStore?: WecomStore
  /** Counts what the bot does in the simulated community (set when a bot runs it). */
  narrator?: Narrator
  /** Erasure of members and the residue scan (issue 19). */
  erasure!: ErasureService
  private bus?: EventBus
  /** Set once storage is open; absent when start() failed earlier (stop() must still work then). */
  private seen?: SeenFilter
  private server?: Server
  private flushTimer?: NodeJS.Timeout
  private claimTimer?: NodeJS.Timeout
  private disposeHandoff?: () => Promise<void> | void
  private community?: SimulatedCommunity
  private readonly flusher = new SerialRunner(() => this.writeBuffers())
  private stopping: Promise<void> | null = null
  private starting: Promise<void> | null = null
  private stopRequested = false
  private readonly observers = new Set<(o: RuntimeObservation) => void>()
  private prepared?: Prepared

  constructor(readonly config: Config, private readonly options: RuntimeOptions) {
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? (config.simulation.seed !== null ? seededRandom(config.simulation.seed) : systemRandom)
    this.log = options.log
    this.replicaId = config.replicas.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  }

  /** The features once set up, in registry (pipeline) order. */
  get features(): LiveFeature[] { return this.host?.live ?? [] }

  /** Tokens, grants and the audit log (the access feature's service). */
  get access(): AccessService { return this.host.service(ACCESS) }

  /** The group directory (the groups feature's service). */
  get directory(): GroupDirectory { return this.host.service(DIRECTORY) }

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
    const definitions: AnyFeature[] = [...(this.options.features ?? FEATURES)]
    const bots = this.options.bots ?? loadBots(this.config)
    const specs = new Map<string, RulesSpec<unknown>>()
    for (const f of definitions) if (f.rules) specs.set(f.name, f.rules)
    const schemas = new Map<string, ZodType>([...specs].map(([name, spec]) => [name, spec.schema]))
    const packs = new Map<string, RulePack>()
    const problems: string[] = []
    for (const bot of bots) {
      // The simulated groups follow the simulation's pack, not the bot's (meant for real groups).
      const file = this.simulates(bot) ? SIMULATION_RULE_PACK : bot.rulePack
      try { packs.set(bot.id, readRulePack(this.config.rulesDir, file, schemas)) } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        problems.push(...error.problems)
      }
    }
    if (problems.length > 0) throw new ConfigError([...new Set(problems)])
    if (bots.some((bot) => this.simulates(bot))) {
      this.narrator = new Narrator()
      definitions.push(this.narrator.feature())
    }
    this.prepared = { definitions, bots, specs, packs }
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
    const { config, clock } = this
    let log = this.log
    const { definitions, bots, specs, packs } = this.prepare()
    this.proceed()

    this.ports = config.redis.url
      ? await createRedisPorts({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, clock, onError: () => this.metrics?.backendErrors.inc({ backend: 'redis', op: 'connection' }) })
      : createMemoryPorts(clock)
    this.proceed()
    const replicas = config.replicas
    const byId = new Map(bots.map((b) => [b.id, b]))
    this.ownership = new BotOwnership({
      leases: this.ports.leases, roster: this.ports.roster, replicaId: this.replicaId, bots: bots.map((b) => b.id), clock, log,
      onError: () => this.metrics?.backendErrors.inc({ backend: this.ports.kind === 'redis' ? 'redis' : 'memory', op: 'lease' }),
      // In one process nothing competes for a bot: the in-process lease never has to expire.
      settings: this.ports.kind === 'memory' ? { ...replicas, leaseTtlMs: 1e15 } : replicas,
      runner: {
        start: async (botId) => { const bot = byId.get(botId); if (bot) await this.startBot(bot) },
        stop: (botId) => this.channels.release(botId),
      },
    })
    this.proceed()

    this.db = await openDatabase(dataSourceOptions(config, databaseSchema(definitions), this.options.sqlitePath))
    // SQLite file: flushes are committed by a worker thread with its own connection (off the event loop).
    const writer = config.database.writerThread ? startSqliteWriter(this.db) : null
    this.storage = new DatabaseHealth(this.db, {
      probeEveryMs: 500,
      onChange: (up) => {
        if (up) log.warn('database reachable again: waiting work resumes')
        else log.error('database unreachable: messages wait in their group queues, buffered writes are kept and retried')
      },
    })
    log.info('storage ready', {
      database: config.database.url ? redactUrl(config.database.url) : (this.options.sqlitePath ?? `${config.dataDir}/${config.database.sqliteFile}`),
      coordination: this.ports.kind,
      writerThread: writer !== null,
    })
    this.proceed()
    // Member ids never reach the log as they are (an erased member leaves nothing in log files).
    const key = await pseudonymKey(this.db, config.privacy.pseudonymKey, clock.now())
    this.log = pseudonymisingLogger(this.options.log, (id) => pseudonymOf(key, id))
    log = this.log

    this.rules = new RuleStore({
      repository: new DbRuleRepository(this.db), pubsub: this.ports.pubsub, clock, log, specs, packs, defaultPack: {},
      botOf: async (groupId) => (await this.directory.find(groupId))?.botId ?? null,
    })
    await this.rules.start()

    this.outbound = new OutboundQueue({
      performer: { perform: (action) => this.channels.perform(action) },
      rateLimiter: this.ports.rateLimiter,
      clock,
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
      onWait: (reason) => this.metrics?.outboundWaits.inc({ reason }),
      // Platform errors quoting a member are logged and stored with the member's pseudonym.
      pseudonym: (id) => pseudonymOf(key, id),
      store: new DbOutboundStore(this.db),
      replica: {
        id: this.replicaId,
        claimTtlMs: replicas.claimTtlMs,
        // A bot this replica does not know (not in its bots/) is performed here as before, and fails here.
        holds: (botId) => !byId.has(botId) || this.ownership.holds(botId),
        handoff: (botId) => { void this.ports.pubsub.publish(HANDOFF_CHANNEL, botId).catch(() => undefined) },
      },
    })

    // Events emitted outside a message (jobs, consumers) go through the processor's per-group order; it
    // exists once the features are set up, and nothing emits before that.
    const emit = (event: EventBase): void => { void this.processor.publish(event) }
    this.host = await FeatureHost.start({
      features: definitions, config, clock, random: this.random, log,
      coordination: { counters: this.ports.counters, rateLimiter: this.ports.rateLimiter, leases: this.ports.leases, pubsub: this.ports.pubsub },
      storeFor: (f) => new FeatureStore(this.db, f.name, f.entities ?? []),
      rules: this.rules, outbound: outboundVerbs(this.outbound), events: { emit }, pseudonym: (id) => pseudonymOf(key, id),
      // The retention service is built once the declarations are known (below); features ask it at run time.
      retentionDays: (dataClass, groupId) => this.retention.daysForGroup(dataClass, groupId),
    })
    if (!this.host.has(DIRECTORY)) throw new Error('no feature provides the group directory (the groups feature must be registered)')
    const declared = declaredPersonalData(definitions)
    const db = this.db
    this.erasure = new ErasureService({
      store: new DbPersonalDataStore(db, declared), keys: this.ports.keys, pubsub: this.ports.pubsub, key,
      // The rules store first: current rule values are rewritten through its one write path.
      hooks: () => [{ name: 'rules', erase: (s) => this.rules.eraseMember(s) }, ...this.host.live.flatMap((f) => (f.instance.eraseMember ? [{ name: f.name, erase: f.instance.eraseMember }] : []))],
      flush: () => this.flush(), clock, log, origin: this.replicaId,
    })
    await this.erasure.start()
    const scopes = async () => (this.host.has(ACCESS) ? this.host.service(ACCESS).scopes() : new Map())
    this.retention = new RetentionService({ settings: config.retention, store: new DbRetentionStore(db), clock, log, timezone: config.timezone, scopes, declarations: declared })
    this.routes = [
      ...this.host.routes(), ...rulesRoutes(this.rules, (id) => this.directory.find(id)),
      ...retentionRoutes(this.retention, async (tokenId) => (await scopes()).has(tokenId)),
      ...erasureRoutes({ erasure: this.erasure, declared, tableOf: (entity) => db.getMetadata(entity).tableName, logFiles: config.privacy.logFiles, readLog: readLogFile }),
    ]
    this.wecomStore = new WecomStore(this.db)
    const paired = new Set(bots.filter((b) => b.channel === 'both' && b.wecom).map((b) => b.id))
    if (paired.size > 0) {
      const store = this.wecomStore
      this.routes.push(...wecomLinkRoutes({
        pairedBots: paired, store, clock, find: (id) => this.directory.find(id), publish: (event) => this.processor.publish(event),
        chatExists: async (botId, chatId) => {
          const definition = byId.get(botId)
          if (!definition) return 'unavailable'
          try {
            await getGroupChat(this.officialChannel(definition).api, chatId)
            return 'yes'
          } catch (error) {
            if (error instanceof WecomApiError && !error.transient && error.errorClass !== 'config' && error.errorClass !== 'token') return 'no'
            return 'unavailable'
          }
        },
      }))
    }

    // A mark of a message in flight lasts no longer than a takeover, so a copy redelivered to the bot's next holder is processed.
    this.seen = this.ports.seen(config.pipeline.dedupeTtlHours * 3_600_000, new DbSeenStore(this.db), {
      // Kept alive while in flight here; after a death it must lapse before the bot's lease can be taken
      // (no sooner than leaseTtlMs − renewEveryMs after the last renewal), so the next holder processes the copy.
      inflightMs: Math.max(500, config.replicas.leaseTtlMs - config.replicas.renewEveryMs),
      fallbackMs: config.pipeline.dedupeFallbackMinutes * 60_000,
      onError: (backend) => this.metrics?.backendErrors.inc({ backend, op: 'dedupe' }),
    })
    log.debug('dedupe marks restored', { count: await this.seen.load() })
    this.bus = new EventBus(this.host.batchConsumers(), { clock, log, settings: { maxBatch: 500, retryBaseMs: 500, maxRetryMs: 60_000 } })
    this.processor = new MessageProcessor({
      middleware: this.host.middleware(), inline: this.host.inlineConsumers(), bus: this.bus, seen: this.seen,
      directory: this.directory, rules: this.rules, sink: this.outbound, declared: (type) => this.host.declared(type), log,
      storage: this.storage, maxQueuePerGroup: config.pipeline.maxQueuePerGroup, isCommand: (m) => this.host.isCommand(m),
      // Measured only when /metrics is served: two clock reads per feature per message.
      onFeatureTime: config.metrics.enabled ? (feature, seconds) => this.metrics?.featureSeconds.observe({ feature }, seconds) : undefined,
    })
    this.channels = new ChannelHost({ processor: this.processor, queue: this.outbound, log, notify: (o) => this.notify(o) })
    // Every action's final state is an event: features learn whether a removal went through, and so on.
    this.outbound.onOutcome(({ action, status, error, outcome }) => {
      emit(OutboundFinished.of({
        id: `outbound:${action.cause ?? ''}:${action.kind}:${clock.now()}`, at: clock.now(), botId: action.botId, groupId: 'groupId' in action ? action.groupId : undefined,
        kind: action.kind, memberId: 'memberId' in action ? action.memberId : undefined, cause: action.cause, status, error, note: action.note,
        ...(outcome === undefined ? {} : { outcome }),
      }))
    })

    this.metrics = new Metrics({
      replica: this.replicaId,
      messageQueue: () => ({ depth: this.processor.backlog, deepest: this.processor.deepestGroup }),
      databaseUp: () => !(this.storage?.down ?? false),
      queueDepth: () => this.outbound.size,
      queueActive: () => this.outbound.active,
      bots: () => bots.map((b) => ({ bot: b.id, online: this.channels.get(b.id)?.online ?? false, held: this.ownership.holds(b.id) })),
    })
    const metrics = this.metrics
    this.observe((o) => { if (o.kind === 'message') metrics.messages.inc({ result: o.result }) })
    this.outbound.onOutcome(({ action, status }) => metrics.outbound.inc({ kind: action.kind, status }))
    this.ownership.onChange(({ botId, held }) => metrics.leaseChanges.inc({ bot: botId, held: held ? '1' : '0' }))
    this.retention.onRun = (run) => metrics.retentionRun(run)

    this.flushTimer = setInterval(() => { void this.flush().catch(() => undefined) }, config.activity.flushIntervalMs)
    this.flushTimer.unref()

    this.scheduler = new Scheduler({ fences: new DbFenceStore(this.db), clock, log, owner: `${this.replicaId}:${randomUUID().slice(0, 8)}`.slice(0, 100), takeoverMs: config.replicas.claimTtlMs })
    for (const job of this.host.jobs()) this.scheduler.add(job)
    for (const job of this.retention.jobs()) this.scheduler.add(job)
    for (const bot of bots) {
      if ((bot.channel ?? 'puppet') === 'puppet' || !bot.wecom) continue
      const channel = this.officialChannel(bot)
      // Fenced: one replica reconciles each tick.
      this.scheduler.add({ name: `wecom.reconcile.${bot.id}`, cron: bot.wecom.reconcileCron, timezone: config.timezone, run: async (tick) => { await channel.reconcile(tick.getTime()) } })
    }
    if (bots.some((b) => (b.channel ?? 'puppet') !== 'puppet' && b.wecom)) {
      const store = this.wecomStore
      // Processed callbacks are kept a week (for looking into a problem), then deleted.
      this.scheduler.add({ name: 'wecom.purge-inbox', cron: '50 3 * * *', timezone: config.timezone, run: async () => { await store.purge(clock.now() - 7 * 86_400_000) } })
    }
    const seen = this.seen
    this.scheduler.add({ name: 'core.purge-dedupe-marks', cron: '40 3 * * *', timezone: config.timezone, run: () => seen.purge() })
    if (this.options.scheduler !== false) await this.scheduler.start()

    this.proceed()
    if (this.options.http !== false) await this.listen()

    setWechatyLogLevel(config.log.level)
    // Actions stored for a bot held here (by another replica, or whose claim expired) are claimed and performed.
    this.disposeHandoff = await this.ports.pubsub.subscribe(HANDOFF_CHANNEL, (botId) => this.resumeHeld(botId))
    this.claimTimer = setInterval(() => {
      void this.outbound.renewClaims().catch((error: unknown) => log.warn('outbound claims not renewed', { error: errorText(error) }))
      for (const botId of this.ownership.bots) this.resumeHeld(botId)
    }, Math.max(100, Math.min(replicas.renewEveryMs, Math.floor(replicas.claimTtlMs / 3))))
    this.claimTimer.unref()
    this.proceed()
    // Bots start only once their lease is held here; free ones are looked for every renewEveryMs.
    await this.ownership.start()
  }

  /** Claims and queues what is stored for a bot this replica runs (after its first login). */
  private resumeHeld(botId: string): void {
    if (!this.ownership.holds(botId) || !this.channels.get(botId)?.online) return
    void this.outbound.resume(botId).catch((error: unknown) => this.log.warn('could not resume outbound queue', { bot: botId, error: errorText(error) }))
  }

  /** Feeds one message straight into the pipeline (benchmarks; the bots use the same path). */
  async submit(message: IncomingMessage): Promise<ProcessResult> {
    const result = await this.processor.submit(message)
    if (result === 'processed' || result === 'failed') this.seen?.processed(message.id)
    return result
  }

  /** Calls `observer` after each message and event from the bots is processed; returns a disposer. */
  observe(observer: (o: RuntimeObservation) => void): () => void {
    this.observers.add(observer)
    return () => this.observers.delete(observer)
  }

  private notify(o: RuntimeObservation): void {
    // Only the copy that went through the pipeline confirms its mark (a duplicate's notice must not confirm the original's early).
    if (o.kind === 'message' && (o.result === 'processed' || o.result === 'failed')) this.seen?.processed(o.id)
    for (const observer of this.observers) observer(o)
  }

  /** Publishes an event into the pipeline's per-group order (as a channel would). */
  publish(event: EventBase): Promise<void> { return this.processor.publish(event) }

  /** Writes every buffered counter, log row and dedupe mark now (one write at a time; see SerialRunner). */
  flush(): Promise<void> { return this.flusher.run() }

  private async writeBuffers(): Promise<void> {
    const end = this.metrics?.flushSeconds.startTimer()
    // The marks this flush may confirm: messages processed before any buffer below is taken. One processed
    // while they are written has its effects in the next flush's buffers, and its mark waits for that one.
    // Their events must have reached the batched consumers' buffers too: a consumer that does not catch up
    // in time (failing, retrying) leaves the marks sealed for a later flush.
    this.seen?.seal()
    const delivered = this.bus ? await this.bus.caughtUp(EVENTS_CATCH_UP_MS) : true
    const flushed = await this.host?.each('flush', this.log, (feature, error) => {
      this.metrics?.flushErrors.inc()
      this.metrics?.backendErrors.inc({ backend: 'database', op: 'flush' })
      if (this.storage?.unavailable(error)) this.storage.markDown()
    }, (feature, rows) => { if (typeof rows === 'number' && rows > 0) this.metrics?.flushedRows.inc({ feature }, rows) }) ?? true
    // Effects first (rows, queued replies), then the dedupe marks that say they happened — only once every
    // buffer was written: marks confirmed over unwritten effects would turn a crash now into a loss.
    await this.outbound?.stored()
    if (this.seen && flushed && delivered) {
      try { await this.seen.flush() } catch (error) {
        this.metrics?.flushErrors.inc()
        this.log.error('dedupe flush failed', { error: errorText(error) })
      }
    }
    end?.()
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
    // Input stops first; the bots stay connected until what is queued for them went out.
    this.channels?.stopInput()
    await this.scheduler?.stop()
    // Messages waiting for an unreachable database get the drain timeout, then go on (and fail) so the stop ends.
    if (this.processor && this.storage?.down) await Promise.race([this.processor.idle(), new Promise((r) => setTimeout(r, this.config.shutdown.drainTimeoutMs).unref())])
    this.storage?.stop()
    await this.processor?.idle()
    await this.host?.each('drain', log)
    await this.processor?.idle()
    if (this.outbound) {
      const drained = await this.outbound.drain(this.config.shutdown.drainTimeoutMs)
      await this.outbound.stop()
      if (!drained) log.warn('outbound queue not empty at shutdown; the rest is kept and resumed at next start', { pending: this.outbound.size })
    }
    if (this.claimTimer) clearInterval(this.claimTimer)
    await this.disposeHandoff?.()
    // The leases go last among the bots' work: another replica takes them over at once.
    await this.ownership?.stop()
    await this.processor?.idle()
    if (this.bus && !(await this.bus.drain(this.config.shutdown.drainTimeoutMs))) log.warn('event consumers still busy at shutdown', { events: this.bus.backlog })
    this.bus?.stop()
    await this.channels?.stop()
    if (this.flushTimer) clearInterval(this.flushTimer)
    if (this.db) await this.flush()
    await this.host?.each('stop', log)
    await this.erasure?.stop()
    if (this.server) await new Promise<void>((resolve) => this.server?.close(() => resolve()))
    await this.rules?.stop()
    await this.ports?.close()
    // Every write plan sent is committed (or failed to its caller) before the thread and connection end.
    if (this.db) await stopSqliteWriter(this.db)
    if (this.db?.isInitialized) await this.db.destroy()
    log.info('stopped cleanly')
  }

  private async listen(): Promise<void> {
    const { api } = this.config
    const access = this.host.service(ACCESS)
    const bucket = (r: { perMinute: number; burst: number }) => ({ capacity: r.burst, refillPerSec: r.perMinute / 60 })
    const app = createHttpApp({
      routes: this.routes,
      log: this.log,
      auth: access,
      audit: { append: (entry) => access.audit(entry) },
      rateLimiter: this.ports.rateLimiter,
      clock: this.clock,
      bodyLimit: api.bodyLimitBytes,
      corsOrigins: api.corsOrigins,
      trustProxy: api.trustProxy,
      limits: {
        perToken: bucket(api.rateLimits.perToken), perIp: bucket(api.rateLimits.perIp),
        failedAuthPerIp: bucket(api.rateLimits.failedAuthPerIp), tokenCreation: bucket(api.rateLimits.tokenCreation),
      },
      metrics: this.config.metrics.enabled && this.metrics ? { render: () => (this.metrics as Metrics).render(), token: this.config.metrics.token } : undefined,
      readiness: {
        database: () => (this.storage as DatabaseHealth).check(2_000),
        coordination: () => this.ports.ping(),
        bots: async () => this.channels.online,
      },
      webhooks: (['GET', 'POST'] as const).map((method) => ({
        method, path: '/wecom/callback/:botId', bodyLimit: 256 * 1024, doc: WECOM_CALLBACK_DOC[method],
        handle: async ({ params, query, body, ip }) => {
          const channel = this.wecom.get(params.botId ?? '')
          if (!channel) return { status: 404, body: 'no such bot' }
          return channel.handleCallback({ method, query, body, ip })
        },
      })),
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
    return !this.options.puppetFor && (bot.channel ?? 'puppet') !== 'official' && bot.resolvedPuppet !== 'wechaty-puppet-service' && (this.options.simulation ?? this.config.simulation.mode !== 'off')
  }

  /** The official-API channel of a bot (created once, before the scheduler and the callback URL need it). */
  private officialChannel(definition: BotDefinition): WecomChannel {
    let channel = this.wecom.get(definition.id)
    if (!channel) {
      channel = new WecomChannel({
        definition, clock: this.clock, log: this.log, store: this.wecomStore, replicaId: this.replicaId,
        media: async (ref) => {
          const found = this.host.has(MEDIA) ? await this.host.service(MEDIA).load(ref) : null
          return found ? { data: found.data, mimeType: found.mime } : null
        },
        coordination: { values: this.ports.values, leases: this.ports.leases, dedupe: this.ports.dedupe, rateLimiter: this.ports.rateLimiter },
        directory: {
          groupName: async (groupId) => (await this.directory.find(groupId))?.name ?? null,
          activeGroupIds: async (botId) => (await this.directory.activeGroups()).filter((g) => g.botId === botId).map((g) => g.id),
        },
      })
      this.wecom.set(definition.id, channel)
    }
    return channel
  }

  /**
   * The channel of a bot: its puppet account through wechaty (a real one, a test's, or the simulated
   * community's), the official WeCom API, or both paired.
   */
  private channelFor(definition: BotDefinition): { channel: Channel; world?: SimWorld } {
    const mode = definition.channel ?? 'puppet'
    if (mode === 'official') return { channel: this.officialChannel(definition) }
    const puppet = this.puppetChannel(definition)
    if (mode === 'both') {
      if (!this.wecomStore) throw new Error('storage is not open')
      const pairing = {
        store: this.wecomStore, dedupe: this.ports.dedupe, clock: this.clock, log: this.log.child({ bot: definition.id, channel: 'pair' }),
        directory: { activeGroups: () => this.directory.activeGroups(), find: (id: string) => this.directory.find(id), members: (id: string, opts?: { includeLeft?: boolean }) => this.directory.members(id, opts) },
      }
      return { channel: new PairedChannel(puppet.channel, this.officialChannel(definition), pairing), world: puppet.world }
    }
    return puppet
  }

  private puppetChannel(definition: BotDefinition): { channel: Channel; world?: SimWorld } {
    const { log } = this
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
    // Stored images (`media:` references) are loaded when sent, from whichever feature provides MEDIA.
    const media = (ref: string) => (this.host.has(MEDIA) ? this.host.service(MEDIA).load(ref) : Promise.resolve(null))
    return { channel: new WechatyChannel({ definition, puppet, clock: this.clock, log, media }), world }
  }

  private async startBot(definition: BotDefinition): Promise<void> {
    const { log } = this
    const { channel, world } = this.channelFor(definition)
    await this.channels.start(channel)
    if (!world) return
    if (!this.simulates(definition)) {
      log.warn('no WeCom token configured and the simulation is off: the bot has no account to run', { bot: definition.id })
      return
    }
    const { groups, minMembers, maxMembers, messagesPerMinute } = this.config.simulation
    this.community = new SimulatedCommunity(world, this.random, { groups, minMembers, maxMembers, messagesPerMinute }, log.child({ simulation: true }), this.clock)
    this.community.populate()
    await seedExampleAutoReplies(this.routes, log.child({ simulation: true }))
    world.login()
    this.community.start()
    const community = this.community
    void this.showcase(community, log.child({ simulation: true })).catch((error: unknown) => log.warn('simulation: the showcase stopped', { error: errorText(error) }))
    log.warn('SIMULATION: no WeCom token configured, so this bot runs a built-in simulated community on wechaty-puppet-mock. '
      + 'To connect a real account set WECHATY_PUPPET=wechaty-puppet-service and WECHATY_PUPPET_SERVICE_TOKEN=<your WorkPro token> (see README).', { bot: definition.id })
  }

  /**
   * What a first run shows besides the chatter, through the features' own routes: a lottery members enter
   * (drawn by the lottery job at its next minute once enough entered), a topic share sent at the next
   * minute at least 20 s away, and the stats of the day logged after 50 s and then four times a simulated day.
   */
  private async showcase(community: SimulatedCommunity, log: Logger): Promise<void> {
    const { clock } = this
    const ids = community.groupIds()
    // The groups are stored once the bot's login sync has run.
    for (let i = 0; i < 200 && community.isRunning(); i++) {
      if ((await Promise.all(ids.map((id) => this.directory.find(id)))).every((g) => g !== null)) break
      await clock.sleep(100)
    }
    if (!community.isRunning() || ids.length === 0) return
    const call = routeCaller(this.routes, log)
    const keyword = await seedExampleLottery(call, log, ids[0] as string)
    if (keyword) community.enterLottery(keyword, EXAMPLE_LOTTERY_ENTRIES + 1)
    const timezone = (await this.directory.find(ids[0] as string))?.timezone ?? this.config.timezone
    const at = localTime(Math.ceil((clock.now() + 20_000) / 60_000) * 60_000, timezone)
    const pad = (n: number): string => String(n).padStart(2, '0')
    await seedExampleShare(call, log, ids, `${at.day}T${pad(at.hour)}:${pad(at.minute)}`)
    await clock.sleep(50_000)
    while (community.isRunning()) {
      await logStatsFigures(call, log, localTime(clock.now(), timezone).day)
      await clock.sleep(SIMULATED_DAY_MS / 4)
    }
  }
}

/** A log file's lines for the residue scan, streamed (never read whole); null when it cannot be opened. */
export async function readLogFile(file: string): Promise<AsyncIterable<string> | null> {
  const stream = createReadStream(file, { encoding: 'utf8' })
  try {
    await new Promise<void>((resolve, reject) => { stream.once('open', () => resolve()); stream.once('error', reject) })
  } catch {
    stream.destroy()
    return null
  }
  return createInterface({ input: stream, crlfDelay: Infinity })
}
