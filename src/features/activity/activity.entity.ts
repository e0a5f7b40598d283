import { Column, Entity, Index, PrimaryColumn } from 'typeorm'
import { msColumn } from '../../adapters/db/columns'

/** Per member, per group, per day (in the group's timezone) message counters. */
@Entity('qy_activity_daily')
@Index('idx_activity_daily_group_day', ['groupId', 'day'])
@Index('idx_activity_daily_day', ['day', 'groupId', 'memberId'])
export class ActivityDailyEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'int', default: 0 }) messages!: number
  @Column({ type: 'int', default: 0 }) chars!: number
  @Column({ name: 'text_count', type: 'int', default: 0 }) textCount!: number
  @Column({ name: 'media_count', type: 'int', default: 0 }) mediaCount!: number
  @Column({ name: 'card_count', type: 'int', default: 0 }) cardCount!: number
  @Column({ name: 'other_count', type: 'int', default: 0 }) otherCount!: number
}

/** Per group, per day and hour (group timezone) message counts. */
@Entity('qy_activity_hourly')
export class ActivityHourlyEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ type: 'int' }) hour!: number
  @Column({ type: 'int', default: 0 }) messages!: number
}

/** The message log, kept for the retention period and purged by a scheduled job. */
@Entity('qy_message_log')
@Index('idx_message_log_group_at', ['groupId', 'at'])
export class MessageLogEntity {
  @PrimaryColumn({ type: 'varchar', length: 191 }) id!: string
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'sender_id', type: 'varchar', length: 191 }) senderId!: string
  @Column({ type: 'varchar', length: 16 }) type!: string
  @Column({ type: 'text', nullable: true }) text!: string | null
  @Index('idx_message_log_at') @Column(msColumn('at')) at!: number
  /** The feature that consumed the message (stopped the chain), null when none did. */
  @Column({ name: 'handled_by', type: 'varchar', length: 32, nullable: true }) handledBy!: string | null
  /** 1 when an auto-reply rule answered the message. */
  @Column({ name: 'auto_answered', type: 'integer', default: 0 }) autoAnswered!: number
}
