import type { IncomingMessage, MessageType } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import { asHttpError } from '../../kernel/rules.routes'
import type { RuleDryRun } from '../../kernel/rules'
import type { Clock } from '../../ports/clock'
import { normalize } from '../../text/normalize'
import { detect } from './moderation.detect'
import { decide, exemption, type StrikeBook } from './moderation.enforce'
import type { WordLists } from './moderation.lists'
import { findQrCodes, isAllowlisted } from './moderation.qr'
import type { ModerationRule } from './moderation.rules'
import { DryRunBody, type DryRunInput } from './moderation.schema'

/**
 * What the rules (or a draft of them) would do with a message — every match with term, list and original
 * span, the exemption, the step that would follow — without acting or counting anything. A draft is
 * refused exactly as saving it would be (lists the caller may not use included).
 */
export function moderationDryRun(deps: { rules: FeatureRules<ModerationRule>; lists: WordLists; book: StrikeBook; clock: Clock }): RuleDryRun<ModerationRule, DryRunInput> {
  return {
    body: DryRunBody,
    async run({ group, rules: current, body, caller }) {
      let rule = current
      if (body.rules) {
        const draft = await deps.rules.validate(group.id, body.rules, { by: caller }).catch((error: unknown) => { throw asHttpError(error, 'body.rules', 'invalid draft rules') })
        rule = draft.value
      }
      const now = deps.clock.now()
      const image = body.imageBase64 ? Buffer.from(body.imageBase64, 'base64') : null
      const message: IncomingMessage = {
        id: 'dry-run', botId: 'dry-run', groupId: group.id, senderId: body.senderId ?? 'dry-run', senderName: 'dry-run', type: body.type as MessageType,
        text: body.text, mentions: [], mentionsBot: false, at: now, link: body.type === 'url' ? { url: body.url ?? '', title: body.text } : undefined,
      }
      const joinedAt = body.joinedAt ? Date.parse(body.joinedAt) : null
      const newcomer = joinedAt !== null && now - joinedAt < rule.newcomer.hours * 3_600_000
      const matcher = await deps.lists.matcher(rule.words, group.id)
      const { normalized, violations } = await detect(message, rule, {
        matcher, counters: { incr: async () => 0, get: async () => 0, reset: async () => {}, cooldown: async () => true },
        qrCodes: async () => (image ? findQrCodes(image) : []), qrAllowed: isAllowlisted,
      }, { countRepeats: false, newcomer })
      const exempt = exemption({ id: body.senderId ?? 'dry-run', role: body.role }, group, rule)
      const strikes = body.senderId ? deps.book.strikes(group.id, body.senderId, rule.decayDays, now) : 0
      const decision = exempt ? { step: 'none' as const, strike: null } : decide(violations, strikes, rule)
      return {
        enabled: rule.enabled, normalized: normalize(body.text).text, normalizedForRules: normalized,
        matches: violations.map((v) => ({ detector: v.detector, matched: v.matched, listId: v.listId ?? null, span: v.span ?? null, original: v.span ? body.text.slice(v.span.start, v.span.end) : null, action: v.action, shadow: v.shadow })),
        exempt: exempt ?? null, currentStrikes: strikes,
        wouldDo: rule.enabled ? decision.step : 'none', strike: rule.enabled ? decision.strike : null,
        note: 'floods and duplicates are not counted in a dry run',
      }
    },
  }
}
