import type { FeatureStore } from '../../adapters/db/feature-store'
import { SerialRunner } from '../../kernel/serial'
import type { IncomingMessage, MessageType } from '../../kernel/context'
import { localTime } from '../../kernel/time'
import type { Row } from '../../adapters/db/sql'

const sep = '\u0000'

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

  constructor(private readonly store: FeatureStore) {}

  /** Counts one message (day and hour in the group's timezone). */
  record(message: IncomingMessage, timezone: string, keepText: boolean): void {
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
    this.log.push([message.id, message.groupId, message.senderId, message.type, keepText ? message.text : null, message.at])
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
    // SQLite writes synchronously on this thread: in slices of a few milliseconds each, one transaction per
    // slice, yielding to the event loop in between so messages keep flowing. MySQL works on its own
    // server; one transaction there.
    const slice = this.store.dialect === 'sqlite' ? SQLITE_SLICE_ROWS : Number.MAX_SAFE_INTEGER
    // Offsets of what is committed: only the rest is retried if a later slice fails.
    let d = 0
    let h = 0
    let l = 0
    const more = (): boolean => d < batch.daily.length || h < batch.hourly.length || l < batch.log.length
    try {
      while (more()) {
        const part = { daily: batch.daily.slice(d, d + slice), hourly: batch.hourly.slice(h, h + slice), log: batch.log.slice(l, l + slice) }
        await this.store.transaction(async (m) => {
          await m.upsertIncrement('qy_activity_daily', ['group_id', 'member_id', 'day'], ['messages', 'chars', 'text_count', 'media_count', 'card_count', 'other_count'], part.daily)
          await m.upsertIncrement('qy_activity_hourly', ['group_id', 'day', 'hour'], ['messages'], part.hourly)
          await m.insertIgnore('qy_message_log', ['id', 'group_id', 'sender_id', 'type', 'text', 'at'], part.log)
        })
        d += part.daily.length
        h += part.hourly.length
        l += part.log.length
        this.written.messages += part.log.length
        for (const row of part.log) this.written.groups.add(row[1] as string)
        if (more()) await yieldToLoop()
      }
    } catch (error) {
      // Keep what was not committed for the next flush: counters are additive, the log insert is idempotent.
      this.retry = { daily: batch.daily.slice(d), hourly: batch.hourly.slice(h), log: batch.log.slice(l) }
      throw error
    }
  }
}

/** Rows per table per SQLite transaction: a few milliseconds of synchronous work. */
const SQLITE_SLICE_ROWS = 1_000

/** Lets timers and I/O run (a macrotask boundary). */
function yieldToLoop(): Promise<void> { return new Promise((resolve) => setImmediate(resolve)) }
