import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ZodType } from 'zod'
import type { DataSource, EntityManager } from 'typeorm'
import type { Principal } from '../kernel/auth'
import { HttpError } from '../kernel/routes'
import { withTransaction } from '../adapters/db/transaction'
import type { RuleSet } from '../kernel/context'
import type { Logger } from '../kernel/logger'
import type { RuleSource } from '../kernel/processor'
import type { Clock } from '../ports/clock'
import type { Disposer, PubSub } from '../ports/ports'
import { GroupRuleEntity } from '../adapters/db/core.entity'
import { ConfigError, readYamlMapping } from '../config/load'

/** Channel on which rule changes are announced to every replica. */
export const RULES_CHANNEL = 'rules.changed'

/** A rule set as plain slices keyed by feature. */
class Slices implements RuleSet {
  constructor(readonly version: number, private readonly values: ReadonlyMap<string, unknown>) {}
  slice(feature: string): unknown { return this.values.get(feature) }
}

/** One problem with a rule slice: where (dotted path) and what. */
export interface RuleProblem { path: string; message: string }

/** Who changes a group's rules and why: reference checks use the caller, versions record it. */
export interface RuleChange {
  /** The API caller; null for the system (rule packs, rehearsals, the CLI), which may use anything. */
  by: Principal | null
  /** Why, for the version history (e.g. "rollback to v3"). */
  note?: string | null
}

/** What a write did: the slice before and after (both validated) and the version it made. */
export interface RuleWrite {
  before: unknown
  value: unknown
  /** The feature's own version number when its writer records versions, else the slice's change counter. */
  version: number
}

/**
 * A feature's hooks on the one write path of its rules (RuleStore.set), so every way of changing them —
 * the feature's own routes, the generic rules route, rollbacks, rehearsals — is checked and recorded alike.
 */
export interface RuleWriter {
  /**
   * Problems with what the (schema-valid) slice refers to — e.g. word lists that do not exist or that the
   * caller may not use — with paths relative to the slice. `before` is the group's current slice.
   */
  check?(groupId: string, value: unknown, before: unknown, change: RuleChange): Promise<RuleProblem[]>
  /** Records the accepted slice (e.g. as a new version), in the transaction that stores it; returns its version number. */
  record?(m: EntityManager, groupId: string, value: unknown, change: RuleChange): Promise<number>
}

/**
 * A RuleValidationError as the API's 400 (paths under `prefix`, without the feature name); any other error
 * unchanged. Every rules route answers bad rules with this.
 */
export function ruleProblems(error: unknown, prefix: string, message = 'invalid rules'): unknown {
  if (!(error instanceof RuleValidationError)) return error
  return new HttpError(400, 'invalid_input', message, error.problems.map((p) => ({ path: [prefix, ...p.path.split('.').slice(1)].join('.'), message: p.message })))
}

/** Thrown when a rule slice does not validate; carries every problem. */
export class RuleValidationError extends Error {
  constructor(readonly problems: Array<{ path: string; message: string }>) {
    super(`invalid rules: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`)
    this.name = 'RuleValidationError'
  }
}

/** A rule pack's validated values: one slice per feature. */
export type RulePack = Record<string, unknown>

/**
 * Reads and validates a rule pack file (rules/<file>) against the features' schemas, without touching
 * storage, so a bad pack stops the start before anything opens. Throws ConfigError listing every problem.
 */
export function readRulePack(rulesDir: string, file: string, schemas: ReadonlyMap<string, ZodType>): RulePack {
  const label = `${rulesDir}/${file}`
  const path = resolve(join(rulesDir, file))
  if (!existsSync(path)) throw new ConfigError([`${label}: rule pack not found`])
  const problems: string[] = []
  const raw = readYamlMapping(path, problems, label)
  if (raw === null) throw new ConfigError(problems)
  const pack: RulePack = {}
  for (const [feature, value] of Object.entries(raw)) {
    const schema = schemas.get(feature)
    if (!schema) { problems.push(`${label}: ${feature}: no feature with rules of this name`); continue }
    const parsed = schema.safeParse(value ?? {})
    if (!parsed.success) for (const i of parsed.error.issues) problems.push(`${label}: ${[feature, ...i.path].join('.')}: ${i.message}`)
    else pack[feature] = value ?? {}
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return pack
}

/**
 * Validated, cached rules per group: the bot's rule pack (rules/*.yaml) overlaid with per-group overrides
 * from the database, each slice parsed by its feature's zod schema. Changes are written, then announced
 * on pub/sub so every replica drops its cached copy.
 */
export class RuleStore implements RuleSource {
  private readonly cache = new Map<string, Promise<RuleSet>>()
  private readonly packs = new Map<string, RulePack>()
  private readonly groupPack = new Map<string, string>()
  private unsubscribe?: Disposer
  private readonly writers = new Map<string, RuleWriter>()

  constructor(private readonly deps: {
    db: DataSource
    pubsub: PubSub
    clock: Clock
    log: Logger
    rulesDir: string
    schemas: ReadonlyMap<string, ZodType>
  }) {}

  /** Loads and validates a rule pack file now (bad packs stop the start with every problem listed). */
  loadPack(file: string): void {
    if (!this.packs.has(file)) this.usePack(file, readRulePack(this.deps.rulesDir, file, this.deps.schemas))
  }

  /** Uses a rule pack already read and validated by readRulePack. */
  usePack(file: string, pack: RulePack): void {
    this.packs.set(file, pack)
  }

  /** Says which rule pack a group's defaults come from (its bot's). */
  assignPack(groupId: string, file: string): void {
    if (this.groupPack.get(groupId) !== file) {
      this.groupPack.set(groupId, file)
      this.cache.delete(groupId)
    }
  }

  /** Names of the features that have rules. */
  features(): string[] { return [...this.deps.schemas.keys()] }

  /** Starts listening for changes made by other replicas. */
  async start(): Promise<void> {
    this.unsubscribe = await this.deps.pubsub.subscribe(RULES_CHANNEL, (groupId) => {
      this.cache.delete(groupId)
      this.deps.log.debug('rules cache invalidated', { group: groupId })
    })
  }

  /** Stops listening. */
  async stop(): Promise<void> { await this.unsubscribe?.() }

  /** The group's validated rules (cached). */
  forGroup(groupId: string): Promise<RuleSet> {
    let entry = this.cache.get(groupId)
    if (!entry) {
      entry = this.load(groupId)
      this.cache.set(groupId, entry)
      entry.catch(() => this.cache.delete(groupId))
    }
    return entry
  }

  /** Makes `writer` the hooks of `feature`'s write path (one per feature); returns a disposer. */
  registerWriter(feature: string, writer: RuleWriter): Disposer {
    if (!this.deps.schemas.has(feature)) throw new Error(`no feature "${feature}" with rules`)
    if (this.writers.has(feature)) throw new Error(`feature "${feature}" already has a rules writer`)
    this.writers.set(feature, writer)
    return async () => { if (this.writers.get(feature) === writer) this.writers.delete(feature) }
  }

  /**
   * Validates one feature's slice for a group without storing it: its schema, then its writer's reference
   * checks against the group's current slice. Returns the parsed slice and the current one (for dry-runs
   * of drafts, which must be refused exactly as a save would be).
   */
  async validate(groupId: string, feature: string, value: unknown, change: RuleChange): Promise<{ before: unknown; value: unknown }> {
    const schema = this.deps.schemas.get(feature)
    if (!schema) throw new RuleValidationError([{ path: feature, message: 'no feature with rules of this name' }])
    const parsed = schema.safeParse(value)
    if (!parsed.success) throw new RuleValidationError(parsed.error.issues.map((i) => ({ path: [feature, ...i.path].join('.'), message: i.message })))
    const before = (await this.forGroup(groupId)).slice(feature)
    const problems = (await this.writers.get(feature)?.check?.(groupId, parsed.data, before, change)) ?? []
    if (problems.length > 0) throw new RuleValidationError(problems.map((p) => ({ path: p.path ? `${feature}.${p.path}` : feature, message: p.message })))
    return { before, value: parsed.data }
  }

  /**
   * The one write path of every feature's rules: validates (schema and the feature's reference checks),
   * stores the slice with the feature's record of it (its version) in one transaction, then announces
   * the change so every replica drops its cached copy.
   */
  async set(groupId: string, feature: string, value: unknown, change: RuleChange = { by: null }): Promise<RuleWrite> {
    const checked = await this.validate(groupId, feature, value, change)
    const writer = this.writers.get(feature)
    const version = await withTransaction(this.deps.db, async (m) => {
      const repo = m.getRepository(GroupRuleEntity)
      const existing = await repo.findOneBy({ groupId, feature })
      const counter = (existing?.version ?? 0) + 1
      const recorded = writer?.record ? await writer.record(m, groupId, checked.value, change) : null
      await repo.save({ groupId, feature, value: checked.value, version: counter, updatedAt: this.deps.clock.now() })
      return recorded ?? counter
    })
    this.cache.delete(groupId)
    await this.deps.pubsub.publish(RULES_CHANNEL, groupId)
    return { before: checked.before, value: checked.value, version }
  }

  private async load(groupId: string): Promise<RuleSet> {
    const pack = this.packs.get(this.groupPack.get(groupId) ?? 'default.yaml') ?? {}
    const rows = await this.deps.db.getRepository(GroupRuleEntity).findBy({ groupId })
    const overrides = new Map(rows.map((r) => [r.feature, r.value]))
    const values = new Map<string, unknown>()
    let version = 0
    for (const row of rows) version += row.version
    for (const [feature, schema] of this.deps.schemas) {
      const raw = overrides.has(feature) ? overrides.get(feature) : (pack[feature] ?? {})
      const parsed = schema.safeParse(raw)
      if (parsed.success) values.set(feature, parsed.data)
      else {
        // A stored slice that no longer validates (schema changed): fall back to defaults, loudly.
        this.deps.log.error('stored rules invalid; using defaults', { group: groupId, feature, problems: parsed.error.issues.map((i) => i.message) })
        values.set(feature, schema.parse({}))
      }
    }
    return new Slices(version, values)
  }
}
