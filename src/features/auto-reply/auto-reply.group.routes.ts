import { In } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { canSeeOwned } from '../../kernel/auth'
import type { GroupRecord } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import { defineRoute, GroupParams, groupNotFound, type RouteDefinition } from '../../kernel/routes'
import { addDays, localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import { AutoReplyHitEntity, AutoReplyRuleEntity } from './auto-reply.entity'
import type { Responder } from './auto-reply.responder'
import type { AutoReplyGroup } from './auto-reply.rules'
import { DryRunBody, StatsQuery } from './auto-reply.schema'

/** Auto-reply in one group: what it would answer (dry run) and what it answered (hit stats). */
export function groupRoutes(deps: { db: FeatureStore; clock: Clock; responder: Responder; rules: FeatureRules<AutoReplyGroup>; findGroup: (id: string) => Promise<GroupRecord | null> }): RouteDefinition[] {
  return [
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/auto-reply/dry-run', summary: 'Which rule would answer a text in this group, with what — or why none would',
      params: GroupParams, status: 200, body: DryRunBody,
      access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, body, auth }) {
        const facts = await deps.findGroup(params.id)
        if (!facts) throw groupNotFound()
        const settings = await deps.rules.forGroup(params.id)
        const at = body.at ? Date.parse(body.at) : deps.clock.now()
        const { normalized, outcomes } = await deps.responder.respond({
          text: body.text, groupId: params.id, groupLabels: facts.labels, timezone: facts.timezone, at, mentionsBot: body.mentionsBot,
          memberJoinedAt: body.memberJoinedAt ? Date.parse(body.memberJoinedAt) : null, botId: 'dry-run', groupName: facts.name,
          memberId: body.senderId, memberName: body.senderName,
        }, settings, true)
        // The group's real decision, but only the caller's rules by name (admins: all): another owner's rule
        // is never named, and one that does not serve this group is not mentioned at all.
        const answered = outcomes.some((o) => o.status === 'answered')
        const shown = outcomes.filter((o) => canSeeOwned(auth, o.ownerTokenId)).map(({ ownerTokenId: _owner, ...o }) => o)
        const answer = shown.find((o) => o.status === 'answered') ?? null
        const reason = !settings.enabled ? 'auto-reply is off in this group'
          : answer ? null
            : answered ? 'a rule you cannot see would answer'
              : shown.length === 0 ? 'no rule matches' : `matching rules would not answer: ${shown.map((o) => `${o.name} (${o.status})`).join(', ')}`
        return { normalized, wouldAnswer: settings.enabled && answered, answer: settings.enabled ? answer : null, matches: shown, reason }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/auto-reply/stats', summary: 'Answered and suppressed (cooldown) hits per rule per day',
      params: GroupParams, query: StatsQuery,
      access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, query, auth }) {
        const facts = await deps.findGroup(params.id)
        if (!facts) throw groupNotFound()
        const to = localTime(deps.clock.now(), facts.timezone).day
        const from = addDays(to, -(query.days - 1))
        const rows = await deps.db.repo(AutoReplyHitEntity).createQueryBuilder('h')
          .where('h.group_id = :g AND h.day >= :from AND h.day <= :to', { g: params.id, from, to }).orderBy('h.day', 'ASC').addOrderBy('h.rule_id', 'ASC').getMany()
        // Hits of rules the caller may see only (admins: all); a deleted rule's hits stay visible to admins.
        const ids = [...new Set(rows.map((r) => r.ruleId))]
        const owners = new Map((ids.length > 0 ? await deps.db.repo(AutoReplyRuleEntity).find({ select: { id: true, ownerTokenId: true }, where: { id: In(ids) } }) : []).map((r) => [r.id, r.ownerTokenId]))
        const visible = rows.filter((r) => canSeeOwned(auth, owners.get(r.ruleId) ?? null))
        return { groupId: params.id, from, to, items: visible.map((r) => ({ ruleId: r.ruleId, day: r.day, answered: r.answered, suppressed: r.suppressed })) }
      },
    }),
  ]
}
