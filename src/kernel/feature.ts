import type { ZodType } from 'zod'
import type { Clock } from '../ports/clock'
import type { Counters, Leases, PubSub, RateLimiter } from '../ports/ports'
import type { Random } from '../ports/random'
import type { GroupInfo, MessageContext } from './context'
import type { EventBase, EventKind } from './events'
import type { Logger } from './logger'
import type { Outbound } from './outbound-service'
import type { IncomingMessage } from './context'
import type { DataClass, ErasureCount, ErasureSubject, PersonalDataDeclaration } from './personal-data'
import type { Middleware } from './pipeline'
import type { RouteDefinition } from './routes'
import type { RuleChange, RuleCheck, RuleDiff, RuleDryRun, RuleVersion, RuleWrite } from './rules'

/**
 * The feature contract. A feature is one folder with one `defineFeature(...)`: its name, its slice of a
 * group's rules, its tables and migrations, the events it emits and consumes, the services it offers and
 * needs, and a `setup` that receives a narrow `FeatureApp` — never another feature's tables, the raw
 * database, or the whole process configuration.
 */

/** A named, typed service that one feature provides and others inject (Koishi's provide/inject). */
export interface ServiceKey<S> {
  readonly name: string
  /** Phantom: carries the service type; never set. */
  readonly __service?: S
}

/** Declares a service key (kept in `src/contracts/`, so consumers never import the provider). */
export function serviceKey<S>(name: string): ServiceKey<S> {
  return { name }
}

/** A scheduled job: a cron expression and what to run; each fire time runs once across replicas. */
export interface JobDefinition {
  name: string
  cron: string
  /** IANA timezone for the cron expression (default the server's). */
  timezone?: string
  /** Missed ticks younger than this (ms) are run once at start (default: none are caught up). */
  catchUpMs?: number
  run(fireTime: Date): Promise<void>
}

/** A feature's slice of a group's rules. */
export interface RulesSpec<R> {
  /** Schema of the slice; must accept `{}` and fill defaults. It is also the API's request body. */
  schema: ZodType<R>
}

/** What a feature adds to its rules path once set up (these need its live parts: lists, strike book …). */
export interface RulesHooks<R> {
  /** Reference checks beyond the schema (e.g. word lists the caller may use); problems → 400. */
  check?: RuleCheck<R>
  /** A dry run: "what would these rules do with this message" (feature-specific body). */
  dryRun?: RuleDryRun<R>
}

/**
 * A feature's own rule slice: read it, and change it only through the one rules path (schema, the
 * feature's reference checks, a new version, every replica told) — the same functions the generic rules
 * API uses, so no route of the feature can write rules another way.
 */
export interface FeatureRules<R> {
  /** This feature's validated slice from a message context (no I/O). */
  of(ctx: Pick<MessageContext, 'rules'>): R
  /** This feature's validated slice for a group (cached). */
  forGroup(groupId: string): Promise<R>
  /** Validates a draft exactly as a write would (schema and reference checks), without storing it. */
  validate(groupId: string, raw: unknown, change: RuleChange): Promise<{ value: R; before: R }>
  /** Writes a new version. */
  write(groupId: string, raw: unknown, change: RuleChange): Promise<RuleWrite<R>>
  /** Makes an earlier version live again (a new version); null when it does not exist. */
  rollback(groupId: string, version: number, change: RuleChange): Promise<RuleWrite<R> | null>
  /** Versions, newest first. */
  versions(groupId: string, limit?: number): Promise<RuleVersion[]>
  /** The latest version number (0: never changed). */
  latest(groupId: string): Promise<number>
  /** What changed between two versions (0 = defaults). */
  diff(groupId: string, from: number, to: number): Promise<{ missing: number } | { changes: RuleDiff[] }>
}

/** Coordination ports a feature may use (Redis in production, in-process when embedded). */
export interface Coordination {
  counters: Counters
  rateLimiter: RateLimiter
  leases: Leases
  pubsub: PubSub
}

/** Emits events outside a message (jobs, consumers, routes); delivered like events from the chain. */
export interface EventEmitter {
  emit(event: EventBase): void
}

/** What a feature receives at setup: its own slice of everything, nothing more. */
export interface FeatureApp<R, C, Store> {
  readonly name: string
  /** Child logger carrying `feature`. */
  readonly log: Logger
  readonly clock: Clock
  readonly random: Random
  /** Its own configuration slice (process config, not group rules). */
  readonly config: C
  /** Its own tables (a repository per declared entity; other tables are refused). */
  readonly store: Store
  readonly coordination: Coordination
  /** Its own rule slice per group. */
  readonly rules: FeatureRules<R>
  /** Every action toward the platform outside a message context (jobs, consumers). */
  readonly outbound: Outbound
  readonly events: EventEmitter
  /** A member's pseudonym in this deployment (HMAC-SHA256 with the deployment key, hex): what proofs and exports name. */
  pseudonym(memberId: string): string
  /** Days a data class is kept for a group under the retention policies in force (null = kept): its owners' shortest. */
  retentionDays(dataClass: DataClass, groupId: string): Promise<number | null>
  /** A service it declared in `inject`. */
  use<S>(key: ServiceKey<S>): S
  /** Offers a service it declared in `provides`. */
  provide<S>(key: ServiceKey<S>, service: S): void
}

/** What a feature contributes once set up. Every part is optional. */
export interface FeatureInstance {
  /** Reference checks and dry run of its rules. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- an instance of any feature; its own definition types the hooks
  rules?: RulesHooks<any>
  /** Its step on the message path. */
  middleware?: Middleware<MessageContext>
  /**
   * Whether a message is one of its commands (a check-in, a lottery keyword): when a group's queue is full
   * the oldest waiting message that no feature calls a command is shed, so commands are kept.
   */
  isCommand?: (message: IncomingMessage) => boolean | Promise<boolean>
  /**
   * Consumed events, inline: in per-group order with the group's messages, awaited before the next
   * one (state owners such as the group directory). Only kinds listed in `events.consumes` arrive.
   */
  onEvent?: (event: EventBase) => Promise<void> | void
  /**
   * Consumed events, batched: delivered after the chain, in order, at least once (a failing batch is
   * retried), so consumers must be idempotent (use `event.id`). Only kinds in `events.consumes` arrive.
   */
  onEvents?: (events: readonly EventBase[]) => Promise<void>
  routes?: RouteDefinition[]
  jobs?: JobDefinition[]
  /** A section of a group's detail view (e.g. its activity of the last 7 days). */
  summary?: (group: GroupInfo) => Promise<Record<string, unknown>>
  /** Writes buffered state (on the flush interval and at shutdown); may resolve the rows it wrote (metrics). */
  flush?: () => Promise<void | number>
  /** Hands over buffered outbound work (batched answers) before the queue drains at shutdown. */
  drain?: () => Promise<void>
  /** Releases resources at shutdown (after the final flush). */
  stop?: () => Promise<void> | void
  /**
   * Erases a member from state outside the declared tables (in-memory caches, Redis keys, JSON blobs),
   * on every replica's request; returns what it removed. Declared tables are handled by the kernel.
   */
  eraseMember?: (subject: ErasureSubject) => Promise<ErasureCount[]>
}

/** A migration class as TypeORM runs it (constructed without arguments). */
export type MigrationClass = new () => { name?: string }

/** One capability, self-describing. `Store` and `Cfg` are bound by the composition root's storage and config. */
export interface FeatureDefinition<R, C, Store, Cfg> {
  name: string
  /** Its slice of a group's rules. */
  rules?: RulesSpec<R>
  /** Its own process configuration, picked from the whole. */
  config?: (all: Cfg) => C
  /** Entity classes (constructors) of its tables. */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes entity constructors of any shape
  entities?: Function[]
  /** Migrations creating and changing its tables, in order. */
  migrations?: MigrationClass[]
  /** Events it emits (nobody else may emit these types) and consumes. */
  events?: { emits?: readonly EventKind[]; consumes?: readonly EventKind[] }
  /** The personal data its tables hold (retention classes, erasure); required for any table naming a member. */
  personalData?: PersonalDataDeclaration
  /** Services it needs; set up after their providers. */
  inject?: readonly ServiceKey<unknown>[]
  /** Services it offers (it must `provide` each during setup). */
  provides?: readonly ServiceKey<unknown>[]
  setup(app: FeatureApp<R, C, Store>): FeatureInstance | Promise<FeatureInstance>
}

/** A feature definition whose rule, config and store types no longer matter (the registry's view). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the registry holds features of different rule/config types; each is type-checked where it is defined
export type AnyFeature<Store = any, Cfg = any> = FeatureDefinition<any, any, Store, Cfg>
