import type { MessageContext } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import { AutoReplyMatched } from '../../contracts/auto-reply'
import type { ActivityBuffer } from './activity.buffer'
import type { ActivityRule } from './activity.rules'

/**
 * Records every message into the batched counters, and into the log (with text if the group keeps it) once
 * the chain is done, with how it was handled: the feature that consumed it and whether an auto-reply
 * answered it (what the stats rebuild needs to tell commands from content). Always goes on.
 */
export function activityMiddleware(deps: { buffer: ActivityBuffer; rules: FeatureRules<ActivityRule> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const keepText = deps.rules.of(ctx).logText
    deps.buffer.count(ctx.message, ctx.group.timezone)
    try {
      await next()
    } finally {
      // The auto-reply's own event for this message says it answered (a cooldown only suppressed it).
      const autoAnswered = ctx.events.some((e) => AutoReplyMatched.is(e) && e.messageId === ctx.message.id && e.status === 'answered')
      deps.buffer.logMessage(ctx.message, keepText, { handledBy: ctx.handledBy, autoAnswered })
    }
  }
}
