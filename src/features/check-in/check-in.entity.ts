import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { msColumn } from '../../adapters/db/columns'
import { HeldAnswerColumns } from '../../adapters/db/held-answers'

/** One check-in: unique per member, group and day (the group's day), so a day can never count twice. */
@Entity('qy_checkin')
@Index('uq_checkin_member_day', ['groupId', 'memberId', 'day'], { unique: true })
@Index('idx_checkin_group_day', ['groupId', 'day'])
export class CheckInEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ type: 'varchar', length: 10 }) day!: string
  /** 'normal' or 'makeup'. */
  @Column({ type: 'varchar', length: 8 }) kind!: string
  /** Position among the day's normal check-ins (null for make-ups). */
  @Column({ name: 'day_rank', type: 'integer', nullable: true }) rank!: number | null
  @Column(msColumn('at')) at!: number
  @Column({ name: 'message_id', type: 'varchar', length: 191, nullable: true }) messageId!: string | null
}

/** Per group and day: how many normal check-ins so far (hands out ranks atomically). */
@Entity('qy_checkin_day')
export class CheckInDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'integer', default: 0 }) count!: number
}

/** A member's check-in summary in a group (derived from qy_checkin; recomputed after make-ups). */
@Entity('qy_checkin_member')
@Index('idx_checkin_member_streak', ['groupId', 'streak'])
export class CheckInMemberEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  /** Display name at the last check-in (for leaderboards). */
  @Column({ type: 'varchar', length: 255 }) name!: string
  @Column({ type: 'integer', default: 0 }) streak!: number
  @Column({ name: 'best_streak', type: 'integer', default: 0 }) bestStreak!: number
  @Column({ name: 'total_days', type: 'integer', default: 0 }) totalDays!: number
  @Column({ name: 'last_day', type: 'varchar', length: 10, nullable: true }) lastDay!: string | null
}

/** Every point (and make-up card) change; a balance is the sum of its rows. */
@Entity('qy_points_ledger')
@Index('idx_ledger_member', ['groupId', 'memberId', 'currency'])
@Index('uq_ledger_ref', ['groupId', 'memberId', 'source', 'ref'], { unique: true })
export class PointsLedgerEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  /** 'points' or 'makeup_card'. */
  @Column({ type: 'varchar', length: 16 }) currency!: string
  @Column({ type: 'integer', default: 0 }) delta!: number
  /** checkin | makeup | admin | lottery */
  @Column({ type: 'varchar', length: 16 }) source!: string
  /** Idempotency reference within the source (the day for check-ins, a request id for admins). */
  @Column({ type: 'varchar', length: 100 }) ref!: string
  @Column({ type: 'varchar', length: 200, nullable: true }) reason!: string | null
  @Column(msColumn('at')) at!: number
}

/** Reminders sent, one per group and day. */
@Entity('qy_checkin_reminder')
export class CheckInReminderEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column(msColumn('at')) at!: number
}

/**
 * A check-in answer, stored in the check-in's transaction (unique per check-in) and held in a batch window
 * (see HeldAnswers): a window closing groups its rows under a batch key, its messages go to the outbound
 * queue keyed `<batch key>:<part>`, and the rows are marked answered once those are stored. What a crash
 * left unanswered the `check-in.answers` sweep sends under the same keys — stored once, so sent once.
 */
@Entity('qy_checkin_answer')
@Index('uq_checkin_answer_day', ['groupId', 'memberId', 'day'], { unique: true })
@Index('idx_checkin_answer_open', ['answeredAt', 'at'])
@Index('idx_checkin_answer_at', ['at'])
@Index('idx_checkin_answer_batch', ['batchKey'])
export class CheckInAnswerEntity extends HeldAnswerColumns {
  /** The check-in day it answers (with the group and member: its check-in). */
  @Column({ type: 'varchar', length: 10 }) day!: string
  /** The member's streak after this check-in (for the bot-action log line). */
  @Column({ type: 'integer', default: 0 }) streak!: number
}
