import { In, IsNull, LessThan, Not, type DataSource, type EntityMetadata, type FindOptionsWhere, type ObjectLiteral, type Repository, type SelectQueryBuilder } from 'typeorm'
import type { DataClass, PersonalTable } from '../../kernel/personal-data'
import type { PolicyLevel, PolicyRow, PurgeTarget, RetentionRun, RetentionStore, TableCount } from '../../kernel/retention'
import { RetentionPolicyEntity, RetentionRunEntity } from './core.entity'
import { withTransaction } from './transaction'

/** Largest IN list per statement (a few thousand groups at most; kept well under driver limits). */
const IN_CHUNK = 500

type Where = FindOptionsWhere<ObjectLiteral>

/**
 * The retention store on the database. Purges walk declared entities through their TypeORM metadata:
 * one batch selects at most `limit` primary keys of matching rows (by the time column's index), then
 * deletes or updates exactly those keys in one short statement — on MySQL only those rows are locked,
 * and between batches other writers get the table.
 */
export class DbRetentionStore implements RetentionStore {
  constructor(private readonly db: DataSource) {}

  async policies(ownerTokenId?: number): Promise<PolicyRow[]> {
    const rows = await this.db.getRepository(RetentionPolicyEntity).find({ where: ownerTokenId === undefined ? {} : { ownerTokenId } })
    return rows.map((r) => ({ ownerTokenId: Number(r.ownerTokenId), dataClass: r.dataClass as DataClass, level: r.level as PolicyLevel, days: Number(r.days), updatedAt: r.updatedAt, updatedBy: r.updatedBy === null ? null : Number(r.updatedBy) }))
  }

  async setPolicies(ownerTokenId: number, level: PolicyLevel, values: ReadonlyArray<{ dataClass: DataClass; days: number | null }>, at: number, by: number | null): Promise<void> {
    if (values.length === 0) return
    await withTransaction(this.db, async (m) => {
      const repo = m.getRepository(RetentionPolicyEntity)
      for (const { dataClass, days } of values) {
        await repo.delete({ ownerTokenId, dataClass, level })
        if (days !== null) await repo.insert({ ownerTokenId, dataClass, level, days, updatedAt: at, updatedBy: by })
      }
    })
  }

  async recordRun(run: RetentionRun): Promise<number> {
    const result = await this.db.getRepository(RetentionRunEntity).insert({
      dataClass: run.dataClass, source: run.source, dryRun: run.dryRun, status: run.status, deleted: run.deleted, cleared: run.cleared,
      batches: run.batches, detail: run.detail, error: run.error, startedAt: run.startedAt, finishedAt: run.finishedAt,
    })
    return Number((result.identifiers[0] as { id?: number } | undefined)?.id ?? 0)
  }

  async runs(limit: number, dataClass?: DataClass): Promise<RetentionRun[]> {
    const rows = await this.db.getRepository(RetentionRunEntity).find({ where: dataClass ? { dataClass } : {}, order: { id: 'DESC' }, take: limit })
    return rows.map((r) => ({
      id: Number(r.id), dataClass: r.dataClass as DataClass, source: r.source as RetentionRun['source'], dryRun: Boolean(Number(r.dryRun)), status: r.status as RetentionRun['status'],
      deleted: Number(r.deleted), cleared: Number(r.cleared), batches: Number(r.batches), detail: r.detail as TableCount[], error: r.error, startedAt: r.startedAt, finishedAt: r.finishedAt,
    }))
  }

  tableName(table: PersonalTable): string {
    return this.meta(table).tableName
  }

  isNullable(table: PersonalTable, property: string): boolean {
    return this.column(table, property).isNullable
  }

  parentTimeNullable(table: PersonalTable): boolean {
    const a = table.agesWith
    if (!a) throw new Error(`${this.tableName(table)}: no agesWith`)
    return this.parentColumn(a.table, a.timeColumn).isNullable
  }

  async count(target: PurgeTarget): Promise<number> {
    let total = 0
    if (target.table.agesWith) {
      for (const qb of this.byParent(target)) total += Number((await qb.select('COUNT(*)', 'n').getRawOne<{ n: number | string }>())?.n ?? 0)
      return total
    }
    for (const where of this.wheres(target)) total += await this.repo(target).count({ where })
    return total
  }

  async purgeBatch(target: PurgeTarget, limit: number): Promise<number> {
    const meta = this.meta(target.table)
    const repo = this.repo(target)
    const select = Object.fromEntries(meta.primaryColumns.map((c) => [c.propertyName, true]))
    let done = 0
    // Each IN chunk is its own selection; the batch stops once `limit` rows were touched.
    const selections: Array<(take: number) => Promise<ObjectLiteral[]>> = target.table.agesWith
      ? this.byParent(target).map((qb) => async (take: number) => {
        const rows = await qb.select(meta.primaryColumns.map((c, i) => `t.${this.db.driver.escape(c.databaseName)} AS k${i}`).join(', ')).limit(take).getRawMany<Record<string, unknown>>()
        return rows.map((r) => Object.fromEntries(meta.primaryColumns.map((c, i) => [c.propertyName, r[`k${i}`]])))
      })
      : this.wheres(target).map((where) => (take: number) => repo.find({ select, where, take }))
    for (const selection of selections) {
      if (done >= limit) break
      const keys = await selection(limit - done)
      if (keys.length === 0) continue
      const pks = meta.primaryColumns
      const single = pks.length === 1 ? pks[0] : undefined
      let result: { affected?: number | null }
      if (single) {
        // One key column: `key IN (…)`, one short statement (TypeORM's id lists expand to an OR per row).
        const ids = keys.map((k) => (k as Record<string, unknown>)[single.propertyName])
        const qb = target.action === 'delete' ? repo.createQueryBuilder().delete() : repo.createQueryBuilder().update().set(this.cleared(target.table))
        result = await qb.where(`${single.databaseName} IN (:...ids)`, { ids }).execute()
      } else {
        const ids = keys.map((k) => Object.fromEntries(pks.map((c) => [c.propertyName, (k as Record<string, unknown>)[c.propertyName]])))
        result = target.action === 'delete' ? await repo.delete(ids) : await repo.update(ids, this.cleared(target.table))
      }
      done += result.affected ?? keys.length
    }
    return done
  }

  /** The OR-ed conditions of a target (one list per IN chunk): older than `before`, of its groups, and — when clearing — with some text left. */
  private wheres(target: PurgeTarget): Where[][] {
    const time = this.column(target.table, target.table.timeColumn ?? '').propertyName
    const before = target.table.timeFormat === 'day' ? new Date(target.before).toISOString().slice(0, 10) : target.before
    const base: Where = { [time]: LessThan(before) }
    let branches: Where[][] = [[base]]
    const group = target.table.groupColumn ? this.column(target.table, target.table.groupColumn).propertyName : null
    if (target.groups && group === null) throw new Error(`${this.tableName(target.table)}: per-group retention needs a groupColumn`)
    if (target.groups && 'in' in target.groups) {
      branches = chunk(target.groups.in).map((groups) => [{ ...base, [group as string]: In(groups) }])
    } else if (target.groups) {
      const notIn = target.groups.notIn
      // NOT IN never matches NULL: rows without a group follow the default too. The whole list is excluded in
      // one condition (groups with their own retention number in the thousands at most).
      const outside: Where = notIn.length === 0 ? base : { ...base, [group as string]: Not(In([...notIn])) }
      branches = [[outside, { ...base, [group as string]: IsNull() }]]
    }
    if (target.action === 'clear') {
      const texts = (target.table.textColumns ?? []).map((p) => this.column(target.table, p))
      branches = branches.map((ors) => ors.flatMap((w) => texts.map((c) => ({ ...w, [c.propertyName]: c.isNullable ? Not(IsNull()) : Not('') }))))
    }
    return branches
  }

  /**
   * Selections of rows that age with a parent (one per IN chunk of groups): every parent row matching
   * them has its time before the cut-off, and there is at least one — a member in two groups keeps a
   * group-less row (a WeCom id link) until they left both; a row whose parent is still active (time NULL) stays.
   */
  private byParent(target: PurgeTarget): Array<SelectQueryBuilder<ObjectLiteral>> {
    const a = target.table.agesWith as NonNullable<PersonalTable['agesWith']>
    const esc = (name: string): string => this.db.driver.escape(name)
    const parent = this.parentMeta(a.table)
    const on = Object.entries(a.on).map(([mine, theirs]) => `p.${esc(this.parentColumn(a.table, theirs).databaseName)} = t.${esc(this.column(target.table, mine).databaseName)}`).join(' AND ')
    const time = `p.${esc(this.parentColumn(a.table, a.timeColumn).databaseName)}`
    const from = `${esc(parent.tableName)} p WHERE ${on}`
    // `groupIn`: a condition on the parent's group (a table without a group column of its own) — part of the
    // parent that must have aged, so a row goes by its own group's policy.
    const base = (groupIn = ''): SelectQueryBuilder<ObjectLiteral> => this.repo(target).createQueryBuilder('t')
      .where(`EXISTS (SELECT 1 FROM ${from} AND ${time} < :before${groupIn})`, { before: target.before })
      .andWhere(`NOT EXISTS (SELECT 1 FROM ${from} AND (${time} IS NULL OR ${time} >= :before))`)
    if (!target.groups) return [base()]
    const own = target.table.groupColumn
    if (!own && !a.groupColumn) throw new Error(`${this.tableName(target.table)}: per-group retention needs a groupColumn`)
    const group = own ? `t.${esc(this.column(target.table, own).databaseName)}` : `p.${esc(this.parentColumn(a.table, a.groupColumn as string).databaseName)}`
    const limited = (condition: string, params: Record<string, unknown>): SelectQueryBuilder<ObjectLiteral> =>
      (own ? base().andWhere(condition) : base(` AND ${condition}`)).setParameters(params)
    if ('in' in target.groups) return chunk(target.groups.in).map((groups) => limited(`${group} IN (:...groups)`, { groups }))
    const notIn = target.groups.notIn
    return [notIn.length === 0 ? base() : limited(`(${group} IS NULL OR ${group} NOT IN (:...notIn))`, { notIn })]
  }

  private parentMeta(table: string): EntityMetadata {
    const meta = this.db.entityMetadatas.find((m) => m.tableName === table)
    if (!meta) throw new Error(`agesWith: no entity for table ${table}`)
    return meta
  }

  private parentColumn(table: string, property: string) {
    const c = this.parentMeta(table).findColumnWithPropertyName(property)
    if (!c) throw new Error(`${table}: no column "${property}" (agesWith)`)
    return c
  }

  /** Values that clear a table's text columns (NULL, or '' where the column may not be NULL). */
  private cleared(table: PersonalTable): Record<string, null | string> {
    return Object.fromEntries((table.textColumns ?? []).map((p) => {
      const c = this.column(table, p)
      return [c.propertyName, c.isNullable ? null : '']
    }))
  }

  private repo(target: PurgeTarget): Repository<ObjectLiteral> {
    return this.db.getRepository<ObjectLiteral>(target.table.entity)
  }

  private meta(table: PersonalTable): EntityMetadata {
    return this.db.getMetadata(table.entity)
  }

  private column(table: PersonalTable, property: string) {
    const c = this.meta(table).findColumnWithPropertyName(property)
    if (!c) throw new Error(`${this.meta(table).tableName}: no column "${property}" (personalData declaration)`)
    return c
  }
}

function chunk<T>(items: readonly T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += IN_CHUNK) out.push(items.slice(i, i + IN_CHUNK))
  return out
}
