import type { FeatureStore, FeatureTables } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import type { IncomingMessage } from '../../kernel/context'
import { SerialRunner } from '../../kernel/serial'
import { MAX_ANSWER_MINUTES } from './stats.buffer'
import { MAX_OPEN, isQuestion } from './stats.questions'
import { upsertAdd } from './stats.sql'
import { weekdayOf } from './stats.time'

const sep = '\u0000'
const DELETE_CHUNK = 200

/** A question waiting for an answer (also a row of qy_stats_open_question). */
export interface OpenQuestion { messageId: string; senderId: string; at: number; day: string; hour: number; deadline: number }

/** Columns of qy_stats_open_question, in row order. */
const OPEN_COLUMNS = ['group_id', 'message_id', 'sender_id', 'at', 'day', 'hour', 'deadline']

/**
 * Open questions and their resolution (the rules are in stats.questions.ts). Questions *asked* are counted
 * by the stats buffer with the other message rollups; this book follows each open question until it is
 * answered (by another member's message, or by an auto-reply) or its window ends, and counts the
 * resolutions (qy_stats_question_hour's `resolved` / `by_autoreply`, the answer-minute histogram).
 *
 * Open questions are kept in qy_stats_open_question, so a restart does not forget them: a group's rows are
 * read once per process, before its first message here (`ready`), and every change (a new question, one
 * answered, expired or pushed out by MAX_OPEN newer ones) is written with the feature's batched flush, in
 * one transaction with the resolutions it caused. Rows live at most the answer window (at most a day):
 * expired ones are deleted when the group's next message arrives, or by the daily staging purge.
 *
 * Without a store (a rebuild) the book only counts, in memory.
 */
export class QuestionBook {
  private open = new Map<string, OpenQuestion[]>()
  private loaded = new Set<string>()
  private loading = new Map<string, Promise<void>>()
  /** Open-question rows to write: group + message id → the row to insert, or null to delete. */
  private changes = new Map<string, Row | null>()
  private questionHour = new Map<string, Row>()
  private answerMinute = new Map<string, Row>()
  private readonly writer = new SerialRunner(() => this.write())

  constructor(private readonly store: FeatureStore | null) {}

  /** Whether the group's open questions are in memory (always, without a store). */
  isReady(groupId: string): boolean { return this.store === null || this.loaded.has(groupId) }

  /** Reads the group's open questions once (concurrent callers share the read). */
  ready(groupId: string): Promise<void> {
    if (this.isReady(groupId)) return Promise.resolve()
    let p = this.loading.get(groupId)
    if (!p) {
      p = this.load(groupId).finally(() => this.loading.delete(groupId))
      this.loading.set(groupId, p)
    }
    return p
  }

  private async load(groupId: string): Promise<void> {
    const rows = await (this.store as FeatureStore).query<Record<string, unknown>>('SELECT message_id, sender_id, at, day, hour, deadline FROM qy_stats_open_question WHERE group_id = ? ORDER BY at, message_id', [groupId])
    if (this.loaded.has(groupId)) return
    const stored = rows.map((r) => ({ messageId: String(r.message_id), senderId: String(r.sender_id), at: Number(r.at), day: String(r.day), hour: Number(r.hour), deadline: Number(r.deadline) }))
    // The newest MAX_OPEN (older rows beyond that are dropped as the live path would have).
    const keep = stored.slice(-MAX_OPEN)
    for (const q of stored.slice(0, stored.length - keep.length)) this.changes.set(groupId + sep + q.messageId, null)
    if (keep.length > 0) this.open.set(groupId, keep)
    this.loaded.add(groupId)
  }

  /**
   * A text message that is content (not a command or a message moderation acted on), after the chain. A
   * question opens; any other message from someone else answers the group's oldest open question from
   * another member. `answersOnly`: only as a possible answer (a rebuild reading past its range's end).
   */
  observe(message: IncomingMessage, day: string, hour: number, answerWithinMs: number, answersOnly = false): void {
    if (message.type !== 'text' || message.text.length === 0) return
    const g = message.groupId
    let open = this.open.get(g)
    if (open) {
      // Questions past their window drop out unanswered.
      if (open.some((q) => q.deadline < message.at)) {
        for (const q of open) if (q.deadline < message.at) this.changes.set(g + sep + q.messageId, null)
        open = open.filter((q) => q.deadline >= message.at)
      }
      if (open.length === 0) this.open.delete(g)
      else this.open.set(g, open)
    }
    const question = isQuestion(message.text)
    if (question) {
      if (answersOnly) return
      const list = open ?? []
      const q: OpenQuestion = { messageId: message.id, senderId: message.senderId, at: message.at, day, hour, deadline: message.at + answerWithinMs }
      list.push(q)
      this.changes.set(g + sep + q.messageId, [g, q.messageId, q.senderId, q.at, q.day, q.hour, q.deadline])
      if (list.length > MAX_OPEN) {
        const dropped = list.shift() as OpenQuestion
        this.changes.set(g + sep + dropped.messageId, null)
      }
      this.open.set(g, list)
      return
    }
    if (!open) return
    const index = open.findIndex((q) => q.senderId !== message.senderId)
    if (index < 0) return
    this.take(g, open, index, message.at, 'member')
  }

  /** An auto-reply answered message `messageId` of group `groupId`: resolves it if it is an open question. */
  answeredByAutoReply(groupId: string, messageId: string): void {
    const open = this.open.get(groupId)
    const index = open?.findIndex((q) => q.messageId === messageId) ?? -1
    if (!open || index < 0) return
    this.take(groupId, open, index, (open[index] as OpenQuestion).at, 'autoreply')
  }

  /** The open questions of a group (oldest first), as held in memory. */
  openQuestions(groupId: string): readonly OpenQuestion[] { return this.open.get(groupId) ?? [] }

  /** Forgets a member's open questions held in memory (erasure; their rows are deleted by the kernel). Returns how many. */
  forgetMember(memberId: string, groupIds: readonly string[] | undefined, dryRun: boolean): number {
    let n = 0
    for (const [g, list] of this.open) {
      if (groupIds && !groupIds.includes(g)) continue
      const mine = list.filter((q) => q.senderId === memberId)
      n += mine.length
      if (dryRun || mine.length === 0) continue
      for (const q of mine) this.changes.set(g + sep + q.messageId, null)
      const rest = list.filter((q) => q.senderId !== memberId)
      if (rest.length === 0) this.open.delete(g)
      else this.open.set(g, rest)
    }
    return n
  }

  private take(g: string, open: OpenQuestion[], index: number, at: number, by: 'member' | 'autoreply'): void {
    const [q] = open.splice(index, 1) as [OpenQuestion]
    if (open.length === 0) this.open.delete(g)
    this.changes.set(g + sep + q.messageId, null)
    const hKey = g + sep + q.day + sep + q.hour
    let row = this.questionHour.get(hKey)
    // Resolutions only (questions asked are the buffer's): [group, day, hour, weekday, questions, resolved, by_autoreply].
    if (!row) this.questionHour.set(hKey, (row = [g, q.day, q.hour, weekdayOf(q.day), 0, 0, 0]))
    ;(row[5] as number)++
    if (by === 'autoreply') (row[6] as number)++
    const minute = Math.min(MAX_ANSWER_MINUTES, Math.max(0, Math.floor((at - q.at) / 60_000)))
    const mKey = g + sep + q.day + sep + minute
    const m = this.answerMinute.get(mKey)
    if (m) (m[3] as number)++
    else this.answerMinute.set(mKey, [g, q.day, minute, 1])
  }

  /** Takes the resolutions counted so far (a rebuild adds them to its batch). */
  takeResolutions(): { questionHour: Row[]; answerMinute: Row[] } {
    const out = { questionHour: [...this.questionHour.values()], answerMinute: [...this.answerMinute.values()] }
    this.questionHour = new Map()
    this.answerMinute = new Map()
    return out
  }

  /** Writes the changes and resolutions so far (one write at a time). */
  flush(): Promise<void> { return this.writer.run() }

  private async write(): Promise<void> {
    if (!this.store || (this.changes.size === 0 && this.questionHour.size === 0 && this.answerMinute.size === 0)) return
    const changes = this.changes
    const resolutions = this.takeResolutions()
    this.changes = new Map()
    try {
      await this.store.transaction((tx) => writeOpen(tx, changes, resolutions))
    } catch (error) {
      // Put everything back for the next flush: newer changes of the same question win, counts add up.
      for (const [k, v] of changes) if (!this.changes.has(k)) this.changes.set(k, v)
      for (const r of resolutions.questionHour) {
        const k = `${String(r[0])}${sep}${String(r[1])}${sep}${String(r[2])}`
        const row = this.questionHour.get(k)
        if (row) { (row[5] as number) += r[5] as number; (row[6] as number) += r[6] as number } else this.questionHour.set(k, r)
      }
      for (const r of resolutions.answerMinute) {
        const k = `${String(r[0])}${sep}${String(r[1])}${sep}${String(r[2])}`
        const row = this.answerMinute.get(k)
        if (row) (row[3] as number) += r[3] as number
        else this.answerMinute.set(k, r)
      }
      throw error
    }
  }
}

async function writeOpen(tx: FeatureTables, changes: Map<string, Row | null>, resolutions: { questionHour: Row[]; answerMinute: Row[] }): Promise<void> {
  const deletes = new Map<string, string[]>()
  const inserts: Row[] = []
  for (const [key, row] of changes) {
    if (row) { inserts.push(row); continue }
    const [g, id] = key.split(sep) as [string, string]
    const list = deletes.get(g) ?? []
    list.push(id)
    deletes.set(g, list)
  }
  for (const [g, ids] of deletes) {
    for (let i = 0; i < ids.length; i += DELETE_CHUNK) {
      const part = ids.slice(i, i + DELETE_CHUNK)
      await tx.query(`DELETE FROM qy_stats_open_question WHERE group_id = ? AND message_id IN (${part.map(() => '?').join(',')})`, [g, ...part])
    }
  }
  await tx.insertIgnore('qy_stats_open_question', OPEN_COLUMNS, inserts)
  await upsertAdd(tx, 'qy_stats_question_hour', ['group_id', 'day', 'hour'], ['weekday'], ['questions', 'resolved', 'by_autoreply'], resolutions.questionHour)
  await upsertAdd(tx, 'qy_stats_answer_minute', ['group_id', 'day', 'minute'], [], ['n'], resolutions.answerMinute)
}
