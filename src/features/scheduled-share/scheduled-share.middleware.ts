import type { MessageContext } from '../../kernel/context'
import type { Middleware } from '../../kernel/pipeline'
import type { EngagementRecorder } from './scheduled-share.engagement'

/** An observer step (like activity): counts the message for post lift, then always goes on. */
export function scheduledShareMiddleware(deps: { engagement: Pick<EngagementRecorder, 'observe'> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    deps.engagement.observe(ctx.message)
    await next()
  }
}
