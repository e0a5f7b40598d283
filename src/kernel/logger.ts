/** The logging surface the kernel and features use (winston implements it; tests can capture it). */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void
  warn(message: string, meta?: Record<string, unknown>): void
  info(message: string, meta?: Record<string, unknown>): void
  debug(message: string, meta?: Record<string, unknown>): void
  /** A logger whose lines all carry `meta` (bot, group, msg …). */
  child(meta: Record<string, unknown>): Logger
}

/** A logger that drops everything (benchmarks, some tests). */
export const silentLogger: Logger = {
  error: () => {}, warn: () => {}, info: () => {}, debug: () => {},
  child: () => silentLogger,
}

/**
 * A child logger created on first use: the message path names bot/group/msg for every message, but most
 * messages never log, and building a winston child per message is measurable at 50k msg/s.
 */
export function lazyChild(parent: Logger, meta: Record<string, unknown>): Logger {
  let child: Logger | undefined
  const get = (): Logger => (child ??= parent.child(meta))
  return {
    error: (m, x) => get().error(m, x),
    warn: (m, x) => get().warn(m, x),
    info: (m, x) => get().info(m, x),
    debug: (m, x) => get().debug(m, x),
    child: (more) => lazyChild(parent, { ...meta, ...more }),
  }
}

/** Error text with its stack, for logs (errors are always logged with their stack, never just `String(error)`). */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`
  return String(error)
}
