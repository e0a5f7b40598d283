import type { MessageContext } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import type { ActivityBuffer } from './activity.buffer'
import type { ActivityRule } from './activity.rules'

/** Records every message into the batched counters (and the log, if the group keeps text); always goes on. */
export function activityMiddleware(deps: { buffer: ActivityBuffer; rules: FeatureRules<ActivityRule> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    deps.buffer.record(ctx.message, ctx.group.timezone, deps.rules.of(ctx).logText)
    await next()
  }
}
