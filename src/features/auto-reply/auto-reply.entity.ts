import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { jsonColumn, msColumn } from '../../adapters/db/columns'

/** A keyword auto-reply rule. The JSON columns hold the zod-validated parts of AutoReplyRuleSchema. */
@Entity('qy_auto_reply_rule')
@Index('idx_auto_reply_owner', ['ownerTokenId'])
export class AutoReplyRuleEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  /** Token that owns the rule; null for rules created by admins (which may serve every group). */
  @Column({ name: 'owner_token_id', type: 'integer', nullable: true }) ownerTokenId!: number | null
  @Column({ type: 'varchar', length: 100 }) name!: string
  @Column({ type: 'boolean', default: true }) enabled!: boolean
  /** Order among rules (lower answers first). */
  @Column({ type: 'integer', default: 0 }) position!: number
  @Column({ name: 'also_continue', type: 'boolean', default: false }) alsoContinue!: boolean
  @Column(jsonColumn('trigger_def')) trigger!: object
  @Column(jsonColumn('scope')) scope!: object
  @Column(jsonColumn('conditions')) conditions!: object
  @Column(jsonColumn('cooldown')) cooldown!: object
  @Column(jsonColumn('answer')) answer!: object
  @Column({ type: 'integer', default: 1 }) version!: number
  @Column(msColumn('created_at')) createdAt!: number
  @Column(msColumn('updated_at')) updatedAt!: number
}

/** Answered and suppressed (cooldown) hits per rule, group and day. */
@Entity('qy_auto_reply_hit')
@Index('idx_auto_reply_hit_group_day', ['groupId', 'day'])
export class AutoReplyHitEntity {
  @PrimaryColumn({ name: 'rule_id', type: 'integer' }) ruleId!: number
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'integer', default: 0 }) answered!: number
  @Column({ type: 'integer', default: 0 }) suppressed!: number
}
