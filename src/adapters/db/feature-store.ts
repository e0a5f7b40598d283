import type { DataSource, EntityManager, EntityTarget, ObjectLiteral, Repository } from 'typeorm'
import type { Config } from '../../config/config.schema'
import type { FeatureDefinition } from '../../kernel/feature'
import { dialectOf, type Dialect } from './data-source'
import { insertIgnore, insertIgnoreHead, insertRows, runEach, upsertIncrement, upsertIncrementSql, type Row } from './sql'
import { submitPlan, writerOf, type PlanOp } from './sqlite-writer'
import { insideTransaction, withTransaction } from './transaction'

/** Table names a raw statement mentions (every qunyun table starts with `qy_`). */
const TABLE = /\bqy_[a-z0-9_]+/g

/** Storage operations on one feature's own tables, inside or outside a transaction. */
export interface FeatureTables {
  /** Which SQL dialect the database speaks. */
  readonly dialect: Dialect
  /** The repository of one of the feature's own entities. */
  repo<E extends ObjectLiteral>(entity: EntityTarget<E>): Repository<E>
  /** A raw statement on the feature's own tables (other tables are refused). */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  /** Multi-row insert that adds `incremented` columns to existing rows (see adapters/db/sql). */
  upsertIncrement(table: string, keys: string[], incremented: string[], rows: Row[]): Promise<void>
  /** Multi-row insert that skips rows whose key exists. */
  insertIgnore(table: string, columns: string[], rows: Row[]): Promise<void>
  /** `INSERT INTO table (columns) VALUES (…), … <tail>` for every row (an upsert clause in `tail`; see adapters/db/sql). */
  upsertRows(table: string, columns: string[], tail: string, rows: Row[]): Promise<void>
  /** One statement run once per parameter row (prepared once on SQLite; one round trip per row on MySQL). */
  runEach(sql: string, rows: Row[]): Promise<void>
}

/** The write-only part of FeatureTables: what a write plan (FeatureStore.write) may contain. */
export type FeatureWrites = Pick<FeatureTables, 'dialect' | 'upsertIncrement' | 'insertIgnore' | 'upsertRows' | 'runEach'>

/**
 * A feature's own slice of the database: repositories of the entities it declared, raw statements on its
 * own tables, transactions. Reaching for another feature's table throws — features talk through
 * services and events, never through each other's tables.
 */
export class FeatureStore implements FeatureTables {
  readonly dialect: Dialect
  private readonly tables: ReadonlySet<string>
  private readonly targets: ReadonlySet<unknown>

  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM entity constructors of any shape
  constructor(private readonly db: DataSource, readonly feature: string, entities: readonly Function[]) {
    this.dialect = dialectOf(db)
    this.targets = new Set(entities)
    this.tables = new Set(entities.map((e) => db.getMetadata(e).tableName))
  }

  repo<E extends ObjectLiteral>(entity: EntityTarget<E>): Repository<E> {
    this.assertEntity(entity)
    return this.db.getRepository(entity)
  }

  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.assertSql(sql)
    return this.db.query(sql, params) as Promise<T[]>
  }

  upsertIncrement(table: string, keys: string[], incremented: string[], rows: Row[]): Promise<void> {
    this.assertTable(table)
    return upsertIncrement(this.db, table, keys, incremented, rows)
  }

  insertIgnore(table: string, columns: string[], rows: Row[]): Promise<void> {
    this.assertTable(table)
    return insertIgnore(this.db, table, columns, rows)
  }

  upsertRows(table: string, columns: string[], tail: string, rows: Row[]): Promise<void> {
    this.assertTable(table)
    this.assertSql(tail)
    return insertRows(this.db, `INSERT INTO ${table} (${columns.join(',')})`, columns.length, tail, rows)
  }

  runEach(sql: string, rows: Row[]): Promise<void> {
    this.assertSql(sql)
    return runEach(this.db, sql, rows)
  }

  /**
   * Writes as one all-or-nothing unit, without reads: on a file SQLite database with the writer thread
   * (adapters/db/sqlite-writer), `build`'s statements are collected into a plan, shipped to the thread and
   * committed there in one transaction — the promise settles after the commit (or the rollback of all of
   * it). Otherwise (MySQL, ':memory:', no thread, or inside a transaction) `build` runs in a transaction here.
   */
  async write(build: (w: FeatureWrites) => Promise<void>): Promise<void> {
    const writer = writerOf(this.db)
    if (!writer || insideTransaction(this.db)) return this.transaction(build)
    const ops: PlanOp[] = []
    const plan: FeatureWrites = {
      dialect: this.dialect,
      upsertIncrement: (table, keys, incremented, rows) => {
        this.assertTable(table)
        const { head, tail, width } = upsertIncrementSql(this.dialect, table, keys, incremented)
        if (rows.length > 0) ops.push({ kind: 'rows', head, width, tail, rows })
        return Promise.resolve()
      },
      insertIgnore: (table, columns, rows) => {
        this.assertTable(table)
        if (rows.length > 0) ops.push({ kind: 'rows', head: insertIgnoreHead(this.dialect, table, columns), width: columns.length, tail: '', rows })
        return Promise.resolve()
      },
      upsertRows: (table, columns, tail, rows) => {
        this.assertTable(table)
        this.assertSql(tail)
        if (rows.length > 0) ops.push({ kind: 'rows', head: `INSERT INTO ${table} (${columns.join(',')})`, width: columns.length, tail, rows })
        return Promise.resolve()
      },
      runEach: (sql, rows) => {
        this.assertSql(sql)
        if (rows.length > 0) ops.push({ kind: 'each', sql, rows })
        return Promise.resolve()
      },
    }
    await build(plan)
    if (ops.length > 0) await submitPlan(this.db, writer, ops)
  }

  /** Runs `work` in one transaction (serialized in-process on SQLite; see adapters/db/transaction). */
  transaction<T>(work: (tx: FeatureTables) => Promise<T>): Promise<T> {
    return withTransaction(this.db, (m) => work(this.scoped(m)))
  }

  private scoped(m: EntityManager): FeatureTables {
    return {
      dialect: this.dialect,
      repo: <E extends ObjectLiteral>(entity: EntityTarget<E>): Repository<E> => { this.assertEntity(entity); return m.getRepository(entity) },
      query: <T>(sql: string, params: unknown[] = []): Promise<T[]> => { this.assertSql(sql); return m.query(sql, params) as Promise<T[]> },
      upsertIncrement: (table, keys, incremented, rows) => { this.assertTable(table); return upsertIncrement(m, table, keys, incremented, rows) },
      insertIgnore: (table, columns, rows) => { this.assertTable(table); return insertIgnore(m, table, columns, rows) },
      runEach: (sql, rows) => { this.assertSql(sql); return runEach(m, sql, rows) },
      upsertRows: (table, columns, tail, rows) => { this.assertTable(table); this.assertSql(tail); return insertRows(m, `INSERT INTO ${table} (${columns.join(',')})`, columns.length, tail, rows) },
    }
  }

  private assertEntity(entity: unknown): void {
    if (!this.targets.has(entity)) throw new Error(`feature "${this.feature}" may not use ${describe(entity)}: not one of its entities`)
  }

  private assertTable(table: string): void {
    if (!this.tables.has(table)) throw new Error(`feature "${this.feature}" may not write table ${table}: not one of its tables`)
  }

  private assertSql(sql: string): void {
    for (const table of sql.match(TABLE) ?? []) this.assertTable(table)
  }
}

function describe(entity: unknown): string {
  return typeof entity === 'function' ? entity.name : String(entity)
}

/** A feature of this product: its store is a FeatureStore, its config slice comes from the process Config. */
export type Feature<R = undefined, C = undefined> = FeatureDefinition<R, C, FeatureStore, Config>

/** Declares a feature (keeps its rule and config types inferred). */
export function defineFeature<R = undefined, C = undefined>(definition: Feature<R, C>): Feature<R, C> {
  return definition
}
