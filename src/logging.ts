import winston from 'winston'
import type { Logger } from './kernel/logger'
import type { Config } from './config/config.schema'

/** Wraps a winston logger in the kernel's Logger interface. */
function wrap(w: winston.Logger): Logger {
  return {
    error: (m, meta) => { w.error(m, meta) },
    warn: (m, meta) => { w.warn(m, meta) },
    info: (m, meta) => { w.info(m, meta) },
    debug: (m, meta) => { w.debug(m, meta) },
    child: (meta) => wrap(w.child(meta)),
  }
}

/** Renders `key=value` pairs for the readable development format. */
function pairs(info: Record<string, unknown>): string {
  const skip = new Set(['level', 'message', 'timestamp'])
  return Object.entries(info)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')
}

/** Creates the process logger: JSON in production, readable lines in development; always to stderr-safe stdout. */
export function createLogger(config: Pick<Config, 'log'>, stream?: NodeJS.WritableStream): Logger {
  const format = config.log.format === 'json'
    ? winston.format.combine(winston.format.timestamp(), winston.format.json())
    : winston.format.combine(
      winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
      winston.format.printf((info) => {
        const rest = pairs(info as Record<string, unknown>)
        return `${String(info.timestamp)} ${info.level.padEnd(5)} ${String(info.message)}${rest ? `  ${rest}` : ''}`
      }),
    )
  const transport = stream ? new winston.transports.Stream({ stream }) : new winston.transports.Console()
  return wrap(winston.createLogger({ level: config.log.level, format, transports: [transport] }))
}
