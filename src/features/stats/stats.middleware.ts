import { AutoReplyMatched } from '../../contracts/auto-reply'
import type { MessageContext } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import { localTime } from '../../kernel/time'
import type { StatsBuffer } from './stats.buffer'
import type { QuestionBook } from './stats.open-questions'
import type { StatsRule } from './stats.rules'

/** The one feature whose handling leaves a message's content countable: an auto-reply answers a member's own words. */
export const CONTENT_KEEPING = 'auto-reply'

/** Whether a message another feature handled (`handledBy`) is still content (terms, questions, answers). */
export function isContent(handledBy: string | null | undefined): boolean {
  return handledBy === undefined || handledBy === null || handledBy === CONTENT_KEEPING
}

/**
 * The answer window handed to the buffer: it counts questions asked, and with a window that has always
 * ended its own (in-memory) open list never resolves one — the question book does, persisted.
 */
export const ASKED_ONLY_MS = -1

/**
 * Counts every message into the batched rollups (a Map update, no I/O); always goes on. After the chain it
 * reads the text for hot topics and questions, unless another feature consumed the message (a check-in, a
 * lottery entry, a message moderation acted on: commands and spam are not topics); a question an auto-reply
 * answered is resolved at once (its event is in the context). The group's open
 * questions are read once per process before its first message here (one query per group).
 */
export function statsMiddleware(deps: { buffer: StatsBuffer; book: QuestionBook; rules: FeatureRules<StatsRule> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const rule = deps.rules.of(ctx)
    // Before counting: a failed read is retried with this step, and nothing was counted twice.
    if (rule.record && !deps.book.isReady(ctx.message.groupId)) await deps.book.ready(ctx.message.groupId)
    if (rule.record) deps.buffer.record(ctx.message, ctx.group.timezone)
    await next()
    if (!rule.record || ctx.message.type !== 'text' || !isContent(ctx.handledBy)) return
    deps.buffer.observeText(ctx.message, ctx.group.timezone, { content: true, topics: rule.topics, answerWithinMs: ASKED_ONLY_MS })
    const { day, hour } = localTime(ctx.message.at, ctx.group.timezone)
    deps.book.observe(ctx.message, day, hour, rule.questions.answerWithinMinutes * 60_000)
    // An auto-reply that answered this message resolves it (if it opened a question) here, in the message's
    // place among the group's messages — not from the batched event bus, whose delivery may come after
    // later messages answered or expired the question. The same rule as the log's `auto_answered` (the
    // activity feature), so a rebuild from the log counts what the live path counted, whatever the timing.
    if (ctx.events.some((e) => AutoReplyMatched.is(e) && e.messageId === ctx.message.id && e.status === 'answered')) {
      deps.book.answeredByAutoReply(ctx.message.groupId, ctx.message.id)
    }
  }
}
