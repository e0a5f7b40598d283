import type { FeatureStore } from '../../adapters/db/feature-store'
import { SerialRunner } from '../../kernel/serial'
import type { IncomingMessage, MessageType } from '../../kernel/context'
import { localTime } from '../../kernel/time'
import type { Row } from '../../adapters/db/sql'

const sep = '\u0000'

/** How the pipeline handled a message: the feature that consumed it, and whether an auto-reply answered it. */
export interface Handling { handledBy: string | undefined; autoAnswered: boolean }

/** Which counter column a message type adds to. */
function typeColumn(type: MessageType): 5 | 6 | 7 | 8 {
  switch (type) {
    case 'text': return 5
    case 'image': case 'video': case 'audio': case 'file': case 'emoticon': return 6
    case 'url': case 'miniprogram': case 'contact': case 'location': return 7
    default: return 8
  }
}

/** Characters (code points, so an emoji counts once) of a string, without allocating. */
export function codePoints(text: string): number {
  let n = text.length
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) n--
  }
  return n
}

/**
 * Accumulates activity in memory and writes it in batches: per-member daily counters, hourly buckets and
 * the message log, all in one transaction per flush. A failed write keeps its rows for the next flush.
 */
export class ActivityBuffer {
  // daily row: group, member, day, messages, chars, text, media, card, other
  private daily = new Map<string, Row>()
  private hourly = new Map<string, Row>()
  private log: Row[] = []
  private retry: { daily: Row[]; hourly: Row[]; log: Row[] } | null = null
  private readonly writer = new SerialRunner(() => this.write())
  /** Totals written since the last report (for the periodic info line). */
  readonly written = { messages: 0, groups: new Set<string>() }
  /** Message-log rows written since start (never reset; the flushed-rows metric reads its growth). */
  rowsWritten = 0

  constructor(private readonly store: FeatureStore) {}

  /**
   * Counts one message (day and hour in the group's timezone) and logs it. `handling`: how the pipeline
   * handled it (absent: not known yet — the middleware logs after the chain through `logMessage`).
   */
  record(message: IncomingMessage, timezone: string, keepText: boolean, handling?: Handling): void {
    this.count(message, timezone)
    this.logMessage(message, keepText, handling ?? { handledBy: undefined, autoAnswered: false })
  }

  /** Counts one message in the daily and hourly counters. */
  count(message: IncomingMessage, timezone: string): void {
    const { day, hour } = localTime(message.at, timezone)
    const dKey = message.groupId + sep + message.senderId + sep + day
    let d = this.daily.get(dKey)
    if (!d) this.daily.set(dKey, (d = [message.groupId, message.senderId, day, 0, 0, 0, 0, 0, 0]))
    ;(d[3] as number)++
    ;(d[4] as number) += codePoints(message.text)
    ;(d[typeColumn(message.type)] as number)++
    const hKey = message.groupId + sep + day + sep + hour
    const h = this.hourly.get(hKey)
    if (h) (h[3] as number)++
    else this.hourly.set(hKey, [message.groupId, day, hour, 1])
  }

  /** Adds one message to the log, with how the pipeline handled it. */
  logMessage(message: IncomingMessage, keepText: boolean, handling: Handling): void {
    this.log.push([message.id, message.groupId, message.senderId, message.type, keepText ? message.text : null, message.at, handling.handledBy?.slice(0, 32) ?? null, handling.autoAnswered ? 1 : 0])
  }

  /** Messages waiting to be written. */
  get pending(): number { return this.log.length + (this.retry?.log.length ?? 0) }

  /**
   * Writes everything recorded so far. While a write runs, callers get one follow-up write queued behind
   * it (the running one does not contain what was recorded after it started).
   */
  flush(): Promise<void> { return this.writer.run() }

  private async write(): Promise<void> {
    const batch = {
      daily: [...(this.retry?.daily ?? []), ...this.daily.values()],
      hourly: [...(this.retry?.hourly ?? []), ...this.hourly.values()],
      log: [...(this.retry?.log ?? []), ...this.log],
    }
    this.retry = null
    this.daily = new Map()
    this.hourly = new Map()
    this.log = []
    if (batch.log.length === 0 && batch.daily.length === 0) return
    if (this.store.dialect === 'sqlite') await this.writeSliced(batch)
    else await this.writeParallel(batch)
  }

  /**
   * SQLite: slices of a few milliseconds, one transaction each, yielding to the event loop in between —
   * committed by the writer thread on a file database (FeatureStore.write; the write lock is held only that
   * long), synchronously on this thread otherwise.
   */
  private async writeSliced(batch: { daily: Row[]; hourly: Row[]; log: Row[] }): Promise<void> {
    // Rows grouped by group (in recorded order): each slice then touches the index pages of a few groups, not of
    // all of them, so committing slice by slice writes about the same pages as one big transaction.
    batch.daily = byGroup(batch.daily, 0)
    batch.hourly = byGroup(batch.hourly, 0)
    batch.log = byGroup(batch.log, 1)
    // Offsets of what is committed: only the rest is retried if a later slice fails.
    let d = 0
    let h = 0
    let l = 0
    const more = (): boolean => d < batch.daily.length || h < batch.hourly.length || l < batch.log.length
    try {
      while (more()) {
        const part = { daily: batch.daily.slice(d, d + SQLITE_SLICE_ROWS), hourly: batch.hourly.slice(h, h + SQLITE_SLICE_ROWS), log: batch.log.slice(l, l + SQLITE_SLICE_ROWS) }
        await this.store.write(async (m) => {
          await m.upsertIncrement(DAILY.table, DAILY.keys, DAILY.counters, part.daily)
          await m.upsertIncrement(HOURLY.table, HOURLY.keys, HOURLY.counters, part.hourly)
          await m.insertIgnore(LOG.table, LOG.columns, part.log)
        })
        d += part.daily.length
        h += part.hourly.length
        l += part.log.length
        this.counted(part.log)
        if (more()) await yieldToLoop()
      }
    } catch (error) {
      // Keep what was not committed for the next flush: counters are additive, the log insert is idempotent.
      this.retry = { daily: batch.daily.slice(d), hourly: batch.hourly.slice(h), log: batch.log.slice(l) }
      throw error
    }
  }

  /**
   * MySQL: multi-row statements of a bounded size (mysql2 formats each one on this thread), several at a
   * time on the pool's connections so the server works on them in parallel. Each statement is atomic;
   * the ones that failed are kept for the next flush.
   */
  private async writeParallel(batch: { daily: Row[]; hourly: Row[]; log: Row[] }): Promise<void> {
    type Part = { kind: 'daily' | 'hourly' | 'log'; rows: Row[] }
    const split = (kind: Part['kind']): Part[] => {
      const out: Part[] = []
      for (let i = 0; i < batch[kind].length; i += MYSQL_PART_ROWS) out.push({ kind, rows: batch[kind].slice(i, i + MYSQL_PART_ROWS) })
      return out
    }
    // Counter upserts one after the other (concurrent upserts of neighbouring keys can deadlock on gap
    // locks); the log's inserts of distinct ids side by side with them.
    const counters = [...split('daily'), ...split('hourly')]
    const log = split('log')
    const failed: { daily: Row[]; hourly: Row[]; log: Row[] } = { daily: [], hourly: [], log: [] }
    let firstError: unknown = null
    const lane = async (queue: Part[]): Promise<void> => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        try {
          if (part.kind === 'daily') await this.store.upsertIncrement(DAILY.table, DAILY.keys, DAILY.counters, part.rows)
          else if (part.kind === 'hourly') await this.store.upsertIncrement(HOURLY.table, HOURLY.keys, HOURLY.counters, part.rows)
          else {
            await this.store.insertIgnore(LOG.table, LOG.columns, part.rows)
            this.counted(part.rows)
          }
        } catch (error) {
          // The statement was rolled back as a whole: keep its rows for the next flush.
          firstError ??= error
          for (const row of part.rows) failed[part.kind].push(row)
        }
      }
    }
    await Promise.all([lane(counters), ...Array.from({ length: MYSQL_LOG_LANES }, () => lane(log))])
    if (firstError !== null) {
      this.retry = failed
      throw firstError
    }
  }

  private counted(log: Row[]): void {
    this.rowsWritten += log.length
    this.written.messages += log.length
    for (const row of log) this.written.groups.add(row[1] as string)
  }
}

const DAILY = { table: 'qy_activity_daily', keys: ['group_id', 'member_id', 'day'], counters: ['messages', 'chars', 'text_count', 'media_count', 'card_count', 'other_count'] }
const HOURLY = { table: 'qy_activity_hourly', keys: ['group_id', 'day', 'hour'], counters: ['messages'] }
const LOG = { table: 'qy_message_log', columns: ['id', 'group_id', 'sender_id', 'type', 'text', 'at', 'handled_by', 'auto_answered'] }
/** Rows per MySQL statement (≤ 3,000 parameters with the widest table); log statements in flight at once. */
const MYSQL_PART_ROWS = 500
const MYSQL_LOG_LANES = 3

/** Rows per table per SQLite transaction: a few milliseconds of synchronous work. */
const SQLITE_SLICE_ROWS = 2_000

/** Rows of the same group next to each other, in their recorded order (linear time; a sort would hold the loop longer). */
function byGroup(rows: Row[], column: number): Row[] {
  const groups = new Map<string, Row[]>()
  for (const row of rows) {
    const key = row[column] as string
    const list = groups.get(key)
    if (list) list.push(row)
    else groups.set(key, [row])
  }
  const out: Row[] = []
  for (const list of groups.values()) for (const row of list) out.push(row)
  return out
}

/** Lets timers and I/O run (a macrotask boundary). */
function yieldToLoop(): Promise<void> { return new Promise((resolve) => setImmediate(resolve)) }
