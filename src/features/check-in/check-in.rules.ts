import { z } from 'zod'

const Keyword = z.string().trim().min(1).max(20)
const HHMM = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time like 04:00')
const Template = z.string().min(1).max(500)

/** Reply texts (zh-CN), overridable per group. Variables in braces. */
export const CheckInTextsSchema = z.strictObject({
  /** Sent with an @-mention of the member. {member} {rank} {streak} {total} {points} {balance} */
  checkedIn: Template.default('签到成功！今天第 {rank} 个签到，连续签到 {streak} 天，累计 {total} 天，+{points} 积分'),
  /** {member} {rank} {streak} */
  already: Template.default('今天已经签到过啦（今天第 {rank} 个），连续 {streak} 天，明天再来～'),
  /** Header of a batched answer at busy moments; {count} */
  batchHeader: Template.default('签到成功 {count} 位：'),
  /** One line of a batched answer: {member} {rank} {streak} {points} */
  batchLine: Template.default('{member} 第{rank}名·连续{streak}天·+{points}'),
  /** {member} {day} {streak} {cost} */
  makeUpDone: Template.default('补签 {day} 成功，消耗 {cost}，当前连续签到 {streak} 天'),
  makeUpUsage: Template.default('补签格式：补签 2026-11-20、补签 11-20 或 补签昨天'),
  /** {days} */
  makeUpTooOld: Template.default('只能补签最近 {days} 天内的日期'),
  makeUpFuture: Template.default('不能补签今天或以后的日期'),
  makeUpBeforeJoin: Template.default('不能补签入群之前的日期'),
  makeUpAlready: Template.default('{day} 已经签到过了，不需要补签'),
  /** {cost} {balance} */
  makeUpPoor: Template.default('补签需要 {cost}，你当前有 {balance}'),
  makeUpDisabled: Template.default('本群没有开启补签'),
  /** {title} */
  leaderboardHeader: Template.default('🏆 {title}'),
  /** {rank} {member} {value} */
  leaderboardLine: Template.default('{rank}. {member} {value}'),
  leaderboardEmpty: Template.default('还没有人签到，快来做第一个吧'),
  reminder: Template.default('⏰ 今天签到了吗？发送「签到」即可'),
})

/** Check-in configuration of a group. */
export const CheckInRuleSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Trigger words, matched on normalized text (case, width, spaces and punctuation ignored). */
  keywords: z.array(Keyword).min(1).max(10).default(['签到', '打卡']),
  /** Only count a check-in when the bot is @-mentioned. */
  requireMention: z.boolean().default(false),
  /** When a new check-in day starts, in the group's timezone. */
  dayStart: HHMM.default('00:00'),
  points: z.strictObject({
    base: z.int().min(0).max(10_000).default(10),
    /** Extra points on every Nth consecutive day. */
    streakBonuses: z.array(z.strictObject({ every: z.int().min(2).max(3650), points: z.int().min(1).max(100_000) })).max(10).default([{ every: 7, points: 20 }]),
  }).default({ base: 10, streakBonuses: [{ every: 7, points: 20 }] }),
  makeUp: z.strictObject({
    enabled: z.boolean().default(true),
    keyword: Keyword.default('补签'),
    /** How many days back a missed day can be repaired. */
    windowDays: z.int().min(1).max(60).default(7),
    /** What it costs: points, or one make-up card (granted by admins). */
    cost: z.enum(['points', 'card']).default('points'),
    pointsCost: z.int().min(0).max(100_000).default(30),
  }).default({ enabled: true, keyword: '补签', windowDays: 7, cost: 'points', pointsCost: 30 }),
  leaderboard: z.strictObject({
    /** Keyword answering the top members by current streak. */
    streakKeyword: Keyword.default('排行榜'),
    /** Keyword answering the top members by points. */
    pointsKeyword: Keyword.default('积分榜'),
    size: z.int().min(1).max(30).default(10),
  }).default({ streakKeyword: '排行榜', pointsKeyword: '积分榜', size: 10 }),
  /** Answers within this window after the first are sent together, @-mentioning several members. */
  batch: z.strictObject({
    windowMs: z.int().min(0).max(120_000).default(5_000),
    maxPerMessage: z.int().min(1).max(50).default(10),
  }).default({ windowMs: 5_000, maxPerMessage: 10 }),
  reminder: z.strictObject({
    enabled: z.boolean().default(false),
    time: HHMM.default('09:00'),
  }).default({ enabled: false, time: '09:00' }),
  texts: CheckInTextsSchema.default(CheckInTextsSchema.parse({})),
}).refine((r) => !r.keywords.includes(r.makeUp.keyword), { message: 'the make-up keyword cannot also be a check-in keyword', path: ['makeUp', 'keyword'] })

/** Validated check-in configuration. */
export type CheckInRule = z.infer<typeof CheckInRuleSchema>
