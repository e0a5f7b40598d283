import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { msColumn } from '../../adapters/db/columns'

/** A double column (scores) that comes back as a number on both databases. */
const doubleColumn = (name: string) => ({ name, type: 'double' as const, default: 0, transformer: { to: (v: number) => v, from: (v: string | number) => Number(v) } })

/**
 * One member's engagement and lifecycle in one group. `seenDay` is the last day they spoke (or joined /
 * were first seen), so silent members are found by an index range, not a scan. `score` is stored in the
 * group's growth form (see tagging.model: Σ points · 2^((t − epoch) / halfLife)), so contributions are plain
 * additions (no lost updates between the daily job and event consumers) and ordering by it is ordering by
 * the current, decayed score.
 */
@Entity('qy_tagging_member')
@Index('idx_tagging_member_state', ['groupId', 'state', 'seenDay'])
@Index('idx_tagging_member_score', ['groupId', 'score'])
@Index('idx_tagging_member_seen', ['groupId', 'seenDay'])
@Index('idx_tagging_member_last_active', ['groupId', 'lastActiveDay', 'memberId'])
@Index('idx_tagging_member_joined', ['groupId', 'joinedAt', 'memberId'])
@Index('idx_tagging_member_state_at', ['groupId', 'stateAt', 'memberId'])
@Index('idx_tagging_member_score_id', ['groupId', 'score', 'memberId'])
export class TaggingMemberEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ type: 'varchar', length: 10 }) state!: string
  @Column(msColumn('state_at')) stateAt!: number
  @Column({ name: 'state_day', type: 'varchar', length: 10 }) stateDay!: string
  @Column(msColumn('joined_at', true)) joinedAt!: number | null
  @Column({ name: 'inviter_id', type: 'varchar', length: 191, nullable: true }) inviterId!: string | null
  @Column({ name: 'seen_day', type: 'varchar', length: 10 }) seenDay!: string
  @Column({ name: 'last_active_day', type: 'varchar', length: 10, nullable: true }) lastActiveDay!: string | null
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ name: 'active_days', type: 'integer', default: 0 }) activeDays!: number
  @Column(doubleColumn('score')) score!: number
  @Column({ type: 'varchar', length: 16, nullable: true }) segment!: string | null
  @Column(msColumn('woken_at', true)) wokenAt!: number | null
}

/**
 * Per group: the last activity day folded into the members' scores (the daily job's watermark), the
 * score scale (epoch and half-life of the growth form) and the rules version tags were last fully
 * evaluated with.
 */
@Entity('qy_tagging_group')
export class TaggingGroupEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'rolled_day', type: 'varchar', length: 10, nullable: true }) rolledDay!: string | null
  @Column(msColumn('epoch')) epoch!: number
  @Column(doubleColumn('half_life')) halfLife!: number
  @Column({ name: 'tag_version', type: 'integer', default: 0 }) tagVersion!: number
  @Column(msColumn('updated_at')) updatedAt!: number
}

/**
 * A member's timeline in a group: joins, lifecycle changes, check-ins, tags, wake-ups. `ref` (the cause's
 * stable id) is unique per member, so a redelivered event is recorded — and counted in the score — once.
 */
@Entity('qy_tagging_history')
@Index('uq_tagging_history_ref', ['groupId', 'memberId', 'ref'], { unique: true })
@Index('idx_tagging_history_member', ['groupId', 'memberId', 'at'])
@Index('idx_tagging_history_at', ['at'])
@Index('idx_tagging_history_kind', ['groupId', 'kind', 'at'])
export class TaggingHistoryEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  /** joined | left | lifecycle | checkin | tagged | untagged | wakeup | woke | lottery | lottery_won | share | strike */
  @Column({ type: 'varchar', length: 16 }) kind!: string
  /** A short fact ("dormant→returned", the tag), never message text. */
  @Column({ type: 'varchar', length: 200, nullable: true }) detail!: string | null
  @Column({ type: 'varchar', length: 191 }) ref!: string
  @Column(msColumn('at')) at!: number
}

/** A tag on a member in a group: where it came from (`rule:<id>`, `rfm`, `manual`) and since when. */
@Entity('qy_tagging_tag')
@Index('idx_tagging_tag_group', ['groupId', 'tag'])
export class TaggingTagEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @PrimaryColumn({ type: 'varchar', length: 64 }) tag!: string
  @Column({ type: 'varchar', length: 64 }) source!: string
  @Column(msColumn('at')) at!: number
}

/** The last day a member said one of a keyword tag rule's words (interest tags). */
@Entity('qy_tagging_keyword')
@Index('idx_tagging_keyword_rule', ['groupId', 'ruleId', 'day'])
export class TaggingKeywordEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @PrimaryColumn({ name: 'rule_id', type: 'varchar', length: 40 }) ruleId!: string
  @Column({ type: 'varchar', length: 10 }) day!: string
}
