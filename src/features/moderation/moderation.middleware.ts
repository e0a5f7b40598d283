import { createHash } from 'node:crypto'
import type { MessageContext } from '../../kernel/context'
import { RuleViolated } from '../../contracts/moderation'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import { renderTemplate } from '../../kernel/template'
import type { Counters } from '../../ports/ports'
import { detect } from './moderation.detect'
import { decide, exemption, type StrikeBook } from './moderation.enforce'
import type { WordLists } from './moderation.lists'
import { findQrCodes, isAllowlisted } from './moderation.qr'
import { RULE_LABELS, type ModerationRule } from './moderation.rules'

/**
 * Group rules: detects adverts, sensitive words, owner patterns, links, forbidden card types, QR codes,
 * floods and duplicates; warns, escalates along the strike ladder, removes. A message acted on stops the
 * chain (so nothing answers it); shadow-mode and record-only violations are logged and the message goes on.
 */
export function moderationMiddleware(deps: { rules: FeatureRules<ModerationRule>; lists: WordLists; counters: Counters; book: StrikeBook }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const rule = deps.rules.of(ctx)
    if (!rule.enabled) return next()
    const exempt = exemption(ctx.member, ctx.group, rule)
    // Exempt members are not even counted for floods: the owner announcing things is not spam.
    if (exempt) return next()
    const newcomer = ctx.member.joinedAt !== null && ctx.message.at - ctx.member.joinedAt < rule.newcomer.hours * 3_600_000
    const matcher = await deps.lists.matcher(rule.words, ctx.group.id)
    const { violations } = await detect(ctx.message, rule, {
      matcher, counters: deps.counters,
      qrCodes: async () => {
        const bytes = ctx.message.media ? await ctx.message.media() : null
        return bytes ? findQrCodes(bytes) : []
      },
      qrAllowed: isAllowlisted,
    }, { countRepeats: true, newcomer, normalized: () => ctx.normalizedText })
    if (violations.length === 0) return next()

    // Strikes are served from memory and the events written behind (batched with the flush): no query here.
    const strikes = deps.book.strikes(ctx.group.id, ctx.member.id, rule.decayDays, ctx.message.at)
    const decision = decide(violations, strikes, rule)
    // A removal of this member is queued and not performed yet (violations in quick succession): this one
    // counts and is recorded, but joins that removal — no second removal, no second notice.
    const joinsRemoval = decision.step === 'remove' && deps.book.removalPending(ctx.group.id, ctx.member.id, ctx.message.at, ctx.message.id)
    deps.book.record({ groupId: ctx.group.id, memberId: ctx.member.id, messageId: ctx.message.id, violations, decision, at: ctx.message.at, joinsRemoval })
    ctx.emit(RuleViolated, {
      botId: ctx.message.botId, groupId: ctx.group.id, memberId: ctx.member.id, messageId: ctx.message.id,
      detectors: [...new Set(violations.map((v) => v.detector))], action: decision.step, strike: decision.strike, shadow: decision.step === 'none', at: ctx.message.at,
    })
    // Which rule, whom and what follows at info; what matched (a term, a link host, QR content — pieces of
    // the member's message) only at debug.
    ctx.log.info('rule violated', { member: ctx.member.id, detector: decision.primary?.detector, list: decision.primary?.listId, action: decision.step, strike: decision.strike })
    ctx.log.debug('rule violated: match', { member: ctx.member.id, detector: decision.primary?.detector, matched: decision.primary?.matched })

    // What the bot does about this message goes out once per message: a copy processed again (its dedupe
    // mark lost in a crash, another replica) finds its actions' keys taken and sends no second warning.
    const key = (part: string): string => `moderation:${createHash('sha256').update(`${ctx.group.id}\u0000${ctx.message.id}`).digest('hex').slice(0, 32)}:${part}`
    const label = RULE_LABELS[decision.primary?.detector ?? 'words']
    const vars = { rule: label, strike: decision.strike ?? 0, max: rule.ladder.length, member: ctx.member.name }
    // Which rule and strike, for the bot-action log line (never what matched).
    const why = `strike ${decision.strike ?? '-'}, ${[...new Set(violations.filter((v) => !v.shadow).map((v) => v.detector))].join('+')}`
    switch (decision.step) {
      case 'none': case 'record':
        return next()
      case 'warn':
        ctx.reply(renderTemplate(rule.texts.warn, vars), { mention: true, note: `warning (${why})`, key: key('reply') })
        break
      case 'final_warning':
        ctx.reply(renderTemplate(rule.texts.finalWarning, vars), { mention: true, note: `final warning (${why})`, key: key('reply') })
        break
      case 'remove':
        if (joinsRemoval) {
          ctx.log.info('removal already queued for this member; not queued twice', { member: ctx.member.id, strike: decision.strike })
          break
        }
        // The reason travels with the queued action (and is stored with it): the rule, not the matched text.
        ctx.remove(`moderation: ${decision.primary?.detector ?? 'rules'}`, `removed (${why})`, key('remove'))
        ctx.reply(renderTemplate(rule.texts.removed, vars), { note: `removal announced (${why})`, key: key('reply') })
        break
    }
    ctx.handled('moderation')
  }
}
