import type { MessageContext } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import type { StatsBuffer } from './stats.buffer'
import type { StatsRule } from './stats.rules'

/** Counts every message into the batched rollups (a Map update, no I/O); always goes on. */
export function statsMiddleware(deps: { buffer: StatsBuffer; rules: FeatureRules<StatsRule> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    if (deps.rules.of(ctx).record) deps.buffer.record(ctx.message, ctx.group.timezone)
    await next()
  }
}
