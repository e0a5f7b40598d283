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

/** Log fields that hold a member id (or several): written as pseudonyms (see `pseudonymisingLogger`). */
const MEMBER_FIELDS = new Set(['member', 'memberId', 'memberIds', 'members', 'sender', 'senderId', 'contact', 'contactId', 'inviter', 'inviterId', 'winner', 'winners', 'winnerIds', 'owner', 'ownerId'])

/**
 * A logger that writes member ids as pseudonyms (`~` + the first 16 hex digits of the member's HMAC
 * pseudonym) in the fields above, at every level — so log files never hold a member's id, an erased
 * member leaves nothing to find in them, and an operator can still follow one member's lines
 * (`qunyun member pseudonym ID` prints what to grep for).
 */
export function pseudonymisingLogger(log: Logger, pseudonym: (memberId: string) => string): Logger {
  const short = (v: unknown): unknown => (typeof v === 'string' ? `~${pseudonym(v).slice(0, 16)}` : Array.isArray(v) ? v.map(short) : v)
  const clean = (meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined => {
    if (!meta) return meta
    let out: Record<string, unknown> | undefined
    for (const key of Object.keys(meta)) {
      if (!MEMBER_FIELDS.has(key)) continue
      out ??= { ...meta }
      const v = meta[key]
      // Members as objects ({ id, name }) keep only their pseudonymous id.
      out[key] = Array.isArray(v) ? v.map((m: unknown) => (m && typeof m === 'object' && 'id' in m ? short((m as { id: unknown }).id) : short(m))) : short(v)
    }
    return out ?? meta
  }
  return {
    error: (m, x) => log.error(m, clean(x)),
    warn: (m, x) => log.warn(m, clean(x)),
    info: (m, x) => log.info(m, clean(x)),
    debug: (m, x) => log.debug(m, clean(x)),
    child: (meta) => pseudonymisingLogger(log.child(clean(meta) ?? {}), pseudonym),
  }
}
