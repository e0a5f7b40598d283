import type { FeatureStore } from '../../adapters/db/feature-store'
import { HeldAnswers, type ComposedAnswer, type HeldAnswerColumns, type HeldAnswerRow, type HoldOptions } from '../../adapters/db/held-answers'
import { defineEvent } from '../../kernel/events'
import type { Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import type { Clock } from '../../ports/clock'
import { render } from './check-in.commands'
import { CheckInAnswerEntity } from './check-in.entity'

/** A batch window of check-in answers came due here: it closes in the processor's order. Internal to the feature. */
export const CheckInAnswersDue = defineEvent<{ groupId: string; windowKey: string }>()('check-in.answersDue')

/** One answer to hold. */
export interface PendingAnswer {
  botId: string
  groupId: string
  memberId: string
  /** The check-in message it answers. */
  messageId: string
  /** The member's streak after this check-in (for the bot-action log line). */
  streak: number
  /** The answer when sent alone (with an @-mention). */
  single: string
  /** Its line in a batched answer. */
  line: string
  /** The batched answer's header ({count}). */
  header: string
}

/** The sweep looks this far back: an answer to a check-in hours ago would only confuse. */
const ANSWER_LOOKBACK_MS = 6 * 3_600_000

/**
 * Batches check-in answers at busy moments: the first answer in a quiet group goes out at once and opens a
 * window; answers arriving within it are sent together when it closes — one message @-mentioning up to
 * `maxPerMessage` members — and the window stays open while answers keep coming. So a morning rush of
 * dozens of 签到 becomes a handful of messages instead of dozens, well inside WeCom's sending limits.
 * Every answer is stored with its check-in (same transaction) and held like lottery confirmations and
 * welcomes (HeldAnswers): sent under keyed outbound actions, so a crash before the rows are marked
 * answered sends nothing twice, and a window a kill -9 left open is sent once by the sweep.
 */
export class AnswerBatcher {
  readonly held: HeldAnswers

  constructor(deps: { db: FeatureStore; clock: Clock; outbound: Outbound; log: Logger; maxPerMessage: (groupId: string) => Promise<number>; header: (groupId: string) => Promise<string>; closeDue: (windowKey: string, groupId: string) => void }) {
    this.held = new HeldAnswers({
      db: deps.db, entity: CheckInAnswerEntity, prefix: 'check-in.answer', clock: deps.clock, outbound: deps.outbound, log: deps.log,
      lookbackMs: ANSWER_LOOKBACK_MS, closeDue: deps.closeDue,
      compose: async (rows) => {
        const groupId = (rows[0] as HeldAnswerColumns).groupId
        // Rows stored before answers were held answers carry no header: the group's current one.
        const header = rows[0]?.header || await deps.header(groupId)
        // The rows are CheckInAnswerEntity's (HeldAnswers reads them from this entity's table).
        return compose(rows as readonly CheckInAnswerEntity[], header, await deps.maxPerMessage(groupId))
      },
    })
  }

  /** The row of an answer, stored by the check-in's transaction (then `hold` it). */
  row(answer: PendingAnswer, opts: HoldOptions): HeldAnswerRow {
    return this.held.row({
      windowKey: answer.groupId, botId: answer.botId, groupId: answer.groupId, memberId: answer.memberId, messageId: answer.messageId,
      single: answer.single, line: answer.line, header: answer.header, note: `check-in answered (streak ${answer.streak})`,
    }, opts)
  }

  /** Holds a stored answer: sent now (a quiet moment) or when its window closes. */
  hold(stored: CheckInAnswerEntity, opts: HoldOptions): Promise<void> { return this.held.hold(stored, opts) }


  /** Sends everything waiting now (shutdown). */
  flushAll(): Promise<void> { return this.held.flushAll() }
}

/** A batch in messages of at most `maxPerMessage` members; a lone answer in its own words. */
function compose(rows: readonly CheckInAnswerEntity[], header: string, maxPerMessage: number): ComposedAnswer[] {
  const out: ComposedAnswer[] = []
  for (let i = 0; i < rows.length; i += maxPerMessage) {
    const part = rows.slice(i, i + maxPerMessage)
    const first = part[0] as CheckInAnswerEntity
    const text = part.length === 1 ? first.single : [render(header, { count: part.length }), ...part.map((p) => p.line)].join('\n')
    out.push({ text, mentions: part.map((p) => p.memberId), cause: part.length === 1 ? first.messageId ?? undefined : 'check-in.batch', note: answeredNote(part) })
  }
  return out
}

/** The bot-action note of a (batched) check-in answer: how many members, which streaks. */
function answeredNote(part: readonly CheckInAnswerEntity[]): string {
  const streaks = part.map((p) => p.streak)
  const [low, high] = [Math.min(...streaks), Math.max(...streaks)]
  const range = low === high ? `streak ${low}` : `streaks ${low}–${high}`
  return part.length === 1 ? `check-in answered (${range})` : `check-ins answered (${part.length} members, ${range})`
}
