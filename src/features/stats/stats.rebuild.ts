import type { FeatureStore } from '../../adapters/db/feature-store'
import type { ActivityFacts } from '../../contracts/activity'
import type { StatsRebuildReport } from '../../contracts/stats'
import type { IncomingMessage, MessageType } from '../../kernel/context'
import { HttpError } from '../../kernel/routes'
import { addDays, localTime } from '../../kernel/time'
import type { Leases } from '../../ports/ports'
import type { Row } from '../../adapters/db/sql'
import { StatsBuffer, writeBatch } from './stats.buffer'
import { GROUP_RUNNING } from './stats.running'
import { MEMBER_RUNNING } from './stats.member-running'
import { rebuildRunning, refreshRunning } from './stats.running-core'
import { ASKED_ONLY_MS, isContent } from './stats.middleware'
import { QuestionBook } from './stats.open-questions'
import { afterGroupRebuild } from './stats.scope'
import type { StatsRule } from './stats.rules'
import { MAX_RANGE_DAYS } from './stats.schema'
import { daysBetween } from './stats.time'

const DAY_MS = 86_400_000
/** Log rows read per page. */
const PAGE = 5_000
/** How long a rebuild may hold its fence before another one may start (a crashed rebuild's lease lapses). */
const FENCE_MS = 15 * 60_000

/** What a rebuild needs. */
export interface RebuildDeps {
  store: FeatureStore
  activity: ActivityFacts
  leases: Leases
  now: () => number
  /** The group's timezone and stats rules (null: no such group). */
  group(groupId: string): Promise<{ timezone: string; rule: StatsRule } | null>
  /**
   * Days of message log kept for the group (its owners' shortest message-metadata retention, or the
   * deployment's; null = kept): days before that are partly or wholly purged from the log.
   */
  logRetentionDays(groupId: string): Promise<number | null>
  /**
   * How long after a day ends every process may still hold unwritten counts of it (term counts held
   * between term writes, rollups between flushes). A rebuild runs in one process and can flush only its
   * own buffers (the CLI's are empty; a server's and other replicas' are not): days ending later than this
   * ago are refused, or those processes' counts would land on top of the rebuilt rows.
   */
  settleMs: number
  /** Who holds the fence (process id). */
  owner: string
}

/** A problem with a rebuild request (the command prints it and exits non-zero). */
export class RebuildRefused extends HttpError {
  constructor(message: string) { super(409, 'conflict', message) }
}

function dayBits(from: string, to: string, month: string): number {
  let mask = 0
  for (let d = 1; d <= 31; d++) {
    const day = `${month}-${String(d).padStart(2, '0')}`
    if (day >= from && day <= to) mask |= 1 << (d - 1)
  }
  return mask
}

/**
 * Recomputes one group's message rollups over past local days [from, to] from the retained message log:
 * the message counters of group-day rows (event counters — joins, check-ins, hits — stay), group-hour and
 * member-hour rows, member-day messages, the days' bits of member-month masks, and — when the log holds
 * the text of every text message of the range — hot-topic terms and questions (questions answered after
 * `to` are followed into the next day's log). Everything is replaced in one transaction, so running it
 * again gives the same rows (idempotent). Fenced: one rebuild per group at a time (a lease), only days
 * before today in the group's timezone (today's rows are still being written), and only days the log
 * still holds completely (its retention).
 *
 * The log records how the pipeline handled each message (the feature that consumed it, whether an
 * auto-reply answered it), so a rebuild reads as content exactly what the live path did — commands and
 * messages moderation acted on are left out — and counts auto-reply answers. Questions asked before `from`
 * (within the answer window) are followed too, so an answer in the range resolves the question it resolved
 * live; only resolutions of the range's own questions are written. Messages logged before the log kept
 * this (no handling recorded) read as content.
 */
export async function rebuildGroup(deps: RebuildDeps, groupId: string, from: string, to: string): Promise<StatsRebuildReport> {
  const group = await deps.group(groupId)
  if (!group) throw new HttpError(404, 'not_found', 'no such group')
  if (from > to) throw new HttpError(400, 'invalid_input', '`from` is after `to`')
  if (daysBetween(from, to) > MAX_RANGE_DAYS) throw new HttpError(400, 'invalid_input', `a rebuild covers at most ${MAX_RANGE_DAYS} days`)
  if (!group.rule.record) throw new RebuildRefused('the group does not record stats (stats.record is false)')
  const now = deps.now()
  const today = localTime(now, group.timezone).day
  if (to >= today) throw new RebuildRefused(`only past days can be rebuilt (today is ${today} in ${group.timezone})`)
  const settled = localTime(now - deps.settleMs, group.timezone).day
  if (to >= settled) throw new RebuildRefused(`${to} may still have unwritten counts in running processes: rebuild it ${Math.ceil(deps.settleMs / 60_000)} minutes after it ended`)
  const retentionDays = await deps.logRetentionDays(groupId)
  if (retentionDays !== null) {
    const oldestComplete = addDays(localTime(now - retentionDays * DAY_MS, group.timezone).day, 1)
    if (from < oldestComplete) throw new RebuildRefused(`the message log holds complete days from ${oldestComplete} only (retention ${retentionDays} days)`)
  }

  const lease = await deps.leases.acquire(`stats.rebuild:${groupId}`, deps.owner, FENCE_MS)
  if (!lease) throw new RebuildRefused('another rebuild of this group is running')
  try {
    const answerWithinMs = group.rule.questions.answerWithinMinutes * 60_000
    const buffer = new StatsBuffer(deps.store, deps.now)
    // The same split as the live path: the buffer counts questions asked, the book follows open ones (in memory here).
    const book = new QuestionBook(null)
    // Local days span at most UTC −12 … +14: read generously, keep what falls on the range's local days.
    const startMs = Date.parse(`${from}T00:00:00Z`) - 15 * 3_600_000 - answerWithinMs
    const endMs = Date.parse(`${addDays(to, 1)}T00:00:00Z`) + 15 * 3_600_000 + answerWithinMs
    let after: { at: number; id: string } | null = null
    let messages = 0
    let content = true
    const options = { content: true, topics: group.rule.topics, answerWithinMs: ASKED_ONLY_MS }
    for (;;) {
      const page = await deps.activity.logPage(groupId, startMs, endMs, after, PAGE)
      for (const m of page) {
        const { day, hour } = localTime(m.at, group.timezone)
        const message: IncomingMessage = { id: m.id, botId: '', groupId, senderId: m.senderId, senderName: '', type: m.type as MessageType, text: m.text ?? '', mentions: [], mentionsBot: false, at: m.at }
        const follow = m.text !== null && isContent(m.handledBy)
        if (day < from || day > to) {
          // Context only: questions before the range (still open when it starts), answers after it.
          if (follow) {
            book.observe(message, day, hour, answerWithinMs, day > to)
            if (m.autoReplyAnswered) book.answeredByAutoReply(groupId, m.id)
          }
          continue
        }
        messages++
        buffer.record(message, group.timezone)
        if (m.type === 'text' && m.text === null) content = false
        else if (follow) {
          buffer.observeText(message, group.timezone, options)
          book.observe(message, day, hour, answerWithinMs)
          if (m.autoReplyAnswered) book.answeredByAutoReply(groupId, m.id)
        }
      }
      if (page.length < PAGE) break
      const last = page[page.length - 1] as { at: number; id: string }
      after = { at: last.at, id: last.id }
    }
    if (messages === 0) {
      // The log holds nothing for the range but the rollups count messages: the log rows went (a purge, an
      // erasure) and a rebuild would wipe the only record left of those days.
      const counted: Array<{ n: number | string | null }> = await deps.store.query('SELECT SUM(messages) AS n FROM qy_stats_group_day WHERE group_id = ? AND day >= ? AND day <= ?', [groupId, from, to])
      if (Number(counted[0]?.n ?? 0) > 0) throw new RebuildRefused(`the message log holds no messages from ${from} to ${to} but the rollups count ${Number(counted[0]?.n)}: its rows were purged or erased, nothing to rebuild from`)
    }
    const batch = buffer.takeBatch()
    // Resolutions of the range's questions only (those of earlier questions are counted on their own days).
    const resolved = book.takeResolutions()
    const inRange = (r: Row): boolean => (r[1] as string) >= from && (r[1] as string) <= to
    batch.questionHour = addRows([...batch.questionHour, ...resolved.questionHour.filter(inRange)], 3, [4, 5, 6])
    batch.answerMinute = addRows([...batch.answerMinute, ...resolved.answerMinute.filter(inRange)], 3, [3])
    if (!content) { batch.termDay = []; batch.questionHour = []; batch.answerMinute = [] }
    await deps.store.transaction(async (tx) => {
      const range = [groupId, from, to]
      await tx.query('UPDATE qy_stats_group_day SET messages = 0, text_count = 0, media_count = 0, card_count = 0, other_count = 0, active = 0 WHERE group_id = ? AND day >= ? AND day <= ?', range)
      await tx.query('UPDATE qy_stats_member_day SET messages = 0 WHERE group_id = ? AND day >= ? AND day <= ?', range)
      for (const table of ['qy_stats_group_hour', 'qy_stats_member_hour']) await tx.query(`DELETE FROM ${table} WHERE group_id = ? AND day >= ? AND day <= ?`, range)
      if (content) for (const table of ['qy_stats_term_day', 'qy_stats_question_hour', 'qy_stats_answer_minute']) await tx.query(`DELETE FROM ${table} WHERE group_id = ? AND day >= ? AND day <= ?`, range)
      // Clear the range's days from the month masks (portable: days − (days & mask)).
      for (let month = from.slice(0, 7); month <= to.slice(0, 7); month = addDays(`${month}-28`, 7).slice(0, 7)) {
        await tx.query('UPDATE qy_stats_member_month SET days = days - (days & ?) WHERE group_id = ? AND month = ?', [dayBits(from, to, month), groupId, month])
      }
      await writeBatch(tx, batch, { fromBatch: true })
      // Rows left with nothing (a member whose logged messages are gone and who never checked in).
      await tx.query('DELETE FROM qy_stats_member_day WHERE group_id = ? AND day >= ? AND day <= ? AND messages = 0 AND checkins = 0', range)
      await tx.query('DELETE FROM qy_stats_member_month WHERE group_id = ? AND month >= ? AND month <= ? AND days = 0', [groupId, from.slice(0, 7), to.slice(0, 7)])
      await afterGroupRebuild(tx, groupId, from, to)
      // Running totals of the group from the range's first day (its zeroed days included) and of its members.
      await refreshRunning(tx, GROUP_RUNNING, [[groupId, from]])
      await rebuildRunning(tx, MEMBER_RUNNING, groupId)
    })
    return { groupId, from, to, messages, content, days: batch.groupDay.length }
  } finally {
    await deps.leases.release(lease)
  }
}

/** Rows with the same key (the first `keyWidth` columns) merged into one, their `added` columns summed. */
function addRows(rows: Row[], keyWidth: number, added: number[]): Row[] {
  const out = new Map<string, Row>()
  for (const r of rows) {
    const key = r.slice(0, keyWidth).map(String).join('\u0000')
    const row = out.get(key)
    if (!row) { out.set(key, [...r]); continue }
    for (const i of added) row[i] = (row[i] as number) + (r[i] as number)
  }
  return [...out.values()]
}
