import { defineEvent } from '../kernel/events'

/** An auto-reply rule matched a message: it answered, or its cooldown suppressed the answer. */
export const AutoReplyMatched = defineEvent<{
  botId: string
  groupId: string
  memberId: string
  messageId: string
  ruleId: number
  status: 'answered' | 'suppressed'
}>()('autoreply.matched')
