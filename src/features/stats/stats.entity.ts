import { Column, Entity, Index, PrimaryColumn } from 'typeorm'
import { msColumn } from '../../adapters/db/columns'

/**
 * Read models of the stats feature. Every report reads these rollups, never the raw message log: a group
 * and day (the group's timezone) row carries the day's totals; hour rows feed the heatmap and short series;
 * member-day rows feed distinct-member figures (DAU/WAU/MAU), top members and retention cohorts.
 */

/** One group's totals on one local day. */
@Entity('qy_stats_group_day')
@Index('idx_stats_group_day_day', ['day', 'groupId', 'messages', 'textCount', 'mediaCount', 'cardCount', 'otherCount', 'active', 'joins', 'leaves', 'checkins', 'autoreplyHits', 'moderationHits', 'moderationActions'])
export class StatsGroupDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ name: 'text_count', type: 'integer', default: 0 }) textCount!: number
  @Column({ name: 'media_count', type: 'integer', default: 0 }) mediaCount!: number
  @Column({ name: 'card_count', type: 'integer', default: 0 }) cardCount!: number
  @Column({ name: 'other_count', type: 'integer', default: 0 }) otherCount!: number
  /** Distinct speakers of the day (recomputed from member-day rows on every write, so it never double counts). */
  @Column({ type: 'integer', default: 0 }) active!: number
  @Column({ type: 'integer', default: 0 }) joins!: number
  @Column({ type: 'integer', default: 0 }) leaves!: number
  @Column({ type: 'integer', default: 0 }) checkins!: number
  @Column({ name: 'autoreply_hits', type: 'integer', default: 0 }) autoreplyHits!: number
  @Column({ name: 'moderation_hits', type: 'integer', default: 0 }) moderationHits!: number
  @Column({ name: 'moderation_actions', type: 'integer', default: 0 }) moderationActions!: number
}

/** One group's messages and distinct speakers in one local hour (weekday stored for the heatmap). */
@Entity('qy_stats_group_hour')
@Index('idx_stats_group_hour_day', ['day', 'hour', 'weekday', 'messages', 'speakers'])
export class StatsGroupHourEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ type: 'integer' }) hour!: number
  /** 0 = Monday … 6 = Sunday (of the local day). */
  @Column({ type: 'integer' }) weekday!: number
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ type: 'integer', default: 0 }) speakers!: number
}

/** One member's activity in one group on one local day. */
@Entity('qy_stats_member_day')
@Index('idx_stats_member_day_member', ['groupId', 'memberId', 'day'])
@Index('idx_stats_member_day_cover', ['groupId', 'day', 'memberId', 'messages', 'checkins', 'streak'])
export class StatsMemberDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  /** Monday of the day's week (retention cohorts). */
  @Column({ type: 'varchar', length: 10 }) week!: string
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ type: 'integer', default: 0 }) checkins!: number
  /** The check-in streak reached that day (0 without a check-in). */
  @Column({ type: 'integer', default: 0 }) streak!: number
}

/**
 * Days of one month a member spoke in a group, as a bit mask (bit d-1 = day d): distinct active members
 * over any range read one row per member and month instead of one per member and day. Written with a
 * bitwise OR, so re-writing a day never changes it.
 */
@Entity('qy_stats_member_month')
@Index('idx_stats_member_month_group', ['groupId', 'month', 'memberId', 'days'])
@Index('idx_stats_member_month_month', ['month', 'groupId', 'memberId', 'days'])
export class StatsMemberMonthEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  /** YYYY-MM (the group's timezone). */
  @PrimaryColumn({ type: 'varchar', length: 7 }) month!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ type: 'integer', default: 0 }) days!: number
}

/** Members one member invited into a group on one local day (top inviters). */
@Entity('qy_stats_inviter_day')
export class StatsInviterDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ type: 'integer', default: 0 }) invites!: number
}

/** Who spoke in which hour: a short-lived staging table for hour speakers (purged after a few days). */
@Entity('qy_stats_member_hour')
export class StatsMemberHourEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ type: 'integer' }) hour!: number
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
}

/** A member's join (and leave) as seen in events: the retention cohort they belong to. */
@Entity('qy_stats_member')
@Index('idx_stats_member_cohort', ['groupId', 'joinedWeek'])
export class StatsMemberEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ name: 'joined_day', type: 'varchar', length: 10 }) joinedDay!: string
  @Column({ name: 'joined_week', type: 'varchar', length: 10 }) joinedWeek!: string
  @Column({ name: 'left_day', type: 'varchar', length: 10, nullable: true }) leftDay!: string | null
}

/** Hits and actions per rule per group-day: auto-reply rules, moderation detectors. */
@Entity('qy_stats_rule_day')
export class StatsRuleDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  /** 'autoreply' or 'moderation'. */
  @PrimaryColumn({ type: 'varchar', length: 16 }) kind!: string
  /** Auto-reply rule id, or moderation detector name. */
  @PrimaryColumn({ type: 'varchar', length: 64 }) rule!: string
  @Column({ type: 'integer', default: 0 }) hits!: number
  /** Auto-reply: answered (not suppressed); moderation: an enforcing step (not shadow, not record/none). */
  @Column({ type: 'integer', default: 0 }) actions!: number
  /** Moderation: actions an owner later marked as false positives (reversed). */
  @Column({ type: 'integer', default: 0 }) reversals!: number
}

/** Ids of events already folded into the rollups (at-least-once delivery made idempotent); purged after a while. */
@Entity('qy_stats_event')
export class StatsEventEntity {
  @PrimaryColumn({ type: 'varchar', length: 191 }) id!: string
  @Index('idx_stats_event_at') @Column(msColumn('at')) at!: number
}

/** Lottery entries of one member in one group on one local day (entries, distinct entrants). */
@Entity('qy_stats_lottery_day')
@Index('idx_stats_lottery_day_day', ['day', 'groupId', 'memberId', 'entries'])
export class StatsLotteryDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ type: 'integer', default: 0 }) entries!: number
}

/** A lottery drawn in a group (its first draw; rerolls are not draws), on the local day of the draw. */
@Entity('qy_stats_lottery_draw')
@Index('idx_stats_lottery_draw_day', ['day', 'groupId', 'lotteryId'])
export class StatsLotteryDrawEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'lottery_id', type: 'integer' }) lotteryId!: number
  @Column({ type: 'varchar', length: 10 }) day!: string
}

/** Lifecycle transitions (from → to) in one group on one local day; `from_state` is 'none' when a member is first seen. */
@Entity('qy_stats_lifecycle_day')
@Index('idx_stats_lifecycle_day_day', ['day', 'groupId', 'fromState', 'toState', 'n'])
export class StatsLifecycleDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ name: 'from_state', type: 'varchar', length: 16 }) fromState!: string
  @PrimaryColumn({ name: 'to_state', type: 'varchar', length: 16 }) toState!: string
  @Column({ type: 'integer', default: 0 }) n!: number
}

/**
 * Hot-topic terms: per group and local day, how many messages contained each term (see stats.terms.ts).
 * Terms only, never whole messages; past days are pruned to their top TERMS_KEPT_PER_DAY terms. No
 * secondary index: every read names its groups (the primary key's prefix), and writes stay cheap.
 */
@Entity('qy_stats_term_day')
export class StatsTermDayEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ type: 'varchar', length: 64 }) term!: string
  @Column({ type: 'integer', default: 0 }) n!: number
}

/** Questions asked in one group and local hour (of the question), and how many were resolved (see stats.questions.ts). */
@Entity('qy_stats_question_hour')
@Index('idx_stats_question_hour_day', ['day', 'groupId', 'hour', 'weekday', 'questions', 'resolved', 'byAutoreply'])
export class StatsQuestionHourEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ type: 'integer' }) hour!: number
  /** 0 = Monday … 6 = Sunday. */
  @Column({ type: 'integer' }) weekday!: number
  @Column({ type: 'integer', default: 0 }) questions!: number
  @Column({ type: 'integer', default: 0 }) resolved!: number
  /** Of `resolved`: answered by an auto-reply rule. */
  @Column({ name: 'by_autoreply', type: 'integer', default: 0 }) byAutoreply!: number
}

/** Resolved questions of one group and local day by whole minutes to their answer (the median's histogram). */
@Entity('qy_stats_answer_minute')
export class StatsAnswerMinuteEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ type: 'integer' }) minute!: number
  @Column({ type: 'integer', default: 0 }) n!: number
}

/**
 * Every group's totals on one local day (each group's own day): the group-day counters summed, `active`
 * included (member-group pairs, as every cross-group figure counts them). Derived — recomputed from the
 * group-day rows of the days a transaction touched (stats.scope.ts), never added to.
 */
@Entity('qy_stats_all_day')
export class StatsAllDayEntity {
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ name: 'text_count', type: 'integer', default: 0 }) textCount!: number
  @Column({ name: 'media_count', type: 'integer', default: 0 }) mediaCount!: number
  @Column({ name: 'card_count', type: 'integer', default: 0 }) cardCount!: number
  @Column({ name: 'other_count', type: 'integer', default: 0 }) otherCount!: number
  @Column({ type: 'integer', default: 0 }) active!: number
  @Column({ type: 'integer', default: 0 }) joins!: number
  @Column({ type: 'integer', default: 0 }) leaves!: number
  @Column({ type: 'integer', default: 0 }) checkins!: number
  @Column({ name: 'autoreply_hits', type: 'integer', default: 0 }) autoreplyHits!: number
  @Column({ name: 'moderation_hits', type: 'integer', default: 0 }) moderationHits!: number
  @Column({ name: 'moderation_actions', type: 'integer', default: 0 }) moderationActions!: number
}

/** Every group's messages and speakers (summed) in one local hour; derived from the group-hour rows like the above. */
@Entity('qy_stats_all_hour')
export class StatsAllHourEntity {
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ type: 'integer' }) hour!: number
  @Column({ type: 'integer' }) weekday!: number
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ type: 'integer', default: 0 }) speakers!: number
}

/**
 * Reach rows of one group (stats.reach.ts): how many of its member pairs spoke on `day` after last speaking
 * on `prevDay` ('' for never). Distinct members over [a, b] = Σ n with a ≤ day ≤ b and prevDay < a.
 */
@Entity('qy_stats_group_reach')
export class StatsGroupReachEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ name: 'prev_day', type: 'varchar', length: 10 }) prevDay!: string
  @Column({ type: 'integer', default: 0 }) n!: number
}

/** The reach rows of every group summed (the all-groups scope's distinct counts). */
@Entity('qy_stats_all_reach')
export class StatsAllReachEntity {
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @PrimaryColumn({ name: 'prev_day', type: 'varchar', length: 10 }) prevDay!: string
  @Column({ type: 'integer', default: 0 }) n!: number
}

/** Each member's last local day with a message in a group (the reach rows' previous day, read by primary key). */
@Entity('qy_stats_pair_last')
export class StatsPairLastEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ name: 'last_day', type: 'varchar', length: 10 }) lastDay!: string
}

/**
 * Running totals of one group (stats.running.ts): its group-day counters summed over `day` and every earlier
 * day. Totals over [a, b] = the last row on or before b minus the last row before a. Derived — recomputed
 * from the group-day rows from the earliest day a transaction touched, never added to.
 */
@Entity('qy_stats_group_running')
export class StatsGroupRunningEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ name: 'text_count', type: 'integer', default: 0 }) textCount!: number
  @Column({ name: 'media_count', type: 'integer', default: 0 }) mediaCount!: number
  @Column({ name: 'card_count', type: 'integer', default: 0 }) cardCount!: number
  @Column({ name: 'other_count', type: 'integer', default: 0 }) otherCount!: number
  @Column({ type: 'integer', default: 0 }) active!: number
  @Column({ type: 'integer', default: 0 }) joins!: number
  @Column({ type: 'integer', default: 0 }) leaves!: number
  @Column({ type: 'integer', default: 0 }) checkins!: number
  @Column({ name: 'autoreply_hits', type: 'integer', default: 0 }) autoreplyHits!: number
  @Column({ name: 'moderation_hits', type: 'integer', default: 0 }) moderationHits!: number
  @Column({ name: 'moderation_actions', type: 'integer', default: 0 }) moderationActions!: number
}

/**
 * Running totals of one member in one group (stats.member-running.ts): messages, active days (member-day
 * rows) and check-ins summed over `day` and every earlier day; one row per member-day row. Totals over
 * [a, b] = the last row on or before b minus the last row before a. Derived from the member-day rows.
 */
@Entity('qy_stats_member_running')
export class StatsMemberRunningEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @PrimaryColumn({ type: 'varchar', length: 10 }) day!: string
  @Column({ type: 'integer', default: 0 }) messages!: number
  @Column({ name: 'active_days', type: 'integer', default: 0 }) activeDays!: number
  @Column({ type: 'integer', default: 0 }) checkins!: number
}

/** Every table of the feature. */
export const STATS_ENTITIES = [StatsTermDayEntity, StatsQuestionHourEntity, StatsAnswerMinuteEntity, StatsGroupDayEntity, StatsGroupHourEntity, StatsMemberDayEntity, StatsMemberMonthEntity, StatsInviterDayEntity, StatsMemberHourEntity, StatsMemberEntity, StatsRuleDayEntity, StatsEventEntity,
  StatsLotteryDayEntity, StatsLotteryDrawEntity, StatsLifecycleDayEntity, StatsAllDayEntity, StatsAllHourEntity, StatsGroupReachEntity, StatsAllReachEntity, StatsPairLastEntity, StatsGroupRunningEntity, StatsMemberRunningEntity]
