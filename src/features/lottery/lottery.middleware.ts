import { LotteryEntered } from '../../contracts/lottery'
import type { MessageContext } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import { renderTemplate } from '../../kernel/template'
import { normalizeCommand } from '../../text/normalize'
import type { AnswerBatcher } from './lottery.batcher'
import { reasonZh } from './lottery.eligibility'
import type { LiveLotteries } from './lottery.live'
import type { LotteryRule } from './lottery.rules'
import type { LotteryService } from './lottery.service'

/** Longest text looked at as an entry keyword (commands are short; most chat is skipped unnormalized). */
const MAX_COMMAND_LENGTH = 40

/**
 * Entry by keyword: a member says the lottery's keyword (`参与抽奖`, in the product's one normalization:
 * width, case, traditional characters, emoji codes and punctuation do not matter) while it is open.
 * Confirmations and "already closed" answers are batched; refusals (already entered, not eligible, not
 * enough points) are answered one by one. Anything else goes on to the next feature.
 */
export function lotteryMiddleware(deps: { lotteries: LiveLotteries; service: LotteryService; batcher: AnswerBatcher; rules: FeatureRules<LotteryRule> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const rule = deps.rules.of(ctx)
    if (!rule.enabled || ctx.message.type !== 'text' || ctx.message.text.length > MAX_COMMAND_LENGTH) return next()
    const candidates = await deps.lotteries.forGroup(ctx.group.id)
    if (candidates.length === 0) return next()
    const command = normalizeCommand(ctx.message.text)
    if (command === '') return next()
    const matching = candidates.filter((l) => l.keyword === command)
    if (matching.length === 0) return next()
    const lottery = matching.find((l) => l.row.status === 'open') ?? matching[matching.length - 1]
    if (!lottery) return next()
    const title = lottery.config.title
    const texts = rule.texts
    const batch = { windowMs: rule.batch.windowMs }
    const to = { botId: ctx.message.botId, groupId: ctx.group.id }
    ctx.handled('lottery')

    const late = async (): Promise<void> => {
      const text = renderTemplate(texts.late, { title, member: ctx.member.name })
      await deps.batcher.add(`${ctx.group.id}:late:${lottery.row.id}`, to, { memberId: ctx.member.id, messageId: ctx.message.id, single: text, line: `@${ctx.member.name}` },
        { ...batch, header: text, note: `lottery ${lottery.row.id} entry after close` })
    }
    if (lottery.row.status !== 'open') return late()

    const confirm = async (count: number): Promise<void> => {
      const vars = { member: ctx.member.name, title, count }
      await deps.batcher.add(`${ctx.group.id}:entered:${lottery.row.id}`, to, { memberId: ctx.member.id, messageId: ctx.message.id, single: renderTemplate(texts.entered, vars), line: renderTemplate(texts.batchLine, vars) },
        { ...batch, header: renderTemplate(texts.batchHeader, { title, count: '{count}' }), note: `lottery ${lottery.row.id} entry confirmed` })
    }
    const result = await deps.service.enter(lottery, { group: ctx.group, member: ctx.member, messageId: ctx.message.id, at: ctx.message.at })
    switch (result.status) {
      case 'entered': {
        await confirm(result.count)
        ctx.emit(LotteryEntered, { botId: ctx.message.botId, groupId: ctx.group.id, memberId: ctx.member.id, lotteryId: lottery.row.id, method: result.method, points: result.points })
        return
      }
      case 'already':
        if (result.messageId === ctx.message.id) {
          // A copy of the very message that made the entry (redelivered after a crash lost its dedupe mark):
          // its own confirmation is the answer — resumed if stored (nothing if sent or held here), stored now
          // if the crash came before it — never "already entered" (the member sent one message).
          if (!(await deps.batcher.held.resume(ctx.group.id, ctx.member.id, ctx.message.id))) await confirm(result.count)
          return
        }
        return ctx.reply(renderTemplate(texts.already, { title }), { mention: true, note: `lottery ${lottery.row.id} entry refused (already entered)` })
      case 'ineligible':
        return ctx.reply(renderTemplate(texts.ineligible, { title, reason: reasonZh(result.reason) }), { mention: true, note: `lottery ${lottery.row.id} entry refused (ineligible)` })
      case 'poor':
        return ctx.reply(renderTemplate(texts.poor, { title, cost: result.cost, balance: result.balance }), { mention: true, note: `lottery ${lottery.row.id} entry refused (points)` })
      case 'late':
        return late()
    }
  }
}
