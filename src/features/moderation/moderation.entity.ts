import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { msColumn } from '../../adapters/db/columns'
import { HeldAnswerColumns } from '../../adapters/db/held-answers'

/**
 * Every violation and what was done about it (live or shadow). A message's rows are written once: the
 * unique key (group, message, hit) makes a second processing of the message (a redelivered copy whose
 * dedupe mark a kill lost, a flush retried after a commit whose outcome was lost) add nothing. Rows
 * without a message (NULL message_id) are not constrained.
 */
@Entity('qy_moderation_event')
@Index('uq_moderation_event_message', ['groupId', 'messageId', 'hit'], { unique: true })
@Index('idx_moderation_event_group_at', ['groupId', 'at'])
@Index('idx_moderation_event_member', ['groupId', 'memberId', 'at'])
@Index('idx_moderation_event_at', ['at'])
export class ModerationEventEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ name: 'message_id', type: 'varchar', length: 191, nullable: true }) messageId!: string | null
  /** Which violation of its message this row is (0, 1, … in detection order): part of the row's unique key. */
  @Column({ type: 'integer', default: 0 }) hit!: number
  /** Detector that fired (words, regex, links, types, qr, flood, duplicates). */
  @Column({ type: 'varchar', length: 16 }) detector!: string
  /** What matched: the term, pattern name, domain, type or QR content (never the whole message). */
  @Column({ type: 'varchar', length: 200, nullable: true }) matched!: string | null
  /** Which list (for words). */
  @Column({ name: 'list_id', type: 'varchar', length: 64, nullable: true }) listId!: string | null
  /** warn | final_warning | remove | record | none */
  @Column({ type: 'varchar', length: 16 }) action!: string
  /** Strike number this violation counted as (null when it did not count). */
  @Column({ type: 'integer', nullable: true }) strike!: number | null
  /** pending | done | failed | shadow | exempt */
  @Column({ type: 'varchar', length: 16 }) result!: string
  @Column({ type: 'varchar', length: 300, nullable: true }) reason!: string | null
  @Column({ type: 'boolean', default: false }) shadow!: boolean
  @Column(msColumn('at')) at!: number
  /** When an owner marked this hit a false positive (null: not reversed). */
  @Column(msColumn('false_positive_at', true)) falsePositiveAt!: number | null
}

/** When an owner reset a member's strikes (violations before it no longer count). */
@Entity('qy_strike_reset')
export class StrikeResetEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column(msColumn('at')) at!: number
}

/** A word list uploaded through the API. */
@Entity('qy_word_list')
export class WordListEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ type: 'varchar', length: 100 }) name!: string
  /** One term a line. */
  @Column({ type: 'text' }) terms!: string
  @Column({ name: 'term_count', type: 'integer', default: 0 }) termCount!: number
  @Column({ name: 'owner_token_id', type: 'integer', nullable: true }) ownerTokenId!: number | null
  @Column(msColumn('updated_at')) updatedAt!: number
}


/** Newcomers waiting in a welcome window (stored before the join is acknowledged; see HeldAnswers). */
@Entity('qy_moderation_welcome')
@Index('idx_moderation_welcome_at', ['at'])
@Index('idx_moderation_welcome_batch', ['batchKey'])
export class WelcomeEntity extends HeldAnswerColumns {}
