import { createConnection } from 'mysql2/promise'

/** Where the runtime keeps its state in one benchmark run. */
export type StorageMode = 'embedded' | 'mysql-redis'

/** Default URLs of the MySQL + Redis run (MariaDB and Redis on this machine). */
export const DEFAULT_DB_URL = 'mysql://root@127.0.0.1:3306/qunyun_bench'
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0'

/** Database name of a mysql:// URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`benchmark database name must be [A-Za-z0-9_]+, got "${name}"`)
  return name
}

/**
 * Drops and recreates the benchmark database so every run starts empty. Refuses names without "bench",
 * so a QUNYUN_DB_URL pointing at a real database is never dropped.
 */
export async function recreateDatabase(url: string): Promise<void> {
  const name = databaseName(url)
  if (!/bench/i.test(name)) throw new Error(`refusing to drop database "${name}": the benchmark only drops databases whose name contains "bench" (e.g. qunyun_bench)`)
  const server = new URL(url)
  server.pathname = '/'
  const conn = await createConnection({ uri: server.toString(), multipleStatements: false })
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`)
  } finally {
    await conn.end()
  }
}
