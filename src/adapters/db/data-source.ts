import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DataSource, type DataSourceOptions } from 'typeorm'
import type { Config } from '../../config/config.schema'
import { redactUrl } from '../../kernel/url'
import { Foundation1763848800000 } from '../../../migrations/1763848800000-Foundation'
import { ApiPlatform1763900000000 } from '../../../migrations/1763900000000-ApiPlatform'
import { CheckIn1764000000000 } from '../../../migrations/1764000000000-CheckIn'
import { AutoReply1764100000000 } from '../../../migrations/1764100000000-AutoReply'
import { Moderation1764200000000 } from '../../../migrations/1764200000000-Moderation'
import { AlignSqliteColumns1796158900000 } from '../../../migrations/1796158900000-AlignSqliteColumns'
import { GroupRuleEntity, JobRunEntity, OutboundEntity, SeenMessageEntity } from './core.entity'
import { ApiTokenEntity, AuditEntity, TokenGroupEntity } from '../../app/auth/auth.entity'

/** Every migration, in order. Listed explicitly so the compiled app and ts-jest find the same set. */
export const MIGRATIONS = [Foundation1763848800000, ApiPlatform1763900000000, CheckIn1764000000000, AutoReply1764100000000, Moderation1764200000000, AlignSqliteColumns1796158900000]

/** Entities owned by the core (features bring their own). */
export const CORE_ENTITIES = [SeenMessageEntity, OutboundEntity, JobRunEntity, GroupRuleEntity, ApiTokenEntity, TokenGroupEntity, AuditEntity]

/** Which SQL dialect a data source speaks. */
export type Dialect = 'sqlite' | 'mysql'

/** Dialect of a data source. */
export function dialectOf(ds: DataSource): Dialect {
  return ds.options.type === 'mysql' || ds.options.type === 'mariadb' ? 'mysql' : 'sqlite'
}

/** Options for SQLite (embedded default) or MySQL (when a URL is configured). */
export function dataSourceOptions(config: Pick<Config, 'database' | 'dataDir'>, entities: DataSourceOptions['entities'], sqlitePath?: string): DataSourceOptions {
  const common = { entities, migrations: MIGRATIONS, synchronize: false, migrationsRun: false, logging: config.database.logging } as const
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
