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

/** How logs write a member: `~` + the first 16 hex digits of the member's pseudonym. */
export function logPseudonym(memberId: string, pseudonym: (memberId: string) => string): string {
  return `~${pseudonym(memberId).slice(0, 16)}`
}

/** Characters that may be part of an id: an id is replaced only where it stands on its own. */
const ID_CHAR = 'A-Za-z0-9_-'

/**
 * Platform member ids recognisable on their own in free text (error texts of the puppet or WeCom): wechat
 * ids (`wxid_…`) and WeCom external user ids (`wm…` / `wo…`, 32 characters or so).
 */
const PLATFORM_ID = new RegExp(`(?<![${ID_CHAR}])(?:wxid_[${ID_CHAR}]{4,}|w[mo][${ID_CHAR}]{24,})(?![${ID_CHAR}])`, 'g')

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * Free text (an error's message and stack) with member ids written as log pseudonyms: the `ids` given
 * (those of the action or line at hand) wherever they stand on their own, and any platform id that looks
 * like one (`wxid_…`, WeCom external ids) — so an error quoting a member never puts their id in a log
 * file or an error column.
 */
export function scrubMemberIds(text: string, ids: readonly string[], pseudonym: (memberId: string) => string): string {
  let out = text
  for (const id of new Set(ids)) {
    if (id.length === 0 || !out.includes(id)) continue
    out = out.replace(new RegExp(`(?<![${ID_CHAR}])${escapeRegExp(id)}(?![${ID_CHAR}])`, 'g'), logPseudonym(id, pseudonym))
  }
  return out.replace(PLATFORM_ID, (id) => logPseudonym(id, pseudonym))
}

/** Log fields holding free text (errors, reasons) that may quote a member id. */
const TEXT_FIELDS = new Set(['error', 'reason', 'hint'])

/**
 * A logger that writes member ids as pseudonyms (`~` + the first 16 hex digits of the member's HMAC
 * pseudonym) in the fields above, at every level — so log files never hold a member's id, an erased
 * member leaves nothing to find in them, and an operator can still follow one member's lines
 * (`qunyun member pseudonym ID` prints what to grep for).
 */
export function pseudonymisingLogger(log: Logger, pseudonym: (memberId: string) => string): Logger {
  const short = (v: unknown): unknown => (typeof v === 'string' ? logPseudonym(v, pseudonym) : Array.isArray(v) ? v.map(short) : v)
  const clean = (meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined => {
    if (!meta) return meta
    let out: Record<string, unknown> | undefined
    let ids: string[] | undefined
    for (const key of Object.keys(meta)) {
      if (!MEMBER_FIELDS.has(key)) continue
      out ??= { ...meta }
      const v = meta[key]
      ids ??= []
      for (const m of Array.isArray(v) ? v : [v]) {
        const id: unknown = m && typeof m === 'object' && 'id' in m ? (m as { id: unknown }).id : m
        if (typeof id === 'string') ids.push(id)
      }
      // Members as objects ({ id, name }) keep only their pseudonymous id.
      out[key] = Array.isArray(v) ? v.map((m: unknown) => (m && typeof m === 'object' && 'id' in m ? short((m as { id: unknown }).id) : short(m))) : short(v)
    }
    // Error texts quoting a member (the line's members, or any platform id) carry their pseudonym instead.
    for (const key of TEXT_FIELDS) {
      const v = meta[key]
      if (typeof v !== 'string') continue
      const scrubbed = scrubMemberIds(v, ids ?? [], pseudonym)
      if (scrubbed === v) continue
      out ??= { ...meta }
      out[key] = scrubbed
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
