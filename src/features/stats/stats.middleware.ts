import type { MessageContext } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import type { StatsBuffer } from './stats.buffer'
import type { StatsRule } from './stats.rules'

/** The one feature whose handling leaves a message's content countable: an auto-reply answers a member's own words. */
const CONTENT_KEEPING = 'auto-reply'

/**
 * Counts every message into the batched rollups (a Map update, no I/O); always goes on. After the chain it
 * reads the text for hot topics and questions, unless another feature consumed the message (a check-in, a
 * lottery entry, a message moderation acted on: commands and spam are not topics).
 */
export function statsMiddleware(deps: { buffer: StatsBuffer; rules: FeatureRules<StatsRule> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const rule = deps.rules.of(ctx)
    if (rule.record) deps.buffer.record(ctx.message, ctx.group.timezone)
    await next()
    if (!rule.record || ctx.message.type !== 'text') return
    const content = ctx.handledBy === undefined || ctx.handledBy === CONTENT_KEEPING
    deps.buffer.observeText(ctx.message, ctx.group.timezone, { content, topics: rule.topics, answerWithinMs: rule.questions.answerWithinMinutes * 60_000 })
  }
}
