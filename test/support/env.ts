import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection } from 'mysql2/promise'
import type { Config } from '../../src/config/config.schema'
import { deepMerge, loadConfig } from '../../src/config/load'
import { silentLogger, type Logger } from '../../src/kernel/logger'
import { deleteRedisKeysWithPrefix } from '../../src/adapters/redis/redis-ports'

/**
 * Test environment: the embedded default, or MySQL / Redis when QUNYUN_DB_URL / QUNYUN_REDIS_URL are set.
 * Each runtime gets its own MySQL database and Redis key prefix, dropped afterwards, so parallel test
 * files never share state.
 */

const created: Array<() => Promise<void>> = []
let seq = 0

/** Which storage the suite runs on (for test names and skips). */
export const STORAGE = process.env.QUNYUN_DB_URL ? 'mysql' : 'sqlite'
/** Which coordination the suite runs on. */
export const COORDINATION = process.env.QUNYUN_REDIS_URL ? 'redis' : 'memory'
/** The Redis URL of the MySQL + Redis suite (undefined when tests run embedded). */
export const REDIS_URL: string | undefined = process.env.QUNYUN_REDIS_URL || undefined

/** A fresh configuration for one runtime (own database / key prefix); `overrides` merged last. */
export async function testConfig(overrides: Record<string, unknown> = {}): Promise<Config> {
  const id = `${process.pid}_${Date.now().toString(36)}_${seq++}`
  const extra: Record<string, unknown> = { redis: { keyPrefix: `qytest:${id}:` } }
  const dbUrl = process.env.QUNYUN_DB_URL
  if (dbUrl) {
    const url = new URL(dbUrl)
    const name = `qunyun_t_${id}`.slice(0, 64)
    const admin = await createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) })
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    await admin.end()
    url.pathname = `/${name}`
    extra.database = { url: url.toString() }
    created.push(async () => {
      const c = await createConnection({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) })
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
      await c.end()
    })
  }
  const redisUrl = process.env.QUNYUN_REDIS_URL
  if (redisUrl) {
    const prefix = (extra.redis as { keyPrefix: string }).keyPrefix
    created.push(async () => { await deleteRedisKeysWithPrefix({ url: redisUrl, keyPrefix: prefix }) })
  }
  return loadConfig({ overrides: deepMerge(extra, overrides) })
}

/** A temporary directory removed by cleanup(). */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qunyun-test-'))
  created.push(async () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Drops every database, key prefix and directory created by this test file. */
export async function cleanup(): Promise<void> {
  for (const undo of created.splice(0)) {
    try { await undo() } catch { /* best effort */ }
  }
}

/** A logger that keeps lines in memory (tests assert on what was, and was not, logged). */
export function captureLogger(): Logger & { lines: Array<{ level: string; message: string; meta: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; meta: Record<string, unknown> }> = []
  const make = (base: Record<string, unknown>): Logger => ({
    error: (message, meta) => { lines.push({ level: 'error', message, meta: { ...base, ...meta } }) },
    warn: (message, meta) => { lines.push({ level: 'warn', message, meta: { ...base, ...meta } }) },
    info: (message, meta) => { lines.push({ level: 'info', message, meta: { ...base, ...meta } }) },
    debug: (message, meta) => { lines.push({ level: 'debug', message, meta: { ...base, ...meta } }) },
    child: (meta) => make({ ...base, ...meta }),
  })
  return Object.assign(make({}), { lines })
}

export { silentLogger }
