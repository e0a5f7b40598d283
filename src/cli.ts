#!/usr/bin/env node
import { errorText } from './kernel/logger'
import { readFileSync } from 'node:fs'
import { UnknownMemberError } from './kernel/erasure'
import type { Config } from './config/config.schema'
import { ConfigError, loadConfig } from './config/load'
import { createLogger } from './logging'
import { databaseSchema, dataSourceOptions, openDatabase } from './adapters/db/data-source'
import { FeatureStore } from './adapters/db/feature-store'
import { redactUrl } from './kernel/url'
import { FEATURES } from './features'
import type * as Script from './simulation/script'
import { accessFeature } from './features/access'
import { TokenStore } from './features/access/access.tokens'
import { ROLES, type Role } from './kernel/auth'
import { createMemoryPorts } from './ports/memory'
import { createRedisPorts } from './adapters/redis/redis-ports'
import { systemClock } from './ports/clock'
import { lotteryCommand } from './features/lottery/lottery.verify'
import { loadTokenScopes } from './features/access/access.scopes'
import { declaredPersonalData } from './personal-data'
import { DbRetentionStore } from './adapters/db/retention-store'
import { DATA_CLASSES, type DataClass } from './kernel/personal-data'
import { RetentionService } from './kernel/retention'

const USAGE = `qunyun — WeCom community-operations bot

usage:
  qunyun start                      start the bots and the admin API
  qunyun migrate                    apply pending database migrations and exit
  qunyun simulate --script FILE     rehearse a scripted conversation; prints the transcript as JSON
  qunyun token create --role admin|owner|operator [--group ID …] [--all-groups] [--name NAME]
                                    create an admin API token (printed once; only its hash is stored)
  qunyun token list [--all]         list tokens (--all includes revoked ones)
  qunyun token revoke ID            revoke a token
  qunyun token grant ID --group ID …  replace the groups granted to an owner or operator token
  qunyun retention run [--class CLASS] [--dry-run]
                                    purge data older than its retention now (every class, or one);
                                    --dry-run only counts; prints rows per class and table as JSON
  qunyun lottery verify PROOF.json  recompute a lottery draw from its proof (GET /api/v1/lotteries/ID/proof)
  qunyun stats rebuild --group ID --from YYYY-MM-DD --to YYYY-MM-DD
                                    recompute a group's message rollups for past days from the message log
  qunyun member erase ID [--group ID …] [--dry-run] [--verify [--name NAME …] [--text TEXT …] [--log-file FILE …]]
                                    erase a member everywhere (or in the given groups); prints the receipt;
                                    --verify then runs the residue scan (exit 1 when anything is left)
  qunyun member pseudonym ID        the member's pseudonym (what logs, proofs and exports name them by)
  qunyun data-map                   what qunyun stores about members, per table and data class (Markdown)
  qunyun help                       this text

configuration: config/*.yaml, overridden by environment variables (see README).`

// simulation/script loads the whole runtime (wechaty and its puppets, ~3 s), which only `simulate` needs:
// these stand-ins load it on first use, so `token`, `migrate` and `help` start quickly.
/** The rehearsal module, required on first use. */
const script = (): typeof Script => require('./simulation/script') as typeof Script
/** simulation/script's runScript, loaded on first call. */
const runScript: typeof Script.runScript = (...args) => script().runScript(...args)
/** Matches simulation/script's ScriptError (instanceof) without loading the module first. */
const ScriptError = { [Symbol.hasInstance]: (value: unknown): value is Script.ScriptError => value instanceof script().ScriptError }
/** The rehearsal error type (its problems are listed to the user). */
type ScriptError = Script.ScriptError

/** Loads configuration or prints every problem and exits non-zero. */
function configOrExit(overrides?: Record<string, unknown>): Config {
  try {
    return loadConfig({ overrides })
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`qunyun: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
}

async function start(): Promise<void> {
  const config = configOrExit()
  const log = createLogger(config)
  // Loaded here, not at the top: the runtime pulls in wechaty and its puppets, which other commands do not need.
  const { Runtime, StartAborted } = await import('./main')
  const runtime = new Runtime(config, { log })
  try {
    // Bots, rule packs and puppet settings are checked before any port, file or connection is opened.
    runtime.prepare()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`qunyun: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
  let signals = 0
  const shutdown = (signal: string): void => {
    signals++
    if (signals > 1) {
      log.warn('second signal: exiting without waiting', { signal })
      process.exit(1)
    }
    log.info('signal received; shutting down gracefully', { signal })
    runtime.stop().then(() => process.exit(0), (error: unknown) => {
      log.error('shutdown failed', { error: errorText(error) })
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  try {
    await runtime.start()
  } catch (error) {
    // A signal during start: the shutdown handler stops what was started and exits 0.
    if (error instanceof StartAborted) return
    if (error instanceof ConfigError) process.stderr.write(`qunyun: ${error.message}\n`)
    else log.error('start failed', { error: errorText(error) })
    await runtime.stop().catch(() => undefined)
    process.exit(error instanceof ConfigError ? 2 : 1)
  }
}

async function migrate(): Promise<void> {
  const config = configOrExit()
  const log = createLogger(config)
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES)))
  const applied: unknown = await db.query('SELECT name FROM migrations ORDER BY id')
  log.info('database schema up to date', {
    database: config.database.url ? redactUrl(config.database.url) : `${config.dataDir}/${config.database.sqliteFile}`,
    migrations: (applied as Array<{ name: string }>).map((r) => r.name),
  })
  await db.destroy()
}

async function simulate(args: string[]): Promise<void> {
  const index = args.indexOf('--script')
  const file = index >= 0 ? args[index + 1] : undefined
  if (!file) {
    process.stderr.write('qunyun simulate: --script FILE is required\n')
    process.exit(2)
  }
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (error: unknown) {
    process.stderr.write(`qunyun simulate: cannot read ${file}: ${(error as Error).message}\n`)
    process.exit(2)
  }
  const config = configOrExit({ log: { level: 'error' }, simulation: { mode: 'off' } })
  // stdout carries the transcript and nothing else, so it can be piped (`| jq`): anything a library
  // prints while the rehearsal runs goes to stderr with the logs.
  const stdout = process.stdout.write.bind(process.stdout)
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write
  let result: Awaited<ReturnType<typeof runScript>>
  try {
    result = await runScript(text, { config, log: createLogger(config, process.stderr) })
  } catch (error) {
    if (error instanceof ScriptError) {
      process.stderr.write(`qunyun simulate: ${file}: ${error.problems.length} problem(s)\n${error.problems.map((p) => `  ${p}\n`).join('')}`)
      process.exit(2)
    }
    throw error
  } finally {
    process.stdout.write = stdout
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}

/** Values of a repeatable flag (`--group a --group b`). */
function flagValues(args: string[], flag: string): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) if (args[i] === flag && args[i + 1] !== undefined) out.push(args[++i] as string)
  return out
}

function usageError(message: string): never {
  process.stderr.write(`qunyun token: ${message}\n\n${USAGE}\n`)
  process.exit(2)
}

/** A token subcommand with its arguments checked, ready to run against the token store. */
type TokenAction = (store: TokenStore) => Promise<void>

/** Checks a token subcommand's arguments (exiting 2 with a usage message when wrong) before anything is opened. */
function tokenAction(sub: string | undefined, rest: string[]): TokenAction {
  switch (sub) {
    case 'create': {
      const given = flagValues(rest, '--role')[0]
      if (given === undefined) usageError(`--role is required (${ROLES.join(', ')})`)
      if (!(ROLES as readonly string[]).includes(given)) usageError(`invalid role "${given}": use one of ${ROLES.join(', ')}`)
      const role = given as Role
      const groups = flagValues(rest, '--group')
      const allGroups = rest.includes('--all-groups')
      if (role === 'owner' && allGroups) usageError('owners are scoped to granted groups (--group ID …)')
      if (role === 'admin' && groups.length > 0) usageError('admins see every group; --group is for owners and operators')
      const name = flagValues(rest, '--name')[0] ?? `${role}-${new Date().toISOString().slice(0, 10)}`
      return async (store) => {
        if (role === 'owner' && groups.length === 0) process.stderr.write('qunyun token: warning: an owner with no --group sees nothing until groups are granted\n')
        const { token: secret, view } = await store.create({ name, role, groupIds: groups, allGroups, createdBy: 'cli' })
        process.stderr.write(`created token ${view.id} (${view.role}, ${view.allGroups ? 'all groups' : `${view.groupIds.length} group(s)`}). Store it now: it is not shown again.\n`)
        process.stdout.write(`${secret}\n`)
      }
    }
    case 'list':
      return async (store) => {
        const items = await store.list({ includeRevoked: rest.includes('--all'), limit: 1000 })
        process.stdout.write(`${JSON.stringify(items, null, 2)}\n`)
      }
    case 'revoke': {
      const id = Number(rest[0])
      if (!Number.isInteger(id) || id <= 0) usageError('revoke takes a token id')
      return async (store) => {
        const view = await store.revoke(id)
        if (!view) { process.stderr.write(`qunyun token: no token ${id}\n`); process.exitCode = 1; return }
        process.stderr.write(`revoked token ${id}\n`)
      }
    }
    case 'grant': {
      const id = Number(rest[0])
      if (!Number.isInteger(id) || id <= 0) usageError('grant takes a token id and --group ID …')
      return async (store) => {
        const existing = await store.get(id)
        if (!existing) { process.stderr.write(`qunyun token: no token ${id}\n`); process.exitCode = 1; return }
        if (existing.role === 'admin') { process.stderr.write('qunyun token: admins see every group\n'); process.exitCode = 2; return }
        const view = await store.setGroups(id, flagValues(rest, '--group'))
        process.stdout.write(`${JSON.stringify(view, null, 2)}\n`)
      }
    }
    default:
      usageError(`unknown subcommand "${sub ?? ''}"`)
  }
}

async function token(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  const action = tokenAction(sub, rest)
  const config = configOrExit()
  const log = createLogger({ log: { ...config.log, level: 'warn' } })
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES)))
  // With Redis, changes reach running servers at once (their token caches are dropped over pub/sub).
  const ports = config.redis.url ? await createRedisPorts({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }) : createMemoryPorts()
  try {
    await action(new TokenStore({ store: new FeatureStore(db, accessFeature.name, accessFeature.entities ?? []), clock: systemClock, pubsub: ports.pubsub, log }))
  } finally {
    await ports.close()
    await db.destroy()
  }
}

/** `qunyun stats rebuild`: starts the runtime without bots, HTTP or timers and runs the stats rebuild. */
async function stats(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  const flag = (name: string): string | undefined => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined }
  const groupId = flag('--group')
  const from = flag('--from')
  const to = flag('--to')
  const day = /^\d{4}-\d{2}-\d{2}$/
  if (sub !== 'rebuild' || !groupId || !from || !to || !day.test(from) || !day.test(to)) {
    process.stderr.write(`qunyun stats: expected rebuild --group ID --from YYYY-MM-DD --to YYYY-MM-DD\n\n${USAGE}\n`)
    process.exit(2)
  }
  const config = configOrExit({ simulation: { mode: 'off' } })
  const log = createLogger({ log: { ...config.log, level: 'warn' } })
  const { Runtime } = await import('./main')
  const { STATS_REBUILD } = await import('./contracts/stats')
  const runtime = new Runtime(config, { log, bots: [], http: false, scheduler: false, simulation: false })
  try {
    await runtime.start()
    const report = await runtime.host.service(STATS_REBUILD).rebuild(groupId, from, to)
    process.stdout.write(`${JSON.stringify(report)}\n`)
  } catch (error) {
    process.stderr.write(`qunyun stats rebuild: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  } finally {
    await runtime.stop()
  }
}

/** `qunyun retention run [--class X] [--dry-run]`: the daily purge, now, with its counts as JSON on stdout. */
async function retention(args: string[]): Promise<void> {
  const [sub, ...rest] = args
  const fail = (message: string): never => {
    process.stderr.write(`qunyun retention: ${message}\n\n${USAGE}\n`)
    process.exit(2)
  }
  if (sub !== 'run') fail(`unknown subcommand "${sub ?? ''}"`)
  const known = new Set(['--class', '--dry-run'])
  for (let i = 0; i < rest.length; i++) {
    if (!known.has(rest[i] as string)) fail(`unknown option "${rest[i] ?? ''}"`)
    if (rest[i] === '--class') i++
  }
  const wanted = flagValues(rest, '--class')
  if (rest.includes('--class') && wanted.length === 0) fail('--class needs a data class')
  const bad = wanted.filter((c) => !(DATA_CLASSES as readonly string[]).includes(c))
  if (bad.length > 0) fail(`unknown data class "${bad.join('", "')}" (one of ${DATA_CLASSES.join(', ')})`)
  const classes = (wanted.length > 0 ? wanted : DATA_CLASSES) as DataClass[]
  const dryRun = rest.includes('--dry-run')
  const config = configOrExit()
  const log = createLogger({ log: { ...config.log, level: 'warn' } }, process.stderr)
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES)))
  try {
    const access = new FeatureStore(db, accessFeature.name, accessFeature.entities ?? [])
    const service = new RetentionService({
      settings: config.retention, store: new DbRetentionStore(db), clock: systemClock, log, timezone: config.timezone,
      scopes: () => loadTokenScopes(access),
      declarations: declaredPersonalData(FEATURES),
    })
    const runs = []
    for (const dataClass of classes) runs.push(await service.purge(dataClass, { source: 'cli', dryRun }))
    process.stdout.write(`${JSON.stringify({ dryRun, runs: runs.map((r) => ({ dataClass: r.dataClass, deleted: r.deleted, cleared: r.cleared, batches: r.batches, tables: r.detail })) }, null, 2)}\n`)
  } finally {
    await db.destroy()
  }
}

/** `qunyun member erase|pseudonym ID …`: runs in a runtime without bots, HTTP or jobs (feature hooks and pub/sub included). */
async function member(args: string[]): Promise<void> {
  const [sub, id, ...rest] = args
  const fail = (message: string): never => {
    process.stderr.write(`qunyun member: ${message}\n\n${USAGE}\n`)
    process.exit(2)
  }
  if ((sub !== 'erase' && sub !== 'pseudonym') || !id || id.startsWith('--') || id.length > 191) fail('usage: qunyun member erase ID … | qunyun member pseudonym ID')
  const known = new Set(['--group', '--dry-run', '--verify', '--name', '--text', '--log-file'])
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string
    if (!known.has(a)) fail(`unknown argument "${a}"`)
    if (a !== '--dry-run' && a !== '--verify') { if (rest[i + 1] === undefined) fail(`${a} needs a value`); i++ }
  }
  const groups = flagValues(rest, '--group')
  const dryRun = rest.includes('--dry-run')
  const verify = rest.includes('--verify')
  if (dryRun && verify) fail('--verify erases first; use one of --dry-run and --verify')
  const config = configOrExit({ simulation: { mode: 'off' } })
  const log = createLogger({ log: { ...config.log, level: 'warn' } })
  const { Runtime, readLogFile } = await import('./main')
  const runtime = new Runtime(config, { log, bots: [], http: false, scheduler: false, simulation: false })
  await runtime.start()
  try {
    const memberId = id as string
    if (sub === 'pseudonym') {
      const p = runtime.erasure.pseudonym(memberId)
      process.stdout.write(`${p}\nlogs name this member as ~${p.slice(0, 16)}\n`)
      return
    }
    if (config.redis.url === null && !dryRun) {
      process.stderr.write('qunyun member: embedded mode (no Redis): a running server keeps this member in its in-process caches and counters until it restarts; prefer DELETE /api/v1/members/ID on the running server\n')
    }
    const needles = verify ? await runtime.erasure.needles(memberId, { names: flagValues(rest, '--name'), texts: flagValues(rest, '--text') }) : []
    let receipt
    try {
      receipt = await runtime.erasure.erase(memberId, { ...(groups.length > 0 ? { groupIds: groups } : {}), dryRun })
    } catch (error) {
      if (!(error instanceof UnknownMemberError)) throw error
      process.stderr.write(`qunyun member: ${error.message}\n`)
      process.exitCode = 2
      return
    }
    process.stdout.write(`${JSON.stringify(receipt, null, 2)}\n`)
    if (!verify) return
    const files = [...config.privacy.logFiles, ...flagValues(rest, '--log-file')]
    const findings = await runtime.erasure.residue(needles, files, readLogFile)
    const searched = needles.map((n) => n.kind).reduce<Record<string, number>>((m, k) => ({ ...m, [k]: (m[k] ?? 0) + 1 }), {})
    process.stdout.write(`${JSON.stringify({ residue: { searched, logFiles: files.length, clean: findings.length === 0, findings } }, null, 2)}\n`)
    if (findings.length > 0) process.exitCode = 1
  } finally {
    await runtime.stop()
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start': return start()
    case 'migrate': return migrate()
    case 'simulate': return simulate(rest)
    case 'token': return token(rest)
    case 'stats': return stats(rest)
    case 'retention': return retention(rest)
    case 'member': return member(rest)
    case 'data-map': {
      const { declaredPersonalData, dataMapMarkdown } = await import('./personal-data')
      process.stdout.write(dataMapMarkdown(declaredPersonalData(FEATURES)))
      return
    }
    case 'lottery': {
      process.exitCode = lotteryCommand(rest, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) })
      return
    }
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(`${USAGE}\n`)
      return
    default:
      process.stderr.write(`qunyun: unknown command "${command}"\n\n${USAGE}\n`)
      process.exit(2)
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`qunyun: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
