import type { FeatureStore, FeatureTables, FeatureWrites } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import type { IncomingMessage, MessageType } from '../../kernel/context'
import { SerialRunner } from '../../kernel/serial'
import { addDays, localTime } from '../../kernel/time'
import { MAX_OPEN, isQuestion } from './stats.questions'
import { addReach, pairDayKey } from './stats.reach'
import { addAllDays, lockDays, refreshAllGroups } from './stats.scope'
import { refreshRunningTotals } from './stats.running'
import { upsertAdd, upsertOr } from './stats.sql'
import { extractTerms } from './stats.terms'
import { weekdayOf, weekOf } from './stats.time'

const sep = '\u0000'
/** Hour speakers are recomputed from the member-hour staging rows while those are kept (days). */
export const MEMBER_HOUR_KEEP_DAYS = 3
/** Keys per recompute statement (an OR of key pairs). */
const RECOMPUTE_CHUNK = 200

/** Which group-day counter a message type adds to (the message-type mix). */
export function typeIndex(type: MessageType): 0 | 1 | 2 | 3 {
  switch (type) {
    case 'text': return 0
    case 'image': case 'video': case 'audio': case 'file': case 'emoticon': return 1
    case 'url': case 'miniprogram': case 'contact': case 'location': return 2
    default: return 3
  }
}

/** How a message's text is read beyond counting (after the chain: other features may have consumed it). */
export interface TextOptions {
  /** Count its hot-topic terms and treat it as a possible question or answer (false: a command or a message moderation acted on). */
  content: boolean
  /** Count its hot-topic terms (the group's `stats.topics`). */
  topics: boolean
  /** A question counts as resolved when answered within this many milliseconds. */
  answerWithinMs: number
  /** Only as a possible answer to open questions (a rebuild reading past the end of its range). */
  answersOnly?: boolean
}

/** A question waiting for an answer (in memory, see stats.questions.ts). */
interface OpenQuestion { messageId: string; senderId: string; at: number; day: string; hour: number; deadline: number }

/**
 * Term counts are kept in memory across flushes and written at most this often (ms), or when forced (a
 * topics report on this process, shutdown, a rebuild): hot topics do not need second-level freshness, and
 * writing every (group, day, term) row on every flush cost more than everything else stats writes.
 */
export const TERMS_WRITE_MS = 60_000

/** Largest answer-time bucket (minutes): the longest window a rule allows. */
export const MAX_ANSWER_MINUTES = 24 * 60

/**
 * Accumulates message rollups in memory (the message path only touches Maps) and writes them in one
 * transaction per flush: member-day, group-day and group-hour counters are added; a day's active members
 * grow by the batch's new pair-days (stats.reach.ts reads each pair's last active day, so a pair-day is
 * counted once whatever order or however often rows are written); an hour's speakers are recomputed from
 * the member-hour rows of the keys touched. Messages reach this
 * buffer once: the pipeline dedupes message ids (also across restarts) before any middleware runs.
 * A failed write keeps its rows for the next flush (counters are additive, recomputes idempotent).
 */
export class StatsBuffer {
  private memberDay = new Map<string, Row>()
  private groupDay = new Map<string, Row>()
  private groupHour = new Map<string, Row>()
  private memberHour = new Map<string, Row>()
  private memberMonth = new Map<string, Row>()
  /** Texts waiting to be segmented into terms at the next write: group, local day, text. */
  private texts: Array<[string, string, string]> = []
  /** Term rows counted and not written yet (group, day, term → messages). */
  private termRows = new Map<string, Row>()
  private termsWrittenAt: number
  private forceTerms = false
  private questionHour = new Map<string, Row>()
  private answerMinute = new Map<string, Row>()
  private open = new Map<string, OpenQuestion[]>()
  private retry: { memberDay: Row[]; groupDay: Row[]; groupHour: Row[]; memberHour: Row[]; memberMonth: Row[]; termDay: Row[]; questionHour: Row[]; answerMinute: Row[] } | null = null
  private readonly writer = new SerialRunner(() => this.write())

  constructor(private readonly store: FeatureStore, private readonly now: () => number) {
    this.termsWrittenAt = now()
  }

  /** Counts one message in the group's timezone. */
  record(message: IncomingMessage, timezone: string): void {
    const { day, hour } = localTime(message.at, timezone)
    const g = message.groupId
    const m = message.senderId
    const mdKey = g + sep + day + sep + m
    const md = this.memberDay.get(mdKey)
    if (md) (md[4] as number)++
    else {
      this.memberDay.set(mdKey, [g, day, m, weekOf(day), 1])
      const month = day.slice(0, 7)
      const mmKey = g + sep + month + sep + m
      const bit = 1 << (Number(day.slice(8, 10)) - 1)
      const mm = this.memberMonth.get(mmKey)
      if (mm) mm[3] = (mm[3] as number) | bit
      else this.memberMonth.set(mmKey, [g, month, m, bit])
    }
    const gdKey = g + sep + day
    let gd = this.groupDay.get(gdKey)
    if (!gd) this.groupDay.set(gdKey, (gd = [g, day, 0, 0, 0, 0, 0]))
    ;(gd[2] as number)++
    ;(gd[3 + typeIndex(message.type)] as number)++
    const ghKey = gdKey + sep + hour
    const gh = this.groupHour.get(ghKey)
    if (gh) (gh[4] as number)++
    else this.groupHour.set(ghKey, [g, day, hour, weekdayOf(day), 1])
    const mhKey = ghKey + sep + m
    if (!this.memberHour.has(mhKey)) this.memberHour.set(mhKey, [g, day, hour, m])
  }

  /**
   * Reads a message's content after the chain: its terms (segmented at the next write, off the message path)
   * and question resolution. A Map/array update; no I/O.
   */
  observeText(message: IncomingMessage, timezone: string, options: TextOptions): void {
    if (message.type !== 'text' || !options.content || message.text.length === 0) return
    const { day, hour } = localTime(message.at, timezone)
    if (options.topics && !options.answersOnly) this.texts.push([message.groupId, day, message.text])
    const g = message.groupId
    let open = this.open.get(g)
    if (open) {
      // Questions past their window drop out unanswered.
      if (open.some((q) => q.deadline < message.at)) open = open.filter((q) => q.deadline >= message.at)
      if (open.length === 0) this.open.delete(g)
      else this.open.set(g, open)
    }
    const question = isQuestion(message.text)
    if (question && options.answersOnly) return
    if (question) {
      this.addQuestion(g, day, hour, 'asked')
      const list = open ?? []
      list.push({ messageId: message.id, senderId: message.senderId, at: message.at, day, hour, deadline: message.at + options.answerWithinMs })
      if (list.length > MAX_OPEN) list.shift()
      this.open.set(g, list)
      return
    }
    if (!open) return
    const index = open.findIndex((q) => q.senderId !== message.senderId)
    if (index < 0) return
    const [q] = open.splice(index, 1) as [OpenQuestion]
    if (open.length === 0) this.open.delete(g)
    this.resolve(g, q, message.at, 'member')
  }

  /** An auto-reply answered message `messageId` of group `groupId`: resolves it if it is an open question. */
  answeredByAutoReply(groupId: string, messageId: string): void {
    const open = this.open.get(groupId)
    const index = open?.findIndex((q) => q.messageId === messageId) ?? -1
    if (!open || index < 0) return
    const [q] = open.splice(index, 1) as [OpenQuestion]
    if (open.length === 0) this.open.delete(groupId)
    this.resolve(groupId, q, q.at, 'autoreply')
  }

  private resolve(groupId: string, q: OpenQuestion, at: number, by: 'member' | 'autoreply'): void {
    this.addQuestion(groupId, q.day, q.hour, by)
    const minute = Math.min(MAX_ANSWER_MINUTES, Math.max(0, Math.floor((at - q.at) / 60_000)))
    const key = groupId + sep + q.day + sep + minute
    const row = this.answerMinute.get(key)
    if (row) (row[3] as number)++
    else this.answerMinute.set(key, [groupId, q.day, minute, 1])
  }

  private addQuestion(groupId: string, day: string, hour: number, what: 'asked' | 'member' | 'autoreply'): void {
    const key = groupId + sep + day + sep + hour
    let row = this.questionHour.get(key)
    if (!row) this.questionHour.set(key, (row = [groupId, day, hour, weekdayOf(day), 0, 0, 0]))
    if (what === 'asked') (row[4] as number)++
    else { (row[5] as number)++; if (what === 'autoreply') (row[6] as number)++ }
  }

  /** Rows waiting to be written (member-day keys). */
  get pending(): number { return this.memberDay.size + (this.retry?.memberDay.length ?? 0) }

  /** Writes everything recorded so far (one write at a time; a call during a write queues one more). */
  flush(): Promise<void> { return this.writer.run() }

  /** Writes everything including the term counts held back (before a topics report reads them; at shutdown). */
  flushTerms(): Promise<void> {
    this.forceTerms = true
    return this.writer.run()
  }

  /**
   * Takes everything recorded (and any batch a failed write left) out of the buffer; term counts only
   * when `withTerms` (otherwise they are counted and kept for a later write).
   */
  takeBatch(withTerms = true): StatsBatch {
    countTerms(this.texts, this.termRows)
    const terms = withTerms ? [...this.termRows.values()] : []
    if (withTerms) this.termRows = new Map()
    const batch: StatsBatch = {
      memberDay: [...(this.retry?.memberDay ?? []), ...this.memberDay.values()],
      groupDay: [...(this.retry?.groupDay ?? []), ...this.groupDay.values()],
      groupHour: [...(this.retry?.groupHour ?? []), ...this.groupHour.values()],
      memberHour: [...(this.retry?.memberHour ?? []), ...this.memberHour.values()],
      memberMonth: [...(this.retry?.memberMonth ?? []), ...this.memberMonth.values()],
      termDay: [...(this.retry?.termDay ?? []), ...terms],
      questionHour: [...(this.retry?.questionHour ?? []), ...this.questionHour.values()],
      answerMinute: [...(this.retry?.answerMinute ?? []), ...this.answerMinute.values()],
    }
    this.retry = null
    this.texts = []
    this.questionHour = new Map()
    this.answerMinute = new Map()
    this.memberDay = new Map()
    this.groupDay = new Map()
    this.groupHour = new Map()
    this.memberHour = new Map()
    this.memberMonth = new Map()
    return batch
  }

  private async write(): Promise<void> {
    const now = this.now()
    const withTerms = this.forceTerms || now - this.termsWrittenAt >= TERMS_WRITE_MS
    this.forceTerms = false
    if (withTerms) this.termsWrittenAt = now
    const batch = this.takeBatch(withTerms)
    if (batch.memberDay.length === 0 && batch.termDay.length === 0 && batch.questionHour.length === 0 && batch.answerMinute.length === 0) return
    try {
      // A transaction, not a write-only plan: the all-groups and reach rollups read what the batch touches.
      await this.store.transaction((tx) => writeBatch(tx, batch, { speakersSince: addDays(new Date(this.now()).toISOString().slice(0, 10), -(MEMBER_HOUR_KEEP_DAYS - 1)) }))
    } catch (error) {
      this.retry = batch
      throw error
    }
  }
}

/** Rollup rows of a batch of messages, by table (row layouts as the writers below expect them). */
export interface StatsBatch { memberDay: Row[]; groupDay: Row[]; groupHour: Row[]; memberHour: Row[]; memberMonth: Row[]; termDay: Row[]; questionHour: Row[]; answerMinute: Row[] }

/**
 * Adds a batch to the rollups inside a transaction. Hour speakers: recomputed from the member-hour staging
 * rows for hours on or after `speakersSince` (older staging rows may be purged: recounting would
 * undercount), or — for a rebuild, whose batch holds every message of its hours and whose hour rows were
 * deleted first — written from the batch itself (`fromBatch`).
 */
export async function writeBatch(tx: FeatureTables, batch: StatsBatch, speakers: { speakersSince: string } | { fromBatch: true }): Promise<void> {
  const days = batch.groupDay.map((r) => r[1] as string)
  await lockDays(tx, days)
  // Before the member-day rows are written: which of the batch's pair-days are new is read against them.
  const reach = 'fromBatch' in speakers ? null : await addReach(tx, batch.memberDay)
  await upsertAdd(tx, 'qy_stats_member_day', ['group_id', 'day', 'member_id'], ['week'], ['messages'], batch.memberDay)
  if (reach) {
    // Live: `active` grows by the new pair-days (exact: addReach read each pair's last day), and the
    // all-group day rows by the same additions — no recount of member-day rows, no sum over every group.
    const rows = withActive(batch.groupDay, reach.fresh)
    await tx.upsertIncrement('qy_stats_group_day', ['group_id', 'day'], [...MESSAGE_DAY_COLUMNS, 'active'], rows)
    await addAllDays(tx, [...MESSAGE_DAY_COLUMNS, 'active'], rows)
  } else await tx.upsertIncrement('qy_stats_group_day', ['group_id', 'day'], [...MESSAGE_DAY_COLUMNS], batch.groupDay)
  if ('fromBatch' in speakers) {
    const counts = new Map<string, number>()
    for (const r of batch.memberHour) { const k = `${String(r[0])}${sep}${String(r[1])}${sep}${String(r[2])}`; counts.set(k, (counts.get(k) ?? 0) + 1) }
    const rows = batch.groupHour.map((r) => [r[0], r[1], r[2], r[3], counts.get(`${String(r[0])}${sep}${String(r[1])}${sep}${String(r[2])}`) ?? 0, r[4]] as Row)
    await upsertAdd(tx, 'qy_stats_group_hour', ['group_id', 'day', 'hour'], ['weekday', 'speakers'], ['messages'], rows)
  } else await upsertAdd(tx, 'qy_stats_group_hour', ['group_id', 'day', 'hour'], ['weekday'], ['messages'], batch.groupHour)
  // A month row's bit of a day already stored is set already (written with that member-day row): only new days' bits.
  await upsertOr(tx, 'qy_stats_member_month', ['group_id', 'month', 'member_id'], 'days', reach ? newDayBits(batch.memberMonth, reach.stored) : batch.memberMonth)
  await tx.insertIgnore('qy_stats_member_hour', ['group_id', 'day', 'hour', 'member_id'], batch.memberHour)
  await upsertAdd(tx, 'qy_stats_term_day', ['group_id', 'day', 'term'], [], ['n'], batch.termDay)
  await upsertAdd(tx, 'qy_stats_question_hour', ['group_id', 'day', 'hour'], ['weekday'], ['questions', 'resolved', 'by_autoreply'], batch.questionHour)
  await upsertAdd(tx, 'qy_stats_answer_minute', ['group_id', 'day', 'minute'], [], ['n'], batch.answerMinute)
  const hours = batch.groupHour.map((r): [string, number] => [r[1] as string, r[2] as number])
  if (!('fromBatch' in speakers)) {
    await recomputeSpeakers(tx, batch.groupHour.filter((r) => (r[1] as string) >= speakers.speakersSince).map((r) => [r[0] as string, r[1] as string, r[2] as number]))
    // Hour speakers are recounted (a member-hour row's newness is not known here): their all-group sums too.
    await refreshAllGroups(tx, [], hours)
  } else {
    // A rebuild: distinct speakers of the touched days recounted from the member-day rows.
    await recomputeActive(tx, batch.groupDay.map((r) => [r[0] as string, r[1] as string]))
    await refreshAllGroups(tx, days, hours)
  }
  await refreshRunningTotals(tx, batch.groupDay, batch.memberDay)
}

/** Group-day counters a message adds to, in `StatsBuffer` group-day row order after (group_id, day). */
const MESSAGE_DAY_COLUMNS = ['messages', 'text_count', 'media_count', 'card_count', 'other_count'] as const

/**
 * Group-day rows ([group, day, 5 counters]) merged by key (a retried batch may hold a key twice) with the
 * `active` increment of `fresh` ([group, day, n]) appended; a fresh group-day without a row gets one.
 */
function withActive(groupDay: readonly Row[], fresh: readonly Row[]): Row[] {
  const out = new Map<string, Row>()
  for (const r of groupDay) {
    const k = (r[0] as string) + sep + (r[1] as string)
    const row = out.get(k)
    if (!row) { out.set(k, [...r.slice(0, 7), 0]); continue }
    for (let i = 2; i < 7; i++) row[i] = (row[i] as number) + (r[i] as number)
  }
  for (const [g, day, n] of fresh) {
    const k = (g as string) + sep + (day as string)
    const row = out.get(k)
    if (row) row[7] = (row[7] as number) + (n as number)
    else out.set(k, [g, day, 0, 0, 0, 0, 0, n])
  }
  return [...out.values()]
}

/** Member-month rows ([group, month, member, bits]) without the bits of pair-days in `stored`; rows left without bits dropped. */
function newDayBits(rows: readonly Row[], stored: ReadonlySet<string>): Row[] {
  if (stored.size === 0) return [...rows]
  const out: Row[] = []
  for (const r of rows) {
    const month = r[1] as string
    let bits = r[3] as number
    for (let d = 0; d < 31; d++) {
      const bit = 1 << d
      if ((bits & bit) !== 0 && stored.has(pairDayKey(r[0] as string, r[2] as string, `${month}-${String(d + 1).padStart(2, '0')}`))) bits &= ~bit
    }
    if (bits !== 0) out.push([r[0], r[1], r[2], bits])
  }
  return out
}

/** Segments texts into (group, day, term, messages containing it) rows, added to `rows`. */
export function countTerms(texts: ReadonlyArray<[string, string, string]>, rows = new Map<string, Row>()): Row[] {
  for (const [g, day, text] of texts) {
    for (const term of extractTerms(text)) {
      const key = g + sep + day + sep + term
      const row = rows.get(key)
      if (row) (row[3] as number)++
      else rows.set(key, [g, day, term, 1])
    }
  }
  return [...rows.values()]
}

/** Sets each touched group-day's `active` to its distinct speakers (member-day rows with messages). */
export function recomputeActive(tx: FeatureWrites, keys: Array<[string, string]>): Promise<void> {
  return recount(tx, { table: 'qy_stats_group_day', column: 'active', keys: ['group_id', 'day'], from: 'qy_stats_member_day', where: ' AND c.messages > 0' }, keys)
}

/** Sets each touched group-hour's `speakers` to its distinct speakers (member-hour staging rows). */
export function recomputeSpeakers(tx: FeatureWrites, keys: Array<[string, string, number]>): Promise<void> {
  return recount(tx, { table: 'qy_stats_group_hour', column: 'speakers', keys: ['group_id', 'day', 'hour'], from: 'qy_stats_member_hour' }, keys)
}

/** Sets `column` of each touched row of `table` to the number of rows of `from` (alias c) with its key (and `where`). */
async function recount(tx: FeatureWrites, spec: { table: string; column: string; keys: readonly string[]; from: string; where?: string }, keys: Row[]): Promise<void> {
  const update = `UPDATE ${spec.table} SET ${spec.column} = (SELECT COUNT(*) FROM ${spec.from} c WHERE ${spec.keys.map((k) => `c.${k} = ${spec.table}.${k}`).join(' AND ')}${spec.where ?? ''}) WHERE `
  const one = `(${spec.keys.map((k) => `${k} = ?`).join(' AND ')})`
  // SQLite: one prepared statement per key, reused (an OR of 200 keys was compiled afresh every time).
  if (tx.dialect === 'sqlite') {
    await tx.runEach(update + one, keys)
    return
  }
  for (let i = 0; i < keys.length; i += RECOMPUTE_CHUNK) {
    const part = keys.slice(i, i + RECOMPUTE_CHUNK)
    await tx.runEach(update + part.map(() => one).join(' OR '), [part.flat()])
  }
}
