import type { MessageContext } from '../../kernel/context'
import { CheckInCompleted } from '../../contracts/check-in'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import type { AnswerBatcher } from './check-in.batcher'
import { commandArgument, normalizeCommand } from '../../text/normalize'
import { parseMakeUpDay, render } from './check-in.commands'
import type { CheckInRule } from './check-in.rules'
import { checkInDay, type CheckInResult, type CheckInService, type MakeUpRefusal } from './check-in.service'

/**
 * Longest text looked at as a command: commands are short, and longer texts (most chat) are skipped without
 * being normalized. Leaves room for an @-mention, a date and a few emoji around `补签`.
 */
const MAX_COMMAND_LENGTH = 40

/** Normalized keywords of a rule, computed once per (cached) rule object. */
const normalizedKeywords = new WeakMap<CheckInRule, { checkIn: Set<string>; makeUp: string; streakBoard: string; pointsBoard: string }>()

export function keywordsOf(rule: CheckInRule): { checkIn: Set<string>; makeUp: string; streakBoard: string; pointsBoard: string } {
  let k = normalizedKeywords.get(rule)
  if (!k) {
    k = {
      checkIn: new Set(rule.keywords.map(normalizeCommand)),
      makeUp: normalizeCommand(rule.makeUp.keyword),
      streakBoard: normalizeCommand(rule.leaderboard.streakKeyword),
      pointsBoard: normalizeCommand(rule.leaderboard.pointsKeyword),
    }
    normalizedKeywords.set(rule, k)
  }
  return k
}

const REFUSALS: Record<MakeUpRefusal, keyof CheckInRule['texts']> = {
  future: 'makeUpFuture', too_old: 'makeUpTooOld', before_join: 'makeUpBeforeJoin', already: 'makeUpAlready', poor: 'makeUpPoor', disabled: 'makeUpDisabled',
}

/**
 * 签到 / 打卡 (check in), 补签 (make up a missed day), 排行榜 / 积分榜 (leaderboards). A message that is one of
 * these commands is handled here and stops the chain; anything else goes on to the next feature.
 */
export function checkInMiddleware(deps: { service: CheckInService; batcher: AnswerBatcher; rules: FeatureRules<CheckInRule> }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const rule = deps.rules.of(ctx)
    // Commands are short: longer texts skip normalization entirely (most chat is longer than a command).
    if (!rule.enabled || ctx.message.type !== 'text' || ctx.message.text.length > MAX_COMMAND_LENGTH) return next()
    if (rule.requireMention && !ctx.message.mentionsBot) return next()
    // The product's one normalization (as auto-replies and moderation see the text), @-mentions removed.
    const command = normalizeCommand(ctx.message.text)
    // Emoji-only messages (`[强][强]`, `👍`) are no command, even for a keyword that is itself only noise.
    if (command === '') return next()
    const keywords = keywordsOf(rule)
    const today = checkInDay(ctx.message.at, ctx.group.timezone, rule.dayStart)

    if (keywords.checkIn.has(command)) {
      const varsOf = (r: CheckInResult): Record<string, string | number> => ({
        member: ctx.member.name, rank: r.rank ?? '-', streak: r.streak, total: r.total, points: r.status === 'new' ? r.points : 0, balance: r.balance,
      })
      const hold = { windowMs: rule.batch.windowMs, firstAtOnce: true }
      const result = await deps.service.checkIn({
        groupId: ctx.group.id, memberId: ctx.member.id, name: ctx.member.name, day: today, at: ctx.message.at, messageId: ctx.message.id, rule,
        answer: (r) => deps.batcher.row({
          botId: ctx.message.botId, groupId: ctx.group.id, memberId: ctx.member.id, messageId: ctx.message.id, streak: r.streak,
          single: render(rule.texts.checkedIn, varsOf(r)), line: render(rule.texts.batchLine, varsOf(r)), header: rule.texts.batchHeader,
        }, hold),
      })
      const vars = varsOf(result)
      if (result.status === 'new') {
        // Stored with the check-in: sent now (a quiet moment) or when its window closes, once.
        if (result.answer) await deps.batcher.hold(result.answer, hold)
        ctx.emit(CheckInCompleted, { botId: ctx.message.botId, groupId: ctx.group.id, memberId: ctx.member.id, day: today, kind: 'normal', rank: result.rank, streak: result.streak, points: result.points })
      } else if (result.messageId === ctx.message.id) {
        // A copy of the very message that made the check-in (redelivered after a crash lost its dedupe
        // mark): its own answer is the reply — sent now if the process holding it died, nothing if it was
        // sent or is held here — never "already" (the member sent one message).
        await deps.batcher.held.resume(ctx.group.id, ctx.member.id, ctx.message.id)
      } else {
        ctx.reply(render(rule.texts.already, vars), { mention: true, note: 'check-in reply (already checked in)' })
      }
      ctx.handled('check-in')
      return
    }

    if (command === keywords.streakBoard || command === keywords.pointsBoard) {
      const by = command === keywords.streakBoard ? 'streak' : 'points'
      const rows = await deps.service.leaderboard(ctx.group.id, by, rule.leaderboard.size, today)
      if (rows.length === 0) ctx.reply(rule.texts.leaderboardEmpty, { note: `leaderboard (${by}, empty)` })
      else {
        const title = by === 'streak' ? '连续签到排行榜' : '积分排行榜'
        const lines = rows.map((r) => render(rule.texts.leaderboardLine, { rank: r.rank, member: r.name, value: by === 'streak' ? `${r.value} 天` : `${r.value} 分` }))
        ctx.reply([render(rule.texts.leaderboardHeader, { title }), ...lines].join('\n'), { note: `leaderboard (${by})` })
      }
      ctx.handled('check-in')
      return
    }

    if (keywords.makeUp && command.startsWith(keywords.makeUp)) {
      // The raw text after the keyword however it was written (`補簽`, `补 签`, `[强]补签`): dates need their `-`.
      const argument = commandArgument(ctx.message.text, keywords.makeUp.length)
      const day = parseMakeUpDay(argument, today)
      if (!day) {
        ctx.reply(rule.texts.makeUpUsage, { mention: true, note: 'make-up usage' })
        ctx.handled('check-in')
        return
      }
      const joinedDay = ctx.member.joinedAt !== null ? checkInDay(ctx.member.joinedAt, ctx.group.timezone, rule.dayStart) : null
      const result = await deps.service.makeUp({ groupId: ctx.group.id, memberId: ctx.member.id, name: ctx.member.name, day, today, joinedDay, at: ctx.message.at, rule })
      const costText = (cost: number): string => (rule.makeUp.cost === 'card' ? `${cost} 张补签卡` : `${cost} 积分`)
      if (result.status === 'done') {
        ctx.reply(render(rule.texts.makeUpDone, { member: ctx.member.name, day, streak: result.streak, cost: costText(result.cost) }), { mention: true, note: `make-up day accepted (streak ${result.streak})` })
        ctx.emit(CheckInCompleted, { botId: ctx.message.botId, groupId: ctx.group.id, memberId: ctx.member.id, day, kind: 'makeup', rank: null, streak: result.streak, points: -result.cost })
      } else {
        const balance = rule.makeUp.cost === 'card' ? `${result.balance} 张补签卡` : `${result.balance} 积分`
        ctx.reply(render(rule.texts[REFUSALS[result.reason]], { day, days: rule.makeUp.windowDays, cost: costText(result.cost), balance }), { mention: true, note: `make-up refused (${result.reason})` })
      }
      ctx.handled('check-in')
      return
    }

    await next()
  }
}
