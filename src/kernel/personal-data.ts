/**
 * Personal data declarations (issue 19). Every feature states, in its definition, which of its tables
 * hold personal data, of which data class, and how a member is erased from them — so retention purges
 * and erasure walk the declarations, and a new feature cannot be forgotten (a residue scan test checks
 * every table against them).
 */

/**
 * Data classes with their own retention. Defaults live in config; owners may shorten (never lengthen
 * beyond the deployment's maximum) per group.
 * - message-text: chat text and anything derived that quotes it (30 days)
 * - message-metadata: who posted when, message ids, per-message rows without text (180 days)
 * - rollups: aggregated counters per group/member/day (kept; hold no text)
 * - moderation-evidence: violations, matched terms, strike history (90 days)
 * - audit-log: admin actions (3 years)
 * - delivery-logs: outbound sends, share deliveries, reminders (90 days)
 * - lottery-proofs: entries, draws and winners that make past draws verifiable (kept; pseudonymous)
 * - profile: the member's own record (name, role, join) — kept while the member is in the group,
 *   removed on erasure
 */
export const DATA_CLASSES = [
  'message-text',
  'message-metadata',
  'rollups',
  'moderation-evidence',
  'audit-log',
  'delivery-logs',
  'lottery-proofs',
  'profile',
] as const
export type DataClass = (typeof DATA_CLASSES)[number]

/** How erasure treats a table's rows that name the member. */
export type EraseMode =
  /** Delete the rows. */
  | 'delete'
  /** Replace member id columns with the member's HMAC pseudonym and clear name/text columns. */
  | 'pseudonymise'

/**
 * One table of a feature that holds personal data. Column names are entity property names.
 *
 * Erasure of member M walks it so:
 * - rows whose FIRST member column is M are the member's own rows: `onErase` applies (delete, or
 *   pseudonymise: every member column equal to M becomes M's pseudonym, name and text columns are
 *   cleared);
 * - in other rows, any other member column equal to M (inviter, actor …) becomes M's pseudonym;
 * - mention columns are searched for M's ID only — never for M's display names, which other people's
 *   text and rule values contain by chance (a member named "24" or "读书"). In a table without a member
 *   column and `onErase: 'delete'`, a row is deleted only when a JSON mention column names M as a value
 *   (under `mentionKeys` when given) or, in a table whose mention columns are free text, when the id is
 *   a whole token in it; otherwise the id is replaced by the pseudonym (JSON stays valid JSON). Rows
 *   `inFlight` are left alone and counted.
 */
export interface PersonalTable {
  /** The entity class (one of the feature's `entities`). */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM entity constructors of any shape
  entity: Function
  dataClass: DataClass
  /** Property holding when the row was written (ms); retention purges by it. Absent: never purged by age. */
  timeColumn?: string
  /**
   * How `timeColumn` holds time: `ms` (default) or `day`, a local day `YYYY-MM-DD` (rollups by group-day):
   * such rows are purged once their day is before the cutoff's UTC day (a day's precision).
   */
  timeFormat?: 'ms' | 'day'
  /**
   * A row without a time of its own that ages with a row of another table (its parent): purged once every
   * matching parent row's time is before the cut-off (and at least one matches). A member's per-group
   * profile rows age with the member's record (`qy_member`, `leftAt`: null while they are in the group).
   * `on` maps this entity's properties to the parent's properties; the parent's time column holds ms.
   * `groupColumn`: the parent's group property, for a table without a group column of its own — owners'
   * per-group retention policies then reach its rows through their parent's group.
   */
  agesWith?: { table: string; on: Readonly<Record<string, string>>; timeColumn: string; groupColumn?: string }
  /** Kept at most this many days whatever the class's retention says (staging rows a feature needs only briefly). */
  keepDays?: number
  /**
   * Why the table is never purged by age (no time column, no `agesWith`): e.g. the group's own record.
   * Erasure still applies. A table with neither a time nor this reason fails the coverage test.
   */
  kept?: string
  /** Properties holding member ids; the first is whose row it is, the others refer to a member (inviter, actor …). */
  memberColumns?: readonly string[]
  /** Properties holding member names or message text (cleared when pseudonymising). */
  textColumns?: readonly string[]
  /** Properties holding the member's display name (also in `textColumns` or not); read before erasure to find the names elsewhere. */
  nameColumns?: readonly string[]
  /**
   * JSON or free-text properties that may mention a member inside a larger value (payloads, proofs, audit
   * summaries, event ids). Only the member's ID is looked for, never a display name: a JSON value is
   * parsed and only string values (and keys) exactly equal to the id are replaced (and, in the object
   * holding such a value, its name fields); free text has the id replaced where it is a whole token.
   */
  mentionColumns?: readonly string[]
  /**
   * JSON keys that name members in the mention columns (e.g. `memberId`, `mentions`): when given, only
   * values under these keys count as mentions (a message text equal to an id is not one).
   */
  mentionKeys?: readonly string[]
  /**
   * Rows still in flight (e.g. a pending outbound action, an unprocessed callback): a mention in them is
   * never deleted nor rewritten by erasure (they are delivered or processed as they are, then erased by
   * running the erasure again); the receipt counts them in its note.
   */
  inFlight?: { column: string; values: readonly string[] }
  /** Property holding the group id: an owner's erasure touches only rows of their groups; tables without it need an admin. */
  groupColumn?: string
  onErase: EraseMode
}

/** Property names that hold a display name next to an id (cleared in an object whose id is the member). */
const NAME_KEYS = new Set(['name', 'senderName', 'memberName', 'displayName', 'nickname', 'nick', 'alias'])

/**
 * A parsed JSON value with the member's id replaced by `by`: string values exactly equal to the id (or
 * holding it as a whole `:`/`/`-separated segment of a reference without spaces, `member:<id>`), keys
 * equal to it, and the name fields of an object that has a value equal to the id. With `keys`, only
 * values under those keys (strings or arrays of strings) count. Returns the new value and how many
 * replacements were made (0: the value is returned as it was).
 */
export function replaceMemberInJson(value: unknown, memberId: string, by: string, keys?: ReadonlySet<string>): { value: unknown; hits: number } {
  let hits = 0
  const walk = (v: unknown, allowed: boolean): unknown => {
    if (typeof v === 'string') {
      if (!allowed) return v
      if (v === memberId) { hits++; return by }
      // A reference such as `member:<id>` or `/members/<id>/tags` (no spaces): the id as a whole segment.
      if (!keys && v.includes(memberId) && !/\s/.test(v)) {
        const parts = v.split(/([:/])/)
        let n = 0
        const out = parts.map((part) => (part === memberId ? (n++, by) : part)).join('')
        if (n > 0) { hits += n; return out }
      }
      return v
    }
    if (Array.isArray(v)) return v.map((e) => walk(e, allowed))
    if (v === null || typeof v !== 'object') return v
    const out: Record<string, unknown> = {}
    let own = false
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      const here = keys ? keys.has(k) : true
      if (here && child === memberId) own = true
      let key = k
      if (!keys && k === memberId) { key = by; hits++ }
      out[key] = walk(child, here)
    }
    if (own) {
      for (const k of Object.keys(out)) if (NAME_KEYS.has(k) && typeof out[k] === 'string' && out[k] !== '') { out[k] = by; hits++ }
    }
    return out
  }
  const next = walk(value, keys === undefined)
  return hits === 0 ? { value, hits } : { value: next, hits }
}

/** A declaration together with who made it (a feature's name, or `core`). */
export interface DeclaredPersonalData {
  owner: string
  declaration: PersonalDataDeclaration
}

/** What erasure did in one place (a table, a Redis key family, a cache). */
export interface ErasureCount {
  /** `table:<name>`, `keys:<family>`, `cache:<name>` … */
  place: string
  removed: number
  pseudonymised: number
  /** Why a place was left alone (e.g. it needs an administrator's erasure). */
  note?: string
}

/** A member being erased: the id, and the pseudonym that replaces it where proofs must stay verifiable. */
export interface ErasureSubject {
  memberId: string
  /** HMAC-SHA256(deployment key, memberId), hex; stable per deployment. */
  pseudonym: string
  /** Only these groups (an owner's erasure); absent: everywhere (an administrator's). */
  groupIds?: readonly string[]
  /** Count what would go, change nothing (the preview). */
  dryRun?: boolean
}

/** A feature's personal data: its tables, and a hook for state outside them (caches, Redis keys, JSON). */
export interface PersonalDataDeclaration {
  tables: readonly PersonalTable[]
  /** Why this feature needs what it holds (shown in the README table and the data map route). */
  purpose: string
}
