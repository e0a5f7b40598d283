import { z } from 'zod'
import { LIFECYCLE_STATES, type LifecycleState } from '../../contracts/tagging'

const Template = z.string().min(1).max(500)
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time like 22:00')
const Lifecycle = z.enum(LIFECYCLE_STATES as [LifecycleState, ...LifecycleState[]])

/** RFM segments (recency × engagement), stored as tags named by the group's labels. */
export const SEGMENTS = ['high_value', 'potential', 'needs_wakeup', 'at_risk'] as const
/** One RFM segment. */
export type Segment = (typeof SEGMENTS)[number]
const SegmentSchema = z.enum(SEGMENTS)

/** What the engagement score adds per unit (before decay). */
export const WeightsSchema = z.strictObject({
  /** Per message (from the activity rollups). */
  message: z.number().min(0).max(1000).default(1),
  /** Per day with at least one message. */
  activeDay: z.number().min(0).max(1000).default(5),
  /** Per check-in (`checkin.completed`, normal or make-up). */
  checkIn: z.number().min(0).max(1000).default(3),
  /** Per time the member is @-mentioned by someone else. */
  mentioned: z.number().min(0).max(1000).default(2),
  /** Per lottery entry (`lottery.entered`, when a lottery feature emits it). */
  lotteryEntry: z.number().min(0).max(1000).default(2),
  /** Per reply to a topic share (`share.replied`, when a share feature emits it). */
  shareReply: z.number().min(0).max(1000).default(2),
})

/**
 * A condition of a tag rule: every field given must hold. Conditions read the member's stored state only
 * (lifecycle, score, segment, inviter, check-in streak, keyword hits), never the message log.
 */
export const TagConditionSchema = z.strictObject({
  lifecycle: z.array(Lifecycle).min(1).max(5).optional(),
  scoreMin: z.number().min(0).max(1e9).optional(),
  scoreMax: z.number().min(0).max(1e9).optional(),
  segment: z.array(SegmentSchema).min(1).max(4).optional(),
  /** Invited by one of these members. */
  inviters: z.array(z.string().min(1).max(191)).min(1).max(50).optional(),
  /** Said one of these keywords (normalized like auto-reply keywords) in the last `days` days. */
  keyword: z.strictObject({ words: z.array(z.string().trim().min(1).max(20)).min(1).max(20), days: z.int().min(1).max(365).default(30) }).optional(),
  /** Current check-in streak of at least this many days. */
  streakMin: z.int().min(1).max(3650).optional(),
}).refine((c) => Object.keys(c).length > 0, 'a tag rule needs at least one condition')
  .refine((c) => c.scoreMin === undefined || c.scoreMax === undefined || c.scoreMin <= c.scoreMax, { message: 'scoreMin must not exceed scoreMax', path: ['scoreMax'] })

/** An owner-defined tag rule of a group. */
export const TagRuleSchema = z.strictObject({
  /** Stable id within the group (letters, digits, - and _). */
  id: z.string().regex(/^[a-z0-9_-]{1,40}$/, 'lowercase letters, digits, - and _'),
  /** The tag as members and WeCom see it (「关注价格」). */
  tag: z.string().trim().min(1).max(30),
  enabled: z.boolean().default(true),
  when: TagConditionSchema,
  /** Also set the tag on the contact through the outbound queue (where the puppet supports contact tags). */
  syncContactTag: z.boolean().default(false),
})
/** A validated tag rule. */
export type TagRule = z.infer<typeof TagRuleSchema>

/** Tagging configuration of a group: score, lifecycle, RFM cut points, tag rules and actions on transitions. */
export const TaggingRuleSchema = z.strictObject({
  enabled: z.boolean().default(true),
  score: z.strictObject({
    /** Days after which a contribution counts half. */
    halfLifeDays: z.number().min(0.5).max(365).default(14),
    weights: WeightsSchema.prefault({}),
  }).prefault({}),
  lifecycle: z.strictObject({
    /** `new` for this many days after joining (then `active` once they have spoken). */
    newDays: z.int().min(1).max(365).default(7),
    /** `dormant` after this many days without a message. */
    dormantDays: z.int().min(1).max(365).default(14),
    /** `churned` after this many days without a message (or on leaving). */
    churnedDays: z.int().min(2).max(730).default(30),
    /** `returned` settles back to `active` after this many days. */
    returnedDays: z.int().min(1).max(365).default(7),
  }).prefault({}).refine((l) => l.churnedDays > l.dormantDays, { message: 'churnedDays must be greater than dormantDays', path: ['churnedDays'] }),
  rfm: z.strictObject({
    /** Recent: spoke within this many days. */
    recentDays: z.int().min(1).max(365).default(7),
    /** Engaged: current (decayed) score at least this. */
    engagedScore: z.number().min(0).max(1e9).default(20),
    /** Tag names of the segments. */
    labels: z.strictObject({
      high_value: z.string().trim().min(1).max(30).default('高价值'),
      potential: z.string().trim().min(1).max(30).default('潜力'),
      needs_wakeup: z.string().trim().min(1).max(30).default('需唤醒'),
      at_risk: z.string().trim().min(1).max(30).default('流失风险'),
    }).prefault({}),
  }).prefault({}),
  tags: z.array(TagRuleSchema).max(50).default([])
    .refine((tags) => new Set(tags.map((t) => t.id)).size === tags.length, 'tag rule ids must be unique'),
  actions: z.strictObject({
    /** Wake newly dormant members: @-mentions in the group, in batches, or a direct message to each. */
    wakeUp: z.strictObject({
      enabled: z.boolean().default(false),
      /**
       * `group`: one message in the group @-mentioning a batch; `direct`: a direct message to each member
       * of the batch (where the platform allows it: WeCom only to the bot's own contacts).
       */
      channel: z.enum(['group', 'direct']).default('group'),
      /** {count}: members in the batch (1 in a direct message); in the group the @-mentions are added by the platform. */
      text: Template.default('好久不见，最近群里有不少新话题，欢迎回来聊聊～'),
      /** Members per run (and per group message). */
      batchSize: z.int().min(1).max(20).default(10),
      /** At most one wake-up per member in this many days. */
      minIntervalDays: z.int().min(1).max(365).default(14),
      /** No wake-ups between these local times (start > end spans midnight). */
      quietStart: HHMM.default('22:00'),
      quietEnd: HHMM.default('09:00'),
    }).prefault({}),
    /** Congratulate members who became active after their newcomer days. */
    welcomeActive: z.strictObject({
      enabled: z.boolean().default(false),
      text: Template.default('🎉 欢迎成为群里的活跃成员，感谢参与！'),
    }).prefault({}),
    /** Greet a dormant or churned member who speaks again. */
    welcomeBack: z.strictObject({
      enabled: z.boolean().default(false),
      /** {member} */
      text: Template.default('欢迎回来，{member}！'),
    }).prefault({}),
  }).prefault({}),
})

/** Validated tagging configuration. */
export type TaggingRule = z.infer<typeof TaggingRuleSchema>
