import type { MessageContext } from '../../kernel/context'
import { AutoReplyMatched } from '../../contracts/auto-reply'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import type { Responder } from './auto-reply.responder'
import type { AutoReplyGroup } from './auto-reply.rules'

/**
 * Answers keyword questions. Runs last: a message that moderation acted on, or that check-in handled,
 * never reaches it. Only text messages are matched.
 */
export function autoReplyMiddleware(deps: { responder: Responder; settings: FeatureRules<AutoReplyGroup> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const settings = deps.settings.of(ctx)
    if (!settings.enabled || ctx.message.type !== 'text' || ctx.message.text.length === 0) return next()
    const { outcomes } = await deps.responder.respond({
      text: ctx.message.text, normalized: ctx.normalizedText, groupId: ctx.group.id, groupLabels: ctx.group.labels, timezone: ctx.group.timezone, at: ctx.message.at,
      mentionsBot: ctx.message.mentionsBot, memberJoinedAt: ctx.member.joinedAt, botId: ctx.message.botId, groupName: ctx.group.name,
      memberId: ctx.member.id, memberName: ctx.member.name, messageId: ctx.message.id,
    }, settings, false)
    let matched = false
    for (const o of outcomes) {
      if (o.status !== 'answered' && o.status !== 'cooldown') continue
      matched = true
      ctx.emit(AutoReplyMatched, {
        botId: ctx.message.botId, groupId: ctx.group.id, memberId: ctx.member.id, messageId: ctx.message.id,
        ruleId: o.ruleId, status: o.status === 'answered' ? 'answered' : 'suppressed',
      })
    }
    if (matched) {
      ctx.handled('auto-reply')
      return
    }
    await next()
  }
}
