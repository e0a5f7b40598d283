import type { MessageContext } from '../../kernel/context'
import { MemberLifecycleChanged } from '../../contracts/tagging'
import type { FeatureRules } from '../../kernel/feature'
import type { Middleware } from '../../kernel/pipeline'
import { renderTemplate } from '../../kernel/template'
import { localTime } from '../../kernel/time'
import { normalize, normalizeTerm } from '../../text/normalize'
import type { TaggingRule } from './tagging.rules'
import { memoKey, type TaggingService } from './tagging.service'
/** Longest text looked at for interest keywords (the rest of a long message is not scanned). */
const MAX_KEYWORD_TEXT = 2000
/** Entries kept in the per-day "already checked" memo before it is cleared. */
const MAX_MEMO = 200_000

/** Normalized words of the keyword tag rules, computed once per (cached) rule object. */
const keywordCache = new WeakMap<TaggingRule, Array<{ ruleId: string; words: string[] }>>()
function keywordRules(rule: TaggingRule): Array<{ ruleId: string; words: string[] }> {
  let k = keywordCache.get(rule)
  if (!k) {
    k = rule.tags.filter((t) => t.enabled && t.when.keyword).map((t) => ({ ruleId: t.id, words: (t.when.keyword?.words ?? []).map(normalizeTerm).filter((w) => w.length > 0) }))
    keywordCache.set(rule, k)
  }
  return k
}

/** Engagement gathered on the message path, written on the flush interval. */
export class EngagementBuffer {
  /** group → member → mentions received. */
  mentions = new Map<string, { timezone: string; counts: Map<string, number> }>()
  /** group ␀ member ␀ rule → day. */
  keywords = new Map<string, string>()
}

/**
 * An observer on the message path (always calls next()): a member's first message creates their row,
 * a dormant or churned member who speaks is promoted to `returned` at once (with the welcome-back
 * message when enabled), @-mentions of others and interest keywords are counted for the next flush.
 * Members' states are read once per group and local day (see TaggingService.spoke); new rows are written with the flush.
 */
export function taggingMiddleware(deps: { service: TaggingService; rules: FeatureRules<TaggingRule>; buffer: EngagementBuffer }): Middleware<MessageContext> {
  return async (ctx, next) => {
    const rule = deps.rules.of(ctx)
    if (!rule.enabled || ctx.member.role === 'bot') return next()
    const { message, group, member } = ctx
    const day = localTime(message.at, group.timezone).day
    const key = memoKey(group.id, member.id)
    if (deps.service.memo.get(key) !== day) {
      const { change } = await deps.service.spoke({ groupId: group.id, botId: message.botId, memberId: member.id, joinedAt: member.joinedAt, at: message.at, day, ref: `lc:msg:${message.id}`, rule, timezone: group.timezone })
      if (change) {
        ctx.emit(MemberLifecycleChanged, { botId: message.botId, groupId: group.id, memberId: member.id, from: change.from, to: change.to, reason: change.reason })
        if (change.to === 'returned' && rule.actions.welcomeBack.enabled) ctx.reply(renderTemplate(rule.actions.welcomeBack.text, { member: member.name }), { mention: true, note: 'welcome back' })
      }
      if (deps.service.memo.size > MAX_MEMO) deps.service.memo.clear()
      deps.service.memo.set(key, day)
    }
    const others = message.mentions.filter((id) => id !== member.id)
    if (others.length > 0 && rule.score.weights.mentioned > 0) {
      let g = deps.buffer.mentions.get(group.id)
      if (!g) deps.buffer.mentions.set(group.id, (g = { timezone: group.timezone, counts: new Map() }))
      for (const id of others) g.counts.set(id, (g.counts.get(id) ?? 0) + 1)
    }
    const keywords = message.type === 'text' ? keywordRules(rule) : []
    if (keywords.length > 0) {
      const text = message.text.length <= MAX_KEYWORD_TEXT ? ctx.normalizedText : normalize(message.text.slice(0, MAX_KEYWORD_TEXT)).text
      for (const k of keywords) if (k.words.some((w) => text.includes(w))) deps.buffer.keywords.set(`${memoKey(group.id, member.id)}\u0000${k.ruleId}`, day)
    }
    await next()
  }
}
