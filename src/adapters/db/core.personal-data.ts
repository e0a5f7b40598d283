import type { PersonalDataDeclaration } from '../../kernel/personal-data'
import { OutboundEntity } from './core.entity'

/**
 * Personal data in the core's own tables (features declare theirs): the outbound queue is the delivery
 * log — what the bot sent or did, to which group and member. Dedupe marks hold message ids only and are
 * purged by their own job; rule tables hold no personal data.
 */
export const CORE_PERSONAL_DATA: PersonalDataDeclaration = {
  purpose: 'the outbound queue: actions the bot performs (replies, removals, tags) and their outcome, kept as the delivery log',
  tables: [
    // payload is JSON (text, member ids): erasure must rewrite or delete the row; retention deletes it whole.
    { entity: OutboundEntity, dataClass: 'delivery-logs', timeColumn: 'queuedAt', onErase: 'delete' },
  ],
}
