import type { Clock } from '../ports/clock'
import type { JobDefinition } from './feature'
import { errorText, type Logger } from './logger'
import { DATA_CLASSES, type DataClass, type DeclaredPersonalData, type PersonalTable } from './personal-data'

/**
 * Retention per data class (issue 19): how long each class of personal data is kept — a deployment
 * default in config, per-owner policies stored in the database — and the daily purge that walks every
 * feature's `personalData` declarations and removes what is older, in small batches.
 */

const DAY_MS = 86_400_000

/** One class in config: days kept (null = kept) and the most any policy may set (null = no limit). */
export interface RetentionClassSettings {
  days: number | null
  maxDays: number | null
}

/** The `retention` section of the configuration. */
export interface RetentionSettings {
  purgeCron: string
  batchSize: number
  pauseMs: number
  classes: Record<DataClass, RetentionClassSettings>
}

/** Classes an owner (or an admin, for an owner) may set; the audit log is the deployment's, not an owner's. */
export const OWNER_CLASSES: readonly DataClass[] = DATA_CLASSES.filter((c) => c !== 'audit-log')

/** Who set a policy: an admin for the owner (a per-owner default), or the owner. */
export type PolicyLevel = 'admin' | 'owner'

/** One stored policy value. */
export interface PolicyRow {
  ownerTokenId: number
  dataClass: DataClass
  level: PolicyLevel
  days: number
  updatedAt: number
  updatedBy: number | null
}

/** What one purge run did, per table (counts only, never content). */
export interface TableCount {
  table: string
  deleted: number
  cleared: number
  /** Statements run on it (a batch that found fewer rows than the batch size ends a step). */
  batches: number
}

/** One purge run of a class. */
export interface RetentionRun {
  id?: number
  dataClass: DataClass
  source: 'schedule' | 'cli' | 'api'
  dryRun: boolean
  status: 'done' | 'failed'
  deleted: number
  cleared: number
  batches: number
  detail: TableCount[]
  error: string | null
  startedAt: number
  finishedAt: number
}

/**
 * Which rows of one declared table a purge step touches: older than `before` by the table's time
 * column, of the given groups (or outside them; rows without a group count as outside), and either
 * deleted or — for metadata rows past the message-text boundary — their text columns cleared.
 */
export interface PurgeTarget {
  table: PersonalTable
  action: 'delete' | 'clear'
  before: number
  groups?: { in: readonly string[] } | { notIn: readonly string[] }
}

/** Storage of policies, runs and the batched purge itself (the database adapter implements it). */
export interface RetentionStore {
  /** Stored policies (of one owner, or all). */
  policies(ownerTokenId?: number): Promise<PolicyRow[]>
  /** Sets (days) or removes (null) an owner's policy values at one level, in one transaction. */
  setPolicies(ownerTokenId: number, level: PolicyLevel, values: ReadonlyArray<{ dataClass: DataClass; days: number | null }>, at: number, by: number | null): Promise<void>
  /** Records a run; returns its id. */
  recordRun(run: RetentionRun): Promise<number>
  /** The latest runs, newest first. */
  runs(limit: number, dataClass?: DataClass): Promise<RetentionRun[]>
  /** Table name of a declared entity. */
  tableName(table: PersonalTable): string
  /** Whether a property is a nullable column (a profile's time column must be: null while the member is active). */
  isNullable(table: PersonalTable, property: string): boolean
  /** Whether the time column of an `agesWith` table's parent is nullable (a profile's parent time must be a leave time). */
  parentTimeNullable(table: PersonalTable): boolean
  /** Rows the target would touch now (dry runs). */
  count(target: PurgeTarget): Promise<number>
  /** Deletes or clears at most `limit` rows of the target in one short statement; returns how many. */
  purgeBatch(target: PurgeTarget, limit: number): Promise<number>
}

/** The group scope of every live token (owners' granted groups). */
export type OwnerScopes = () => Promise<ReadonlyMap<number, { all: boolean; groupIds: ReadonlySet<string> }>>

/** Days (null = kept) → a cut-off time (null = nothing is old enough). */
function cutoff(now: number, days: number | null): number | null {
  return days === null ? null : now - days * DAY_MS
}

/** The shorter of two retentions (null = kept = longest). */
function shorter(a: number | null, b: number | null): number | null {
  if (a === null) return b
  if (b === null) return a
  return Math.min(a, b)
}

/** A problem with a policy change, per class (the route turns it into a 400). */
export class PolicyError extends Error {
  constructor(readonly problems: Array<{ dataClass: DataClass; message: string }>) {
    super(problems.map((p) => `${p.dataClass}: ${p.message}`).join('; '))
    this.name = 'PolicyError'
  }
}

/** An owner's retention per class: the effective days and where they come from. */
export interface OwnerRetention {
  dataClass: DataClass
  /** Effective days (null = kept). */
  days: number | null
  source: 'default' | 'admin' | 'owner'
  /** What the owner may set at most (null = no limit). */
  ownerMaxDays: number | null
  adminDays: number | null
  ownerDays: number | null
}

/**
 * The retention service: resolves policies, validates changes, and purges one class at a time. Each
 * class's daily job is fenced by the scheduler (one run per fire time across replicas).
 */
export class RetentionService {
  /** Called after every run (metrics). */
  onRun?: (run: RetentionRun) => void

  constructor(private readonly deps: {
    settings: RetentionSettings
    store: RetentionStore
    /** Every declaration: the core's and each feature's. */
    declarations: readonly DeclaredPersonalData[]
    scopes: OwnerScopes
    clock: Clock
    log: Logger
    timezone: string
  }) {}

  /** The configured default and maximum of every class. */
  get settings(): RetentionSettings { return this.deps.settings }

  /** One daily job per class, named `retention.<class>`. */
  jobs(): JobDefinition[] {
    return DATA_CLASSES.map((dataClass) => ({
      name: `retention.${dataClass}`,
      cron: this.deps.settings.purgeCron,
      timezone: this.deps.timezone,
      run: async () => { await this.purge(dataClass, { source: 'schedule' }) },
    }))
  }

  /** Effective retention of every owner-settable class for an owner. */
  async forOwner(ownerTokenId: number): Promise<OwnerRetention[]> {
    const rows = await this.deps.store.policies(ownerTokenId)
    return OWNER_CLASSES.map((dataClass) => this.resolve(dataClass, rows.filter((r) => r.dataClass === dataClass)))
  }

  private resolve(dataClass: DataClass, rows: readonly PolicyRow[]): OwnerRetention {
    const base = this.deps.settings.classes[dataClass]
    const adminDays = rows.find((r) => r.level === 'admin')?.days ?? null
    const ownerDays = rows.find((r) => r.level === 'owner')?.days ?? null
    const days = ownerDays ?? adminDays ?? base.days
    const source = ownerDays !== null ? 'owner' : adminDays !== null ? 'admin' : 'default'
    return { dataClass, days, source, ownerMaxDays: adminDays ?? base.maxDays, adminDays, ownerDays }
  }

  /**
   * Changes an owner's policy at one level. Admins set a per-owner default (≤ the deployment maximum);
   * owners set their own (≤ the admin's value for them, or the maximum). null removes a value.
   */
  async setPolicy(ownerTokenId: number, level: PolicyLevel, values: Partial<Record<DataClass, number | null>>, by: number | null): Promise<OwnerRetention[]> {
    const rows = await this.deps.store.policies(ownerTokenId)
    const problems: Array<{ dataClass: DataClass; message: string }> = []
    const changes: Array<{ dataClass: DataClass; days: number | null }> = []
    for (const [key, days] of Object.entries(values) as Array<[DataClass, number | null | undefined]>) {
      if (days === undefined) continue
      if (!OWNER_CLASSES.includes(key)) { problems.push({ dataClass: key, message: 'set for the whole deployment in config, not per owner' }); continue }
      const base = this.deps.settings.classes[key]
      // Kept classes stay whole: shortening rollups would take points balances and streaks with them,
      // shortening lottery proofs would end past draws' verifiability (erasure still handles one member).
      if (base.days === null) { problems.push({ dataClass: key, message: 'kept for the whole deployment (days: null in config), not set per owner' }); continue }
      const current = this.resolve(key, rows.filter((r) => r.dataClass === key))
      const limit = level === 'admin' ? base.maxDays : current.ownerMaxDays
      if (days !== null && limit !== null && days > limit) {
        problems.push({ dataClass: key, message: `at most ${limit} days (${level === 'admin' ? "the deployment's maximum" : 'the most allowed for this owner'})` })
        continue
      }
      changes.push({ dataClass: key, days })
    }
    if (problems.length > 0) throw new PolicyError(problems)
    await this.deps.store.setPolicies(ownerTokenId, level, changes, this.deps.clock.now(), by)
    // An admin lowering the per-owner value below what the owner chose caps the owner's value too.
    if (level === 'admin') {
      const capped = changes.filter((c) => c.days !== null && (rows.find((r) => r.dataClass === c.dataClass && r.level === 'owner')?.days ?? 0) > (c.days as number))
      if (capped.length > 0) await this.deps.store.setPolicies(ownerTokenId, 'owner', capped, this.deps.clock.now(), by)
    }
    return this.forOwner(ownerTokenId)
  }

  /** The latest runs, newest first. */
  runs(limit: number, dataClass?: DataClass): Promise<RetentionRun[]> {
    return this.deps.store.runs(limit, dataClass)
  }

  /** Days a class is kept for one group: the shortest of its owners' retentions, or the class's default (null = kept). */
  async daysForGroup(dataClass: DataClass, groupId: string): Promise<number | null> {
    const groupDays = await this.groupDays(dataClass)
    return groupDays.has(groupId) ? (groupDays.get(groupId) ?? null) : this.deps.settings.classes[dataClass].days
  }

  /** Declared tables of a class (what its purge walks). */
  tablesOf(dataClass: DataClass): PersonalTable[] {
    return this.deps.declarations.flatMap((d) => d.declaration.tables).filter((t) => t.dataClass === dataClass)
  }

  /**
   * Retention days per group where they differ from the class default: a group granted to owners takes
   * the shortest of their retentions (an owner without a policy counts with the default).
   */
  private async groupDays(dataClass: DataClass): Promise<Map<string, number | null>> {
    const policies = (await this.deps.store.policies()).filter((p) => p.dataClass === dataClass)
    const out = new Map<string, number | null>()
    if (policies.length === 0) return out
    const base = this.deps.settings.classes[dataClass].days
    const byOwner = new Map<number, PolicyRow[]>()
    for (const p of policies) byOwner.set(p.ownerTokenId, [...(byOwner.get(p.ownerTokenId) ?? []), p])
    const perGroup = new Map<string, number | null>()
    for (const [tokenId, scope] of await this.deps.scopes()) {
      // A token seeing every group (admin, operator) is no owner: its policy would reach everyone's groups.
      if (scope.all) continue
      const rows = byOwner.get(tokenId)
      const days = rows ? this.resolve(dataClass, rows).days : base
      for (const g of scope.groupIds) perGroup.set(g, perGroup.has(g) ? shorter(perGroup.get(g) ?? null, days) : days)
    }
    for (const [g, days] of perGroup) if (days !== base) out.set(g, days)
    return out
  }

  /**
   * The steps of one class's purge: for each declared table, a delete of rows older than the class's
   * retention (per owner where policies differ); for message-text, also clearing the text columns of
   * message-metadata rows older than the text boundary (the row stays until its own boundary).
   */
  private async plan(dataClass: DataClass): Promise<PurgeTarget[]> {
    const now = this.deps.clock.now()
    const { store, log } = this.deps
    const steps: PurgeTarget[] = []
    const groupDays = await this.groupDays(dataClass)
    const base = this.deps.settings.classes[dataClass].days
    const add = (table: PersonalTable, action: PurgeTarget['action']): void => {
      // A table's own limit (staging rows) shortens the class's retention, for every group alike.
      const own = (days: number | null): number | null => (action === 'delete' ? shorter(days, table.keepDays ?? null) : days)
      if (!(table.groupColumn ?? table.agesWith?.groupColumn) || groupDays.size === 0) {
        const before = cutoff(now, own(base))
        if (before !== null) steps.push({ table, action, before })
        return
      }
      const buckets = new Map<number | null, string[]>()
      for (const [g, days] of groupDays) buckets.set(days, [...(buckets.get(days) ?? []), g])
      for (const [days, groups] of buckets) {
        const before = cutoff(now, own(days))
        if (before !== null) steps.push({ table, action, before, groups: { in: groups } })
      }
      const before = cutoff(now, own(base))
      if (before !== null) steps.push({ table, action, before, groups: { notIn: [...groupDays.keys()] } })
    }
    // Tables that age with a parent go first: a parent of the same class purged earlier in the run would
    // leave them without the time they age by (a member's check-in row after their qy_member row).
    const tables = this.tablesOf(dataClass)
    for (const table of [...tables.filter((t) => t.agesWith), ...tables.filter((t) => !t.agesWith)]) {
      const age = ageOf(table)
      if (age === 'kept') continue
      if (age === 'undeclared') {
        // Never silent: a declared table nothing ages is a declaration to fix (the coverage test fails on it).
        log.warn('retention: declared table has no time column, no agesWith and no kept reason: never purged by age', { table: store.tableName(table), dataClass })
        continue
      }
      const nullable = table.agesWith ? store.parentTimeNullable(table) : store.isNullable(table, table.timeColumn as string)
      if (dataClass === 'profile' && !nullable) {
        // A profile is kept while the member is in the group: only a leave time (null while active) may age it.
        log.warn('retention: profile table skipped, its time column is not a leave time (nullable)', { table: store.tableName(table), column: table.agesWith ? `${table.agesWith.table}.${table.agesWith.timeColumn}` : table.timeColumn })
        continue
      }
      add(table, 'delete')
    }
    if (dataClass === 'message-text') {
      for (const table of this.tablesOf('message-metadata')) {
        if (table.timeColumn && (table.textColumns?.length ?? 0) > 0) add(table, 'clear')
      }
    }
    return steps
  }

  /** Purges one class now (or counts, on a dry run); records and logs the run (counts only). */
  async purge(dataClass: DataClass, opts: { source: RetentionRun['source']; dryRun?: boolean }): Promise<RetentionRun> {
    const { store, clock, log, settings } = this.deps
    const startedAt = clock.now()
    const dryRun = opts.dryRun ?? false
    const counts = new Map<string, TableCount>()
    let batches = 0
    let error: string | null = null
    try {
      for (const step of await this.plan(dataClass)) {
        const name = store.tableName(step.table)
        const count = counts.get(name) ?? { table: name, deleted: 0, cleared: 0, batches: 0 }
        counts.set(name, count)
        const key = step.action === 'delete' ? 'deleted' : 'cleared'
        if (dryRun) { count[key] += await store.count(step); continue }
        for (;;) {
          const n = await store.purgeBatch(step, settings.batchSize)
          batches++
          count.batches++
          count[key] += n
          if (n < settings.batchSize) break
          // Between batches the table (and the event loop) belongs to everyone else.
          await pause(settings.pauseMs)
        }
      }
    } catch (e) {
      error = errorText(e).slice(0, 500)
    }
    const detail = [...counts.values()]
    const run: RetentionRun = {
      dataClass, source: opts.source, dryRun, status: error ? 'failed' : 'done',
      deleted: detail.reduce((s, c) => s + c.deleted, 0), cleared: detail.reduce((s, c) => s + c.cleared, 0),
      batches, detail, error, startedAt, finishedAt: clock.now(),
    }
    run.id = await store.recordRun(run)
    const line = { dataClass, deleted: run.deleted, cleared: run.cleared, batches, tables: detail.length, dryRun, source: opts.source }
    if (error) log.error('retention purge failed', { ...line, error })
    else log.info('retention purge', line)
    this.onRun?.(run)
    if (error) throw new Error(`retention purge of ${dataClass} failed: ${error}`)
    return run
  }
}

/**
 * How a declared table ages: by its own time column, with a parent row (`agesWith`), kept on purpose
 * (`kept`), or undeclared — a table retention would never purge without anyone having said so.
 */
export function ageOf(table: PersonalTable): 'time' | 'parent' | 'kept' | 'undeclared' {
  if (table.agesWith) return 'parent'
  if (table.timeColumn) return 'time'
  return table.kept ? 'kept' : 'undeclared'
}

/** How a table ages, in words (the data map's "purged by" column). */
export function ageText(table: PersonalTable, tableName: string): string {
  const limit = table.keepDays !== undefined ? ` (at most ${table.keepDays} days)` : ''
  switch (ageOf(table)) {
    case 'time': return `${table.timeColumn as string}${table.timeFormat === 'day' ? ' (day)' : ''}${limit}`
    case 'parent': {
      const a = table.agesWith as NonNullable<PersonalTable['agesWith']>
      return `${a.table}.${a.timeColumn} (by ${Object.keys(a.on).join(', ')})${limit}`
    }
    case 'kept': return `kept: ${table.kept as string}`
    default: return `— (${tableName}: undeclared)`
  }
}

/** Waits `ms` (0: one turn of the event loop). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => { if (ms > 0) setTimeout(resolve, ms); else setImmediate(resolve) })
}
