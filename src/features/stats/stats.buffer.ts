import type { FeatureStore, FeatureTables } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import type { IncomingMessage, MessageType } from '../../kernel/context'
import { SerialRunner } from '../../kernel/serial'
import { addDays, localTime } from '../../kernel/time'
import { upsertAdd, upsertOr } from './stats.sql'
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

/**
 * Accumulates message rollups in memory (the message path only touches Maps) and writes them in one
 * transaction per flush: member-day, group-day and group-hour counters are added; distinct counts
 * (active members of a day, speakers of an hour) are then recomputed from the member rows of the keys
 * touched, so they stay exact whatever order or however often rows are written. Messages reach this
 * buffer once: the pipeline dedupes message ids (also across restarts) before any middleware runs.
 * A failed write keeps its rows for the next flush (counters are additive, recomputes idempotent).
 */
export class StatsBuffer {
  private memberDay = new Map<string, Row>()
  private groupDay = new Map<string, Row>()
  private groupHour = new Map<string, Row>()
  private memberHour = new Map<string, Row>()
  private memberMonth = new Map<string, Row>()
  private retry: { memberDay: Row[]; groupDay: Row[]; groupHour: Row[]; memberHour: Row[]; memberMonth: Row[] } | null = null
  private readonly writer = new SerialRunner(() => this.write())

  constructor(private readonly store: FeatureStore, private readonly now: () => number) {}

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

  /** Rows waiting to be written (member-day keys). */
  get pending(): number { return this.memberDay.size + (this.retry?.memberDay.length ?? 0) }

  /** Writes everything recorded so far (one write at a time; a call during a write queues one more). */
  flush(): Promise<void> { return this.writer.run() }

  private async write(): Promise<void> {
    const batch = {
      memberDay: [...(this.retry?.memberDay ?? []), ...this.memberDay.values()],
      groupDay: [...(this.retry?.groupDay ?? []), ...this.groupDay.values()],
      groupHour: [...(this.retry?.groupHour ?? []), ...this.groupHour.values()],
      memberHour: [...(this.retry?.memberHour ?? []), ...this.memberHour.values()],
      memberMonth: [...(this.retry?.memberMonth ?? []), ...this.memberMonth.values()],
    }
    this.retry = null
    this.memberDay = new Map()
    this.groupDay = new Map()
    this.groupHour = new Map()
    this.memberHour = new Map()
    this.memberMonth = new Map()
    if (batch.memberDay.length === 0) return
    try {
      await this.store.transaction(async (tx) => {
        await upsertAdd(tx, 'qy_stats_member_day', ['group_id', 'day', 'member_id'], ['week'], ['messages'], batch.memberDay)
        await tx.upsertIncrement('qy_stats_group_day', ['group_id', 'day'], ['messages', 'text_count', 'media_count', 'card_count', 'other_count'], batch.groupDay)
        await upsertAdd(tx, 'qy_stats_group_hour', ['group_id', 'day', 'hour'], ['weekday'], ['messages'], batch.groupHour)
        await upsertOr(tx, 'qy_stats_member_month', ['group_id', 'month', 'member_id'], 'days', batch.memberMonth)
        await tx.insertIgnore('qy_stats_member_hour', ['group_id', 'day', 'hour', 'member_id'], batch.memberHour)
        await recomputeActive(tx, batch.groupDay.map((r) => [r[0] as string, r[1] as string]))
        // Staging rows older than the keep window may be purged: recounting those hours would undercount.
        const oldest = addDays(new Date(this.now()).toISOString().slice(0, 10), -(MEMBER_HOUR_KEEP_DAYS - 1))
        await recomputeSpeakers(tx, batch.groupHour.filter((r) => (r[1] as string) >= oldest).map((r) => [r[0] as string, r[1] as string, r[2] as number]))
      })
    } catch (error) {
      this.retry = batch
      throw error
    }
  }
}

/** Sets each touched group-day's `active` to its distinct speakers (member-day rows with messages). */
export async function recomputeActive(tx: FeatureTables, keys: Array<[string, string]>): Promise<void> {
  for (let i = 0; i < keys.length; i += RECOMPUTE_CHUNK) {
    const part = keys.slice(i, i + RECOMPUTE_CHUNK)
    await tx.query(
      `UPDATE qy_stats_group_day SET active = (SELECT COUNT(*) FROM qy_stats_member_day d WHERE d.group_id = qy_stats_group_day.group_id AND d.day = qy_stats_group_day.day AND d.messages > 0) WHERE ${part.map(() => '(group_id = ? AND day = ?)').join(' OR ')}`,
      part.flat(),
    )
  }
}

/** Sets each touched group-hour's `speakers` to its distinct speakers (member-hour staging rows). */
export async function recomputeSpeakers(tx: FeatureTables, keys: Array<[string, string, number]>): Promise<void> {
  for (let i = 0; i < keys.length; i += RECOMPUTE_CHUNK) {
    const part = keys.slice(i, i + RECOMPUTE_CHUNK)
    await tx.query(
      `UPDATE qy_stats_group_hour SET speakers = (SELECT COUNT(*) FROM qy_stats_member_hour h WHERE h.group_id = qy_stats_group_hour.group_id AND h.day = qy_stats_group_hour.day AND h.hour = qy_stats_group_hour.hour) WHERE ${part.map(() => '(group_id = ? AND day = ? AND hour = ?)').join(' OR ')}`,
      part.flat(),
    )
  }
}
