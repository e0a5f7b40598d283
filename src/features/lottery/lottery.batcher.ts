import type { Outbound } from '../../kernel/outbound-service'
import { renderTemplate } from '../../kernel/template'
import type { Clock } from '../../ports/clock'

/** One answer waiting to be sent. */
export interface PendingAnswer {
  memberId: string
  /** The message it answers. */
  messageId?: string
  /** The answer when sent alone (with an @-mention). */
  single: string
  /** Its line in a batched answer. */
  line: string
}

interface Window { botId: string; groupId: string; pending: PendingAnswer[]; header: string; maxPerMessage: number; windowMs: number; note: string }

/**
 * Batches lottery answers (entry confirmations, "already closed") per group and kind: the first answer
 * in a quiet moment goes out at once and opens a window; answers arriving within it are sent together
 * when it closes — one message @-mentioning up to `maxPerMessage` members — and the window stays open
 * while answers keep coming. A rush of 参与抽奖 becomes a handful of messages, not one per entrant.
 */
export class AnswerBatcher {
  private readonly windows = new Map<string, Window>()

  constructor(private readonly clock: Clock, private readonly outbound: Outbound) {}

  /** Queues an answer under `key` (group + kind of answer). */
  add(key: string, to: { botId: string; groupId: string }, answer: PendingAnswer, opts: { windowMs: number; maxPerMessage: number; header: string; note: string }): void {
    const open = this.windows.get(key)
    if (open) {
      open.pending.push(answer)
      return
    }
    this.outbound.say(to, answer.single, { mentions: [answer.memberId], cause: answer.messageId, note: opts.note })
    if (opts.windowMs <= 0) return
    const w: Window = { ...to, pending: [], header: opts.header, maxPerMessage: opts.maxPerMessage, windowMs: opts.windowMs, note: opts.note }
    this.windows.set(key, w)
    void this.closeLater(key, w)
  }

  /** Sends everything waiting now (shutdown). */
  flushAll(): void {
    for (const key of [...this.windows.keys()]) this.send(key, true)
  }

  private async closeLater(key: string, w: Window): Promise<void> {
    await this.clock.sleep(w.windowMs)
    if (this.windows.get(key) === w) this.send(key, false)
  }

  private send(key: string, final: boolean): void {
    const w = this.windows.get(key)
    if (!w) return
    if (w.pending.length === 0) {
      this.windows.delete(key)
      return
    }
    const pending = w.pending.splice(0)
    for (let i = 0; i < pending.length; i += w.maxPerMessage) {
      const part = pending.slice(i, i + w.maxPerMessage)
      const first = part[0] as PendingAnswer
      const text = part.length === 1 ? first.single : [renderTemplate(w.header, { count: part.length }), ...part.map((p) => p.line)].join('\n')
      this.outbound.say({ botId: w.botId, groupId: w.groupId }, text, {
        mentions: part.map((p) => p.memberId), cause: part.length === 1 ? first.messageId : 'lottery.batch', note: part.length === 1 ? w.note : `${w.note} (${part.length} members)`,
      })
    }
    if (final) this.windows.delete(key)
    else void this.closeLater(key, w)
  }
}
