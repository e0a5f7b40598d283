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
