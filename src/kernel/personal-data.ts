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
 *   cleared, mention columns have M's id and names replaced);
 * - in other rows, any other member column equal to M (inviter, actor …) becomes M's pseudonym;
 * - rows whose mention columns contain M's id (or one of M's names, collected from the name columns
 *   of M's own rows before anything is erased) get `onErase` too when the table has no member column,
 *   otherwise those values have the id and names replaced by the pseudonym.
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
   */
  agesWith?: { table: string; on: Readonly<Record<string, string>>; timeColumn: string }
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
  /** JSON or free-text properties that may mention a member inside a larger value (payloads, proofs, audit summaries, event ids). */
  mentionColumns?: readonly string[]
  /** Property holding the group id: an owner's erasure touches only rows of their groups; tables without it need an admin. */
  groupColumn?: string
  onErase: EraseMode
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
