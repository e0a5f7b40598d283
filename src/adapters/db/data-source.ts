import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DataSource, type DataSourceOptions } from 'typeorm'
import type { Config } from '../../config/config.schema'
import { redactUrl } from '../../kernel/url'
import { Foundation1763848800000 } from '../../../migrations/1763848800000-Foundation'
import { AlignSqliteColumns1796158900000 } from '../../../migrations/1796158900000-AlignSqliteColumns'
import { RuleVersions1796200000000 } from '../../../migrations/1796200000000-RuleVersions'
import { OutboundClaims1797000000000 } from '../../../migrations/1797000000000-OutboundClaims'
import { WecomInboxLinks1797700000000 } from '../../../migrations/1797700000000-WecomInboxLinks'
import { WECOM_ENTITIES } from '../wecom/wecom.entity'
import { DeploymentSecret1797900000000 } from '../../../migrations/1797900000000-DeploymentSecret'
import { Retention1798000000000 } from '../../../migrations/1798000000000-Retention'
import { OutboundActionKey1798920000000 } from '../../../migrations/1798920000000-OutboundActionKey'
import type { MigrationClass } from '../../kernel/feature'
import { CORE_ENTITIES } from './core.entity'

/**
 * Migrations of the core: the first schema (core, groups and activity tables, from before features
 * declared their own), the SQLite column alignment (it touches every table), the rule versions.
 */
export const CORE_MIGRATIONS: readonly MigrationClass[] = [Foundation1763848800000, AlignSqliteColumns1796158900000, RuleVersions1796200000000, OutboundClaims1797000000000, WecomInboxLinks1797700000000, DeploymentSecret1797900000000, Retention1798000000000, OutboundActionKey1798920000000]

/** Every table and migration of a registry: the core's plus each feature's own. */
export interface DatabaseSchema {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes entity constructors of any shape
  entities: Function[]
  migrations: MigrationClass[]
}

/** Timestamp of a migration from its class name (`<Name><unix-ms>`), the order TypeORM runs them in. */
function stamp(m: MigrationClass): number {
  return Number(/(\d{13})$/.exec(m.name)?.[1] ?? 0)
}

/**
 * The schema of a feature registry: core entities and migrations plus every feature's own, migrations in
 * timestamp order (a feature added later brings its tables without touching the core).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes entity constructors of any shape
export function databaseSchema(features: ReadonlyArray<{ entities?: Function[]; migrations?: readonly MigrationClass[] }>): DatabaseSchema {
  const migrations = [...new Set([...CORE_MIGRATIONS, ...features.flatMap((f) => f.migrations ?? [])])].sort((a, b) => stamp(a) - stamp(b))
  return { entities: [...CORE_ENTITIES, ...WECOM_ENTITIES, ...features.flatMap((f) => f.entities ?? [])], migrations }
}

/** Which SQL dialect a data source speaks. */
export type Dialect = 'sqlite' | 'mysql'

/** Dialect of a data source. */
export function dialectOf(ds: DataSource): Dialect {
  return ds.options.type === 'mysql' || ds.options.type === 'mariadb' ? 'mysql' : 'sqlite'
}

/** Options for SQLite (embedded default) or MySQL (when a URL is configured). */
export function dataSourceOptions(config: Pick<Config, 'database' | 'dataDir'>, schema: DatabaseSchema, sqlitePath?: string): DataSourceOptions {
  const common = { entities: schema.entities, migrations: schema.migrations, synchronize: false, migrationsRun: false, logging: config.database.logging } as const
  if (config.database.url) {
    return { ...common, type: 'mysql', url: config.database.url, charset: 'utf8mb4', timezone: 'Z', supportBigNumbers: true, connectTimeout: 10_000, poolSize: 10 }
  }
  const file = sqlitePath ?? resolve(config.dataDir, config.database.sqliteFile)
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
  return {
    ...common,
    type: 'better-sqlite3',
    database: file,
    enableWAL: file !== ':memory:',
    // NORMAL is durable across process crashes in WAL mode (only an OS crash can lose the last commits).
    prepareDatabase: (db: { pragma(sql: string): unknown }) => { db.pragma('synchronous = NORMAL'); db.pragma('busy_timeout = 5000') },
  }
}

/** Opens the data source and applies pending migrations (the only way the schema changes). */
export async function openDatabase(options: DataSourceOptions): Promise<DataSource> {
  let ds = await initialize(options)
  if (options.type === 'mysql' && /mariadb/i.test(await serverVersion(ds))) {
    // A mysql:// URL may lead to MariaDB. TypeORM reads MariaDB's information_schema its own way (quoted
    // literal defaults, the text NULL for "no default") only when told it is MariaDB; read as MySQL, every
    // nullable column and numeric default looks changed. Same driver (mysql2) and options, right dialect.
    await ds.destroy()
    ds = await initialize({ ...options, type: 'mariadb' })
  }
  await ds.runMigrations({ transaction: 'each' })
  return ds
}

/** Initializes a data source, naming the database (password redacted) when it cannot be reached. */
async function initialize(options: DataSourceOptions): Promise<DataSource> {
  const ds = new DataSource(options)
  try {
    await ds.initialize()
  } catch (error) {
    const where = options.type === 'better-sqlite3' ? String(options.database) : redactUrl(String((options as { url?: string }).url))
    throw new Error(`cannot open database ${where}: ${(error as Error).message}`)
  }
  return ds
}

/** The server's version string, e.g. "8.4.3" or "10.11.6-MariaDB-0+deb12u1". */
async function serverVersion(ds: DataSource): Promise<string> {
  const rows = (await ds.query('SELECT VERSION() AS version')) as Array<{ version: string }>
  return String(rows[0]?.version ?? '')
}
