import { defineEvent } from '../kernel/events'
import { serviceKey } from '../kernel/feature'

/** An auto-reply rule matched a message: it answered, or its cooldown suppressed the answer. */
export const AutoReplyMatched = defineEvent<{
  botId: string
  groupId: string
  memberId: string
  messageId: string
  ruleId: number
  status: 'answered' | 'suppressed'
}>()('autoreply.matched')

/** Who created which auto-reply rules, for reports that name rules (stats per rule). */
export interface AutoReplyRuleOwners {
  /** Ids of the rules an owner token created (rules an admin created have no owner and are never listed). */
  ruleIdsOwnedBy(ownerTokenId: number): Promise<number[]>
}

/** The rule-owner lookup (provided by the auto-reply feature). */
export const AUTO_REPLY_RULE_OWNERS = serviceKey<AutoReplyRuleOwners>('autoreply.rule-owners')
