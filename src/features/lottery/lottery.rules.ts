import { z } from 'zod'

const Template = z.string().min(1).max(500)

/** Messages of lotteries in a group (zh-CN), overridable per group. Variables in braces. */
export const LotteryTextsSchema = z.strictObject({
  /** {title} {description} {prizes} {keyword} {cost} {closes} {draws} {commitment} */
  opened: Template.default('🎁 抽奖开始：{title}\n{description}\n奖品：{prizes}\n参与方式：在群里发送「{keyword}」{cost}\n截止：{closes}，开奖：{draws}\n公平性承诺（种子的 SHA-256）：{commitment}'),
  /** Sent alone, with an @-mention; {member} {title} {count} */
  entered: Template.default('已参与「{title}」抽奖，当前 {count} 人参与，祝你好运！'),
  /** Header of a batched confirmation; {count} {title} */
  batchHeader: Template.default('「{title}」新增 {count} 位参与：'),
  /** One line of a batched confirmation; {member} */
  batchLine: Template.default('{member} ✅'),
  /** {title} */
  already: Template.default('你已经参与过「{title}」啦，每人一次'),
  /** {title} {reason} */
  ineligible: Template.default('抱歉，你暂不符合「{title}」的参与条件：{reason}'),
  /** {title} {cost} {balance} */
  poor: Template.default('参与「{title}」需要 {cost} 积分，你当前有 {balance} 积分'),
  /** {title} — an entry after close (batched like confirmations). */
  late: Template.default('「{title}」已截止报名，下次早点来～'),
  /** {title} {count} {entrantsHash} {draws} */
  closed: Template.default('⏰ 「{title}」报名截止，共 {count} 人参与。参与名单哈希：{entrantsHash}\n开奖时间：{draws}'),
  /** {title} {winners} {seed} {proof} */
  drawn: Template.default('🎉 「{title}」开奖啦！\n{winners}\n种子：{seed}\n任何人都可以验证：{proof}'),
  /** One winner line; {member} {prize} {code} */
  winnerLine: Template.default('{prize}：{member}'),
  /** {title} */
  empty: Template.default('「{title}」没有人参与，本次不开奖'),
  /** {title} {wanted} {drawn} — more prizes than eligible entrants. */
  short: Template.default('（奖品 {wanted} 份，符合条件的参与者只有 {drawn} 位，全部中奖）'),
  /** A reroll; {title} {winners} {seed} {round} */
  rerolled: Template.default('🔄 「{title}」补抽（第 {round} 轮）：\n{winners}\n可用同一个种子验证：{seed}'),
  /** To winners who have not claimed, once, halfway through the claim window; {title} {deadline} {instructions} */
  unclaimed: Template.default('「{title}」的奖品还没有领取，请在 {deadline} 前领取。{instructions}'),
  /** {title} */
  cancelled: Template.default('「{title}」已取消，支付的积分已退还'),
})

/** Lottery settings of a group: whether lotteries run here, how entry confirmations are batched, the messages. */
export const LotteryRuleSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Confirmations within this window after the first are sent together, @-mentioning several members. */
  batch: z.strictObject({
    windowMs: z.int().min(0).max(120_000).default(5_000),
    maxPerMessage: z.int().min(1).max(50).default(10),
  }).default({ windowMs: 5_000, maxPerMessage: 10 }),
  texts: LotteryTextsSchema.default(LotteryTextsSchema.parse({})),
})

/** Validated lottery settings of a group. */
export type LotteryRule = z.infer<typeof LotteryRuleSchema>
