import type { Outbound } from '../../kernel/outbound-service'
import type { Clock } from '../../ports/clock'
import { render } from './check-in.commands'

/** One answer waiting to be sent. */
export interface PendingAnswer {
  memberId: string
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

/**
 * Batches check-in answers at busy moments: the first answer in a quiet group goes out at once and opens a
 * window; answers arriving within it are sent together when it closes — one message @-mentioning up to
 * `maxPerMessage` members — and the window stays open while answers keep coming. So a morning rush of
 * dozens of 签到 becomes a handful of messages instead of dozens, well inside WeCom's sending limits.
 */
export class AnswerBatcher {
  private readonly windows = new Map<string, Window>()

  constructor(private readonly clock: Clock, private readonly outbound: Outbound) {}

  /** Queues an answer for `groupId`. */
  add(botId: string, groupId: string, answer: PendingAnswer, opts: { windowMs: number; maxPerMessage: number; header: string }): void {
    const open = this.windows.get(groupId)
    if (open) {
      open.pending.push(answer)
      return
    }
    this.outbound.say({ botId, groupId }, answer.single, { mentions: [answer.memberId], cause: answer.messageId, note: `check-in answered (streak ${answer.streak})` })
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
    const pending = w.pending.splice(0)
    for (let i = 0; i < pending.length; i += w.maxPerMessage) {
      const part = pending.slice(i, i + w.maxPerMessage)
      // A lone answer reads better in its own words than as a one-line batch.
      const text = part.length === 1 ? (part[0] as PendingAnswer).single : [render(w.header, { count: part.length }), ...part.map((p) => p.line)].join('\n')
      this.outbound.say({ botId: w.botId, groupId }, text, { mentions: part.map((p) => p.memberId), cause: part.length === 1 ? (part[0] as PendingAnswer).messageId : 'check-in.batch', note: answeredNote(part) })
    }
    if (final) this.windows.delete(groupId)
    // Still busy: keep the window open for another round.
    else void this.closeLater(groupId, w)
  }
}

/** The bot-action note of a (batched) check-in answer: how many members, which streaks. */
function answeredNote(part: readonly PendingAnswer[]): string {
  const streaks = part.map((p) => p.streak)
  const [low, high] = [Math.min(...streaks), Math.max(...streaks)]
  const range = low === high ? `streak ${low}` : `streaks ${low}–${high}`
  return part.length === 1 ? `check-in answered (${range})` : `check-ins answered (${part.length} members, ${range})`
}
