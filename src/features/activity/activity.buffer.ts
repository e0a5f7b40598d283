import type { FeatureStore, FeatureTables } from '../../adapters/db/feature-store'
import { isDeadlock, isDuplicate } from '../../adapters/db/errors'
import { SerialRunner } from '../../kernel/serial'
import type { IncomingMessage, MessageType } from '../../kernel/context'
import { localTime } from '../../kernel/time'
import { clusterBy, type Row } from '../../adapters/db/sql'

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

/** What one message adds to the counters: its local day and hour, its characters, its type column. */
interface Contribution { day: string; hour: number; chars: number; column: 5 | 6 | 7 | 8 }

/** One message waiting to be written: its log row, and what it adds to the counters (absent: logged only). */
interface Entry { log: Row; adds: Contribution | undefined }

/**
 * Accumulates activity in memory and writes it in batches: per-member daily counters, hourly buckets and
 * the message log. The log row is the key that makes the counters exact: each slice (SQLite) or part
 * (MySQL) is one transaction that reads which of its message ids are already logged, inserts the log rows
 * of the others with a plain INSERT and adds only their contributions to the counters. A message processed
 * twice (redelivered after a crash lost its dedupe mark, or a write retried after a commit whose outcome
 * was lost) therefore counts once. A concurrent writer that logs one of the ids between the read and the
 * insert makes the insert fail on the key: the transaction rolls back and the slice is redone. A failed
 * write keeps its messages for the next flush.
 */
export class ActivityBuffer {
  /** Contributions of messages counted and not logged yet (the middleware logs after the chain), by id. */
  private counting = new Map<string, Contribution>()
  private entries: Entry[] = []
  private retry: Entry[] = []
  private readonly writer = new SerialRunner(() => this.write())
  /**
   * Totals written since the last report (for the periodic info line); `alreadyLogged`: messages found in the
   * log when written (processed before: a redelivery or a retried write), not counted again.
   */
  readonly written = { messages: 0, groups: new Set<string>(), alreadyLogged: 0 }
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

  /**
   * Counts one message in the daily and hourly counters: kept with its id until `logMessage` adds its log
   * row (counters are written only together with the message's log row).
   */
  count(message: IncomingMessage, timezone: string): void {
    const { day, hour } = localTime(message.at, timezone)
    this.counting.set(message.id, { day, hour, chars: codePoints(message.text), column: typeColumn(message.type) })
  }

  /** Adds one message to the log, with how the pipeline handled it (and its counts, if `count` saw it). */
  logMessage(message: IncomingMessage, keepText: boolean, handling: Handling): void {
    const adds = this.counting.get(message.id)
    if (adds) this.counting.delete(message.id)
    this.entries.push({
      log: [message.id, message.groupId, message.senderId, message.type, keepText ? message.text : null, message.at, handling.handledBy?.slice(0, 32) ?? null, handling.autoAnswered ? 1 : 0],
      adds,
    })
  }

  /** Messages waiting to be written. */
  get pending(): number { return this.entries.length + this.retry.length }

  /**
   * Writes everything recorded so far. While a write runs, callers get one follow-up write queued behind
   * it (the running one does not contain what was recorded after it started).
   */
  flush(): Promise<void> { return this.writer.run() }

  private async write(): Promise<void> {
    const batch = this.retry.length === 0 ? this.entries : [...this.retry, ...this.entries]
    this.retry = []
    this.entries = []
    if (batch.length === 0) return
    // One entry per message id (the first), rows of a group next to each other (each slice then touches the
    // index pages of a few groups, not of all of them).
    const entries = byGroup(batch)
    if (this.store.dialect === 'sqlite') await this.writeSliced(entries)
    else await this.writeParallel(entries)
  }

  /**
   * SQLite: slices of a few milliseconds, one transaction each, yielding to the event loop in between —
   * committed by the writer thread on a file database (FeatureStore.write; the write lock is held only that
   * long), synchronously on this thread otherwise. The read of the logged ids runs on this thread's
   * connection just before (WAL: it sees every committed slice); the plain insert of the log rows in the
   * plan is what makes it race-free.
   */
  private async writeSliced(entries: Entry[]): Promise<void> {
    // Offset of what is committed: only the rest is retried if a later slice fails.
    let done = 0
    try {
      while (done < entries.length) {
        const part = entries.slice(done, done + SQLITE_SLICE_ROWS)
        await this.keyed(part, async (fresh) => {
          const { daily, hourly, log } = aggregate(fresh)
          await this.store.write(async (m) => {
            await m.upsertRows(LOG.table, LOG.columns, '', log)
            await m.upsertIncrement(DAILY.table, DAILY.keys, DAILY.counters, daily)
            await m.upsertIncrement(HOURLY.table, HOURLY.keys, HOURLY.counters, hourly)
          })
        })
        done += part.length
        if (done < entries.length) await yieldToLoop()
      }
    } catch (error) {
      this.retry = entries.slice(done)
      throw error
    }
  }

  /**
   * MySQL: parts of a bounded statement size (mysql2 formats each one on this thread), each one transaction
   * (read the logged ids, insert the others' log rows, add their counters), a few at a time on the pool's
   * connections. Counter rows in key order in every part, so concurrent parts lock shared keys in the same
   * order; a deadlock rolls the part back and it is redone. The parts that failed are kept for the next flush.
   */
  private async writeParallel(entries: Entry[]): Promise<void> {
    const queue: Entry[][] = []
    for (let i = 0; i < entries.length; i += MYSQL_PART_ROWS) queue.push(entries.slice(i, i + MYSQL_PART_ROWS))
    const failed: Entry[] = []
    let firstError: unknown = null
    const lane = async (): Promise<void> => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        try {
          await this.keyed(part, async (fresh, tx) => {
            const { daily, hourly, log } = aggregate(fresh)
            daily.sort(byKey(3))
            hourly.sort(byKey(3))
            await tx.upsertRows(LOG.table, LOG.columns, '', log)
            await tx.upsertIncrement(DAILY.table, DAILY.keys, DAILY.counters, daily)
            await tx.upsertIncrement(HOURLY.table, HOURLY.keys, HOURLY.counters, hourly)
          })
        } catch (error) {
          // The part's transaction was rolled back as a whole (or committed with its outcome lost: the retry
          // then finds its ids logged and adds nothing): keep its messages for the next flush.
          firstError ??= error
          for (const entry of part) failed.push(entry)
        }
      }
    }
    await Promise.all(Array.from({ length: MYSQL_LANES }, lane))
    if (firstError !== null) {
      this.retry = failed
      throw firstError
    }
  }

  /**
   * Writes `part` keyed by the message log: `write` gets the entries whose id is not logged yet and writes
   * them (their log rows with a plain insert) in one transaction. SQLite: the ids are read before the plan
   * and `tx` is absent (FeatureStore.write takes no reads); MySQL: read and writes in one transaction on
   * one connection (`tx`). A duplicate key (another writer logged one of the ids after the read) or a
   * deadlock rolls everything back: read and write again, a few times.
   */
  private async keyed(part: Entry[], write: (fresh: Entry[], tx: FeatureTables) => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        let fresh: Entry[] = []
        if (this.store.dialect === 'sqlite') {
          fresh = await this.unlogged(this.store, part)
          // The plan's statements do not use a transaction handle on SQLite.
          await write(fresh, this.store)
        } else {
          await this.store.transaction(async (tx) => {
            fresh = await this.unlogged(tx, part)
            await write(fresh, tx)
          })
        }
        this.counted(part, fresh.length)
        return
      } catch (error) {
        if (attempt >= KEYED_ATTEMPTS || !(isDuplicate(error) || isDeadlock(error))) throw error
      }
    }
  }

  /** The entries of `part` whose message id is not in the log (one read per slice or part). */
  private async unlogged(db: FeatureTables, part: Entry[]): Promise<Entry[]> {
    if (part.length === 0) return []
    const logged = new Set<string>()
    for (let i = 0; i < part.length; i += ID_READ_CHUNK) {
      const ids = part.slice(i, i + ID_READ_CHUNK).map((e) => e.log[0] as string)
      const rows = await db.query<{ id: string }>(`SELECT id FROM ${LOG.table} WHERE id IN (${ids.map(() => '?').join(',')})`, ids)
      for (const row of rows) logged.add(row.id)
    }
    return logged.size === 0 ? part : part.filter((e) => !logged.has(e.log[0] as string))
  }

  private counted(part: Entry[], fresh: number): void {
    this.rowsWritten += fresh
    this.written.alreadyLogged += part.length - fresh
    this.written.messages += fresh
    for (const entry of part) this.written.groups.add(entry.log[1] as string)
  }
}

/**
 * The log rows and the counter rows (daily: group, member, day, messages, chars, text, media, card, other;
 * hourly: group, day, hour, messages) of entries.
 */
function aggregate(entries: Entry[]): { daily: Row[]; hourly: Row[]; log: Row[] } {
  const daily = new Map<string, Row>()
  const hourly = new Map<string, Row>()
  const log: Row[] = []
  for (const { log: row, adds } of entries) {
    log.push(row)
    if (!adds) continue
    const group = row[1] as string
    const member = row[2] as string
    const dKey = group + sep + member + sep + adds.day
    let d = daily.get(dKey)
    if (!d) daily.set(dKey, (d = [group, member, adds.day, 0, 0, 0, 0, 0, 0]))
    ;(d[3] as number)++
    ;(d[4] as number) += adds.chars
    ;(d[adds.column] as number)++
    const hKey = group + sep + adds.day + sep + adds.hour
    const h = hourly.get(hKey)
    if (h) (h[3] as number)++
    else hourly.set(hKey, [group, adds.day, adds.hour, 1])
  }
  return { daily: [...daily.values()], hourly: [...hourly.values()], log }
}

/** Orders rows by their first `n` columns (the key). */
function byKey(n: number): (a: Row, b: Row) => number {
  return (a, b) => {
    for (let i = 0; i < n; i++) {
      const x = a[i] as string | number
      const y = b[i] as string | number
      if (x !== y) return x < y ? -1 : 1
    }
    return 0
  }
}

const DAILY = { table: 'qy_activity_daily', keys: ['group_id', 'member_id', 'day'], counters: ['messages', 'chars', 'text_count', 'media_count', 'card_count', 'other_count'] }
const HOURLY = { table: 'qy_activity_hourly', keys: ['group_id', 'day', 'hour'], counters: ['messages'] }
const LOG = { table: 'qy_message_log', columns: ['id', 'group_id', 'sender_id', 'type', 'text', 'at', 'handled_by', 'auto_answered'] }
/** Messages per MySQL part (≤ 3,000 parameters in each statement: 9 per daily row); parts in flight at once. */
const MYSQL_PART_ROWS = 333
const MYSQL_LANES = 3
/** Ids per read of the logged ids (≤ 3,000 parameters on MySQL). */
const ID_READ_CHUNK = 2_000
/** Tries of a slice or part that lost a race on a message id (or a deadlock) before the flush fails. */
const KEYED_ATTEMPTS = 5

/** Messages per SQLite transaction: a few milliseconds of synchronous work. */
const SQLITE_SLICE_ROWS = 2_000

/** One entry per message id (the first recorded), those of the same group next to each other in recorded order. */
function byGroup(entries: Entry[]): Entry[] {
  const ids = new Set<string>()
  const first = entries.filter((e) => !ids.has(e.log[0] as string) && ids.add(e.log[0] as string))
  return clusterBy(first, (e) => e.log[1])
}

/** Lets timers and I/O run (a macrotask boundary). */
function yieldToLoop(): Promise<void> { return new Promise((resolve) => setImmediate(resolve)) }
