import type { MessageContext } from '../../kernel/context'
import type { Middleware } from '../../kernel/pipeline'
import type { GroupsRecorder } from './groups.handlers'

/** Stores the sender of a message when the registry has never seen them; always goes on. */
export function groupsMiddleware(recorder: GroupsRecorder): Middleware<MessageContext> {
  return async (ctx, next) => {
    if (!ctx.member.known) {
      // First message from someone we never saw join: store them (joined time unknown).
      await recorder.rememberMember(ctx.message.groupId, { id: ctx.member.id, name: ctx.member.name, role: ctx.member.role })
    }
    await next()
  }
}
