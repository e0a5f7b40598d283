import type { ZodType } from 'zod'
import type { Clock } from '../ports/clock'
import type { Disposer, PubSub } from '../ports/ports'
import type { Principal } from './auth'
import type { GroupRecord, MessageContext, RuleSet } from './context'
import type { FeatureRules, RulesHooks, RulesSpec } from './feature'
import { errorText, type Logger } from './logger'
import { replaceMemberInJson, type ErasureCount, type ErasureSubject } from './personal-data'
import type { ErrorDetail } from './routes'

/** Channel on which rule changes are announced to every replica. */
export const RULES_CHANNEL = 'rules.changed'

/** One problem with a rule slice: where (dotted path, starting with the feature's name) and what. */
export interface RuleProblem { path: string; message: string }

/** Thrown when a rule slice does not validate or refers to what it may not; carries every problem. */
export class RuleValidationError extends Error {
  constructor(readonly feature: string, readonly problems: RuleProblem[]) {
    super(`invalid ${feature} rules: ${problems.map((p) => `${p.path || '(root)'}: ${p.message}`).join('; ')}`)
    this.name = 'RuleValidationError'
  }
}

/** Who changes a group's rules and why: reference checks use the caller; versions record both. */
export interface RuleChange {
  /** The API caller; null for the system (rule packs, rehearsals, the CLI), which may use anything. */
  by: Principal | null
  /** Why, for the version history (e.g. "rollback to v3"). */
  note?: string | null
  /** The author recorded for a system change (`by` null), e.g. "erasure". */
  author?: string
}

/** Reference checks beyond the schema: problems with what a (schema-valid) slice refers to (paths inside the slice). */
export type RuleCheck<R> = (input: { groupId: string; value: R; before: R; change: RuleChange }) => Promise<RuleProblem[]>

/** A feature's dry run: "what would these rules do with this message" (nothing is sent or counted). */
export interface RuleDryRun<R, B = unknown> {
  /** Body of the dry-run request (the feature's own shape; OpenAPI shows it). */
  body: ZodType<B>
  run(input: { group: GroupRecord; rules: R; body: B; caller: Principal | null }): Promise<unknown>
}

/** A stored version of one feature's slice. */
export interface RuleVersion {
  version: number
  value: unknown
  author: string | null
  note: string | null
  at: number
}

/** Storage of rules: current slices per group and every version (the database implements it). */
export interface RuleRepository {
  /** The group's stored slices with their current version numbers. */
  current(groupId: string): Promise<Array<{ feature: string; value: unknown; version: number }>>
  /** Stores `value` as the group's slice and as a new version, atomically; returns the version number. */
  write(input: { groupId: string; feature: string; value: unknown; author: string | null; note: string | null; at: number }): Promise<number>
  /** Versions of a slice, newest first. */
  versions(groupId: string, feature: string, limit: number): Promise<RuleVersion[]>
  /** One version, or null. */
  version(groupId: string, feature: string, version: number): Promise<RuleVersion | null>
  /**
   * Current slices whose stored value contains `needle` as text (candidates for erasure), within the
   * groups when given, in (group, feature) order after `after`, at most `limit`.
   */
  containing(needle: string, groupIds: readonly string[] | undefined, after: { groupId: string; feature: string } | null, limit: number): Promise<Array<{ groupId: string; feature: string; value: unknown }>>
}

/** What a write did: the slice before and after (both validated) and the version it made. */
export interface RuleWrite<R = unknown> {
  before: R
  value: R
  version: number
}

/** A rule set as plain slices keyed by feature. */
class Slices implements RuleSet {
  constructor(readonly version: number, private readonly values: ReadonlyMap<string, unknown>) {}
  slice(feature: string): unknown { return this.values.get(feature) }
}

/** A change between two versions of a slice. */
export interface RuleDiff { path: string; before: unknown; after: unknown }

/** Every leaf path of a JSON value with its JSON text (arrays compared whole). */
function leaves(value: unknown, path = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, path ? `${path}.${k}` : k, out)
  } else out.set(path, JSON.stringify(value))
  return out
}

/** The paths that differ between two slices, with both values. */
export function diffRules(a: unknown, b: unknown): RuleDiff[] {
  const la = leaves(a)
  const lb = leaves(b)
  const paths = [...new Set([...la.keys(), ...lb.keys()])].sort()
  const parse = (m: Map<string, string>, p: string): unknown => (m.has(p) ? JSON.parse(m.get(p) as string) as unknown : null)
  return paths.filter((p) => la.get(p) !== lb.get(p)).map((p) => ({ path: p, before: parse(la, p), after: parse(lb, p) }))
}

/** Rule problems as the API's 400 details, under `prefix` (e.g. `body` or `body.rules`) instead of the feature name. */
export function ruleDetails(error: RuleValidationError, prefix: string): ErrorDetail[] {
  return error.problems.map((p) => ({ path: [prefix, ...p.path.split('.').slice(1)].join('.'), message: p.message }))
}

/**
 * The one rules path of every feature: validated, cached rules per group — the bot's rule pack overlaid
 * with per-group overrides — and the only way to change them: schema, the feature's reference checks,
 * a new version (author, note, time), then every replica drops its cached copy (pub/sub). Versions can be
 * listed, diffed and rolled back (a rollback is a new version, checked like any write).
 */
export class RuleStore {
  private readonly cache = new Map<string, Promise<RuleSet>>()
  private readonly hooks = new Map<string, RulesHooks<unknown>>()
  private unsubscribe?: Disposer

  constructor(private readonly deps: {
    repository: RuleRepository
    pubsub: PubSub
    clock: Clock
    log: Logger
    /** Each feature's rule schema. */
    specs: ReadonlyMap<string, RulesSpec<unknown>>
    /** Validated rule packs by bot id (bots without one use `defaultPack`). */
    packs: ReadonlyMap<string, Record<string, unknown>>
    defaultPack: Record<string, unknown>
    /** The bot that serves a group, when the caller does not know it (routes, jobs). */
    botOf(groupId: string): Promise<string | null>
  }) {}

  /** Names of the features that have rules. */
  features(): string[] { return [...this.deps.specs.keys()] }

  /** A feature's rule schema and hooks. */
  spec(feature: string): (RulesSpec<unknown> & RulesHooks<unknown>) | undefined {
    const spec = this.deps.specs.get(feature)
    return spec ? { ...spec, ...this.hooks.get(feature) } : undefined
  }

  /** Adds a feature's reference checks and dry run (known once the feature is set up). */
  attach(feature: string, hooks: RulesHooks<unknown>): void {
    if (!this.deps.specs.has(feature)) throw new Error(`feature "${feature}" has no rules to check`)
    this.hooks.set(feature, hooks)
  }

  /** Starts listening for changes made by other replicas. */
  async start(): Promise<void> {
    this.unsubscribe = await this.deps.pubsub.subscribe(RULES_CHANNEL, (groupId) => {
      this.cache.delete(groupId)
      this.deps.log.debug('rules cache invalidated', { group: groupId })
    })
  }

  /** Stops listening. */
  async stop(): Promise<void> { await this.unsubscribe?.() }

  /** The group's validated rules (cached). `botId` is known on the message path and saves a lookup. */
  forGroup(groupId: string, botId?: string): Promise<RuleSet> {
    let entry = this.cache.get(groupId)
    if (!entry) {
      entry = this.load(groupId, botId)
      this.cache.set(groupId, entry)
      entry.catch(() => this.cache.delete(groupId))
    }
    return entry
  }

  /** One feature's typed view of the rules (handed to the feature at setup). */
  featureRules<R>(feature: string): FeatureRules<R> {
    return {
      of: (ctx: Pick<MessageContext, 'rules'>) => ctx.rules.slice(feature) as R,
      forGroup: async (groupId: string) => (await this.forGroup(groupId)).slice(feature) as R,
      validate: (groupId, raw, change) => this.validate(groupId, feature, raw, change) as Promise<{ value: R; before: R }>,
      write: (groupId, raw, change) => this.write(groupId, feature, raw, change) as Promise<RuleWrite<R>>,
      rollback: (groupId, version, change) => this.rollback(groupId, feature, version, change) as Promise<RuleWrite<R> | null>,
      versions: (groupId, limit) => this.versions(groupId, feature, limit),
      latest: (groupId) => this.latest(groupId, feature),
      diff: (groupId, from, to) => this.diff(groupId, feature, from, to),
    }
  }

  /**
   * Validates a slice without storing it: the schema, then the feature's reference checks against the
   * group's current slice. Throws RuleValidationError; returns the parsed slice and the current one.
   */
  async validate(groupId: string, feature: string, raw: unknown, change: RuleChange): Promise<{ value: unknown; before: unknown }> {
    const spec = this.deps.specs.get(feature)
    if (!spec) throw new RuleValidationError(feature, [{ path: feature, message: `no feature "${feature}" with rules` }])
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new RuleValidationError(feature, [{ path: feature, message: 'rules must be an object' }])
    const parsed = spec.schema.safeParse(raw)
    if (!parsed.success) throw new RuleValidationError(feature, parsed.error.issues.map((i) => ({ path: [feature, ...i.path.map(String)].join('.'), message: i.message })))
    const before = (await this.forGroup(groupId)).slice(feature)
    const check = this.hooks.get(feature)?.check
    const problems = check ? await check({ groupId, value: parsed.data, before, change }) : []
    if (problems.length > 0) throw new RuleValidationError(feature, problems.map((p) => ({ path: p.path ? `${feature}.${p.path}` : feature, message: p.message })))
    return { value: parsed.data, before }
  }

  /** The one write: validate, check, store as a new version, announce. */
  async write(groupId: string, feature: string, raw: unknown, change: RuleChange): Promise<RuleWrite> {
    const { value, before } = await this.validate(groupId, feature, raw, change)
    const author = change.by ? `${change.by.role}:${change.by.tokenId}` : change.author ?? null
    const version = await this.deps.repository.write({ groupId, feature, value, author, note: change.note ?? null, at: this.deps.clock.now() })
    this.cache.delete(groupId)
    await this.deps.pubsub.publish(RULES_CHANNEL, groupId)
    this.deps.log.info('rules changed', { group: groupId, feature, version, by: author ?? 'system' })
    return { before, value, version }
  }

  /** Makes version `version` live again, as a new version (checked like any write). */
  async rollback(groupId: string, feature: string, version: number, change: RuleChange): Promise<RuleWrite | null> {
    const row = await this.deps.repository.version(groupId, feature, version)
    if (!row) return null
    return this.write(groupId, feature, row.value, { by: change.by, note: change.note ?? `rollback to v${version}` })
  }

  /**
   * Erasure of a member: every current slice holding the member's id as a value (an exemption list, a
   * mention) is rewritten with the pseudonym through the one write path — validated, stored as a new
   * version by "erasure", every replica's cache dropped over pub/sub. Only exact values are replaced
   * (never display names, never numbers or text that merely contain the id). A slice the pseudonym
   * does not validate in is left as it was and reported.
   */
  async eraseMember(s: ErasureSubject): Promise<ErasureCount[]> {
    const PAGE = 200
    let rewritten = 0
    const refused: string[] = []
    let after: { groupId: string; feature: string } | null = null
    for (;;) {
      const rows = await this.deps.repository.containing(s.memberId, s.groupIds, after, PAGE)
      for (const row of rows) {
        const { value, hits } = replaceMemberInJson(row.value, s.memberId, s.pseudonym)
        if (hits === 0) continue
        if (s.dryRun === true) { rewritten++; continue }
        try {
          await this.write(row.groupId, row.feature, value, { by: null, author: 'erasure', note: 'member erased' })
          rewritten++
        } catch (error) {
          if (!(error instanceof RuleValidationError)) throw error
          refused.push(row.feature)
          this.deps.log.warn('rules not rewritten on erasure: the pseudonym does not validate', { group: row.groupId, feature: row.feature, error: errorText(error) })
        }
      }
      const last = rows[rows.length - 1]
      if (rows.length < PAGE || !last) break
      after = { groupId: last.groupId, feature: last.feature }
    }
    return [{ place: 'rules:current', removed: 0, pseudonymised: rewritten, ...(refused.length > 0 ? { note: `${refused.length} slice(s) left unchanged (the pseudonym does not validate): ${[...new Set(refused)].join(', ')}` } : {}) }]
  }

  /** Versions of a feature's slice, newest first. */
  versions(groupId: string, feature: string, limit = 200): Promise<RuleVersion[]> {
    return this.deps.repository.versions(groupId, feature, limit)
  }

  /** The latest version number of a feature's slice (0 when it was never changed). */
  async latest(groupId: string, feature: string): Promise<number> {
    const [newest] = await this.deps.repository.versions(groupId, feature, 1)
    return newest?.version ?? 0
  }

  /** What changed between two versions (0 = the schema's defaults); null when a version does not exist. */
  async diff(groupId: string, feature: string, from: number, to: number): Promise<{ missing: number } | { changes: RuleDiff[] }> {
    const load = async (v: number): Promise<{ value: unknown } | null> => {
      if (v === 0) return { value: this.deps.specs.get(feature)?.schema.parse({}) }
      return this.deps.repository.version(groupId, feature, v)
    }
    const [a, b] = [await load(from), await load(to)]
    if (!a) return { missing: from }
    if (!b) return { missing: to }
    return { changes: diffRules(a.value, b.value) }
  }

  private async load(groupId: string, botId?: string): Promise<RuleSet> {
    const bot = botId ?? await this.deps.botOf(groupId)
    const pack = (bot ? this.deps.packs.get(bot) : undefined) ?? this.deps.defaultPack
    const rows = await this.deps.repository.current(groupId)
    const overrides = new Map(rows.map((r) => [r.feature, r.value]))
    const values = new Map<string, unknown>()
    let version = 0
    for (const row of rows) version += row.version
    for (const [feature, spec] of this.deps.specs) {
      const raw = overrides.has(feature) ? overrides.get(feature) : (pack[feature] ?? {})
      const parsed = spec.schema.safeParse(raw)
      if (parsed.success) values.set(feature, parsed.data)
      else {
        // A stored slice that no longer validates (schema changed): fall back to defaults, loudly.
        this.deps.log.error('stored rules invalid; using defaults', { group: groupId, feature, problems: parsed.error.issues.map((i) => i.message), error: errorText(parsed.error) })
        values.set(feature, spec.schema.parse({}))
      }
    }
    return new Slices(version, values)
  }
}
