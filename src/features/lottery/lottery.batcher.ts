import { defineEvent } from '../../kernel/events'
import type { Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import { renderTemplate } from '../../kernel/template'
import type { Clock } from '../../ports/clock'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { HeldAnswers, type ComposedAnswer, type HeldAnswerColumns } from '../../adapters/db/held-answers'
import { LotteryAnswerEntity } from './lottery.entity'

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

/** A batch window of lottery answers came due here: it closes in the processor's order. Internal to the feature. */
export const LotteryAnswersDue = defineEvent<{ groupId: string; windowKey: string }>()('lottery.answersDue')

/**
 * Batches lottery answers (entry confirmations, "already closed") per group and kind: the first answer
 * in a quiet moment goes out at once and opens a window; answers arriving within it are sent together
 * when it closes — one message @-mentioning up to `maxPerMessage` members — and the window stays open
 * while answers keep coming. A rush of 参与抽奖 becomes a handful of messages, not one per entrant.
 * Every answer is stored (qy_lottery_answer) before its message is acknowledged, and sent once: a
 * window a kill -9 left open is sent by the sweep after the restart or on the replica taking the bot over.
 */
export class AnswerBatcher {
  readonly held: HeldAnswers

  constructor(deps: { db: FeatureStore; clock: Clock; outbound: Outbound; log: Logger; maxPerMessage: (groupId: string) => Promise<number>; closeDue: (windowKey: string, groupId: string) => void }) {
    this.held = new HeldAnswers({
      db: deps.db, entity: LotteryAnswerEntity, prefix: 'lottery.answer', clock: deps.clock, outbound: deps.outbound, log: deps.log,
      closeDue: deps.closeDue,
      compose: async (rows) => compose(rows, await deps.maxPerMessage((rows[0] as HeldAnswerColumns).groupId)),
    })
  }

  /** Holds an answer under `key` (group + kind of answer); resolves once it is stored. */
  async add(key: string, to: { botId: string; groupId: string }, answer: PendingAnswer, opts: { windowMs: number; header: string; note: string }): Promise<void> {
    await this.held.add({ windowKey: key, botId: to.botId, groupId: to.groupId, memberId: answer.memberId, messageId: answer.messageId, single: answer.single, line: answer.line, header: opts.header, note: opts.note },
      { windowMs: opts.windowMs, firstAtOnce: true })
  }

  /** Sends everything waiting now (shutdown). */
  flushAll(): Promise<void> { return this.held.flushAll() }
}

/** A batch in messages of at most `maxPerMessage` members; a lone answer in its own words. */
function compose(rows: readonly HeldAnswerColumns[], maxPerMessage: number): ComposedAnswer[] {
  const out: ComposedAnswer[] = []
  for (let i = 0; i < rows.length; i += maxPerMessage) {
    const part = rows.slice(i, i + maxPerMessage)
    const first = part[0] as HeldAnswerColumns
    const text = part.length === 1 ? first.single : [renderTemplate(first.header, { count: part.length }), ...part.map((p) => p.line)].join('\n')
    out.push({ text, mentions: part.map((p) => p.memberId), cause: part.length === 1 ? first.messageId ?? undefined : 'lottery.batch', note: part.length === 1 ? first.note : `${first.note} (${part.length} members)` })
  }
  return out
}
