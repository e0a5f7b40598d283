import type { Outbound } from '../../kernel/outbound-service'
import type { Clock } from '../../ports/clock'
import { render } from './check-in.commands'

/** One answer waiting to be sent. */
export interface PendingAnswer {
  memberId: string
  /** The check-in day it answers (with the group and member: the key of its stored row). */
  day: string
  /** The check-in message it answers. */
  messageId?: string
  /** The member's streak after this check-in (for the bot-action log line). */
  streak: number
  /** The answer when sent alone (with an @-mention). */
  single: string
  /** Its line in a batched answer. */
  line: string
}

interface Window { botId: string; pending: PendingAnswer[]; header: string; maxPerMessage: number; windowMs: number }

/** Records answers as sent (their stored rows), called once their message is durably queued. */
export type MarkAnswered = (groupId: string, answers: readonly PendingAnswer[]) => Promise<void>

/**
 * Batches check-in answers at busy moments: the first answer in a quiet group goes out at once and opens a
 * window; answers arriving within it are sent together when it closes — one message @-mentioning up to
 * `maxPerMessage` members — and the window stays open while answers keep coming. So a morning rush of
 * dozens of 签到 becomes a handful of messages instead of dozens, well inside WeCom's sending limits.
 */
export class AnswerBatcher {
  private readonly windows = new Map<string, Window>()
  private readonly marking = new Set<Promise<void>>()

  /**
   * Every answer is stored with its check-in (unanswered). Once its message is durably in the outbound
   * queue, `mark` records it answered; what a crash left unanswered the sweep sends (see `sendNow`).
   */
  constructor(private readonly clock: Clock, private readonly outbound: Outbound, private readonly mark: MarkAnswered, private readonly onError: (error: unknown) => void = () => undefined) {}

  /** Queues an answer for `groupId`. */
  add(botId: string, groupId: string, answer: PendingAnswer, opts: { windowMs: number; maxPerMessage: number; header: string }): void {
    const open = this.windows.get(groupId)
    if (open) {
      open.pending.push(answer)
      return
    }
    this.outbound.say({ botId, groupId }, answer.single, { mentions: [answer.memberId], cause: answer.messageId, note: `check-in answered (streak ${answer.streak})` })
    this.recordSent(groupId, [answer])
    if (opts.windowMs <= 0) return
    const w: Window = { botId, pending: [], header: opts.header, maxPerMessage: opts.maxPerMessage, windowMs: opts.windowMs }
    this.windows.set(groupId, w)
    void this.closeLater(groupId, w)
  }

  /** Answers waiting in open windows. */
  get pending(): number {
    let n = 0
    for (const w of this.windows.values()) n += w.pending.length
    return n
  }

  /** Whether an answer waits in an open window here (the sweep leaves it to the window). */
  holds(groupId: string, memberId: string, day: string): boolean {
    return this.windows.get(groupId)?.pending.some((p) => p.memberId === memberId && p.day === day) ?? false
  }

  /** Resolves once every answer sent so far is recorded answered. */
  async settled(): Promise<void> {
    while (this.marking.size > 0) await Promise.allSettled([...this.marking])
  }

  /**
   * Sends stored answers now, batched as a closing window would (the sweep: answers a crash left
   * unanswered), and records them answered once durably queued.
   */
  sendNow(botId: string, groupId: string, answers: readonly PendingAnswer[], opts: { maxPerMessage: number; header: string }): void {
    this.sendBatches(botId, groupId, answers, opts.header, opts.maxPerMessage)
  }

  /** Sends everything waiting now (shutdown). */
  flushAll(): void {
    for (const groupId of [...this.windows.keys()]) this.send(groupId, true)
  }

  private async closeLater(groupId: string, w: Window): Promise<void> {
    await this.clock.sleep(w.windowMs)
    // A window closed early (shutdown) and reopened since: its old timer must not close the new one.
    if (this.windows.get(groupId) === w) this.send(groupId, false)
  }

  private send(groupId: string, final: boolean): void {
    const w = this.windows.get(groupId)
    if (!w) return
    if (w.pending.length === 0) {
      this.windows.delete(groupId)
      return
    }
    this.sendBatches(w.botId, groupId, w.pending.splice(0), w.header, w.maxPerMessage)
    if (final) this.windows.delete(groupId)
    // Still busy: keep the window open for another round.
    else void this.closeLater(groupId, w)
  }

  private sendBatches(botId: string, groupId: string, pending: readonly PendingAnswer[], header: string, maxPerMessage: number): void {
    for (let i = 0; i < pending.length; i += maxPerMessage) {
      const part = pending.slice(i, i + maxPerMessage)
      // A lone answer reads better in its own words than as a one-line batch.
      const text = part.length === 1 ? (part[0] as PendingAnswer).single : [render(header, { count: part.length }), ...part.map((p) => p.line)].join('\n')
      this.outbound.say({ botId, groupId }, text, { mentions: part.map((p) => p.memberId), cause: part.length === 1 ? (part[0] as PendingAnswer).messageId : 'check-in.batch', note: answeredNote(part) })
    }
    if (pending.length > 0) this.recordSent(groupId, pending)
  }

  /**
   * Marks answers answered once their message is durably queued (not before: a crash in between must
   * leave them to the sweep). A crash after the store and before the mark sends them again (at least once).
   */
  /**
   * Records answers answered, retrying with backoff (0.5 s … 5 s, MARK_ATTEMPTS times) while the database
   * is unreachable: an answer sent but never marked would be sent again by the sweep.
   */
  private async markRetrying(groupId: string, answers: readonly PendingAnswer[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.mark(groupId, answers)
        return
      } catch (error) {
        if (attempt >= MARK_ATTEMPTS) throw error
        await this.clock.sleep(Math.min(5_000, 500 * 2 ** (attempt - 1)))
      }
    }
  }

  private recordSent(groupId: string, answers: readonly PendingAnswer[]): void {
    const marking = this.outbound.stored().then(() => this.markRetrying(groupId, answers)).catch(this.onError)
    this.marking.add(marking)
    void marking.finally(() => this.marking.delete(marking))
  }
}

/** Attempts to record answers answered (the database may be away for a while) before leaving them to the sweep. */
const MARK_ATTEMPTS = 8

/** The bot-action note of a (batched) check-in answer: how many members, which streaks. */
function answeredNote(part: readonly PendingAnswer[]): string {
  const streaks = part.map((p) => p.streak)
  const [low, high] = [Math.min(...streaks), Math.max(...streaks)]
  const range = low === high ? `streak ${low}` : `streaks ${low}–${high}`
  return part.length === 1 ? `check-in answered (${range})` : `check-ins answered (${part.length} members, ${range})`
}
