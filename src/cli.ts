#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import type { Config } from './config/config.schema'
import { ConfigError, loadConfig } from './config/load'
import { createLogger } from './logging'
import { Runtime } from './main'
import { CORE_ENTITIES, dataSourceOptions, openDatabase, redactUrl } from './adapters/db/data-source'
import { FEATURES } from './features'
import { runScript, ScriptError } from './simulation/script'

const USAGE = `qunyun — WeCom community-operations bot

usage:
  qunyun start                      start the bots and the admin API
  qunyun migrate                    apply pending database migrations and exit
  qunyun simulate --script FILE     rehearse a scripted conversation; prints the transcript as JSON
  qunyun help                       this text

configuration: config/*.yaml, overridden by environment variables (see README).`

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
  const runtime = new Runtime(config, { log })
  let signals = 0
  const shutdown = (signal: string): void => {
    signals++
    if (signals > 1) {
      log.warn('second signal: exiting without waiting', { signal })
      process.exit(1)
    }
    log.info('signal received; shutting down gracefully', { signal })
    runtime.stop().then(() => process.exit(0), (error: unknown) => {
      log.error('shutdown failed', { error: String(error) })
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  try {
    await runtime.start()
  } catch (error) {
    if (error instanceof ConfigError) process.stderr.write(`qunyun: ${error.message}\n`)
    else log.error('start failed', { error: error instanceof Error ? error.message : String(error) })
    await runtime.stop().catch(() => undefined)
    process.exit(error instanceof ConfigError ? 2 : 1)
  }
}

async function migrate(): Promise<void> {
  const config = configOrExit()
  const log = createLogger(config)
  const entities = [...CORE_ENTITIES, ...FEATURES.flatMap((f) => f.entities ?? [])]
  const db = await openDatabase(dataSourceOptions(config, entities))
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
  try {
    const transcript = await runScript(text, { config, log: createLogger(config, process.stderr) })
    process.stdout.write(`${JSON.stringify(transcript, null, 2)}\n`)
  } catch (error) {
    if (error instanceof ScriptError) {
      process.stderr.write(`qunyun simulate: ${file}: ${error.message}\n`)
      process.exit(2)
    }
    throw error
  }
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start': return start()
    case 'migrate': return migrate()
    case 'simulate': return simulate(rest)
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
