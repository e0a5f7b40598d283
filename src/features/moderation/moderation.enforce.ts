import { MoreThanOrEqual, Not, IsNull } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import type { MemberInfo, GroupInfo } from '../../kernel/context'
import type { Violation } from './moderation.detect'
import { ModerationEventEntity, StrikeResetEntity } from './moderation.entity'
import type { ModerationRule } from './moderation.rules'

const DAY = 86_400_000

/** What follows a message's violations. */
export interface Decision {
  /** 'none': nothing live (shadow only, or exempt); 'record': logged, no strike. */
  step: 'warn' | 'final_warning' | 'remove' | 'record' | 'none'
  strike: number | null
  primary: Violation | null
  /** Why nothing happens, when nothing does. */
  exempt?: 'owner' | 'admin' | 'staff' | 'allowlist'
}

const SEVERITY: Record<Violation['action'], number> = { remove: 3, ladder: 2, warn: 1, record: 0 }

/** Why a member is never punished, if they are not. */
export function exemption(member: Pick<MemberInfo, 'id' | 'role'>, group: Pick<GroupInfo, 'ownerId'>, rule: ModerationRule): Decision['exempt'] | undefined {
  if (member.role === 'owner' || member.id === group.ownerId) return 'owner'
  if (member.role === 'admin') return 'admin'
  if (rule.staff.includes(member.id)) return 'staff'
  if (rule.allowlist.includes(member.id)) return 'allowlist'
  return undefined
}

/** Decides the consequence: the most severe live violation; `ladder` climbs the group's strike ladder. */
export function decide(violations: readonly Violation[], strikes: number, rule: ModerationRule): Decision {
  const live = violations.filter((v) => !v.shadow)
  if (live.length === 0) return { step: 'none', strike: null, primary: violations[0] ?? null }
  const primary = [...live].sort((a, b) => SEVERITY[b.action] - SEVERITY[a.action])[0] as Violation
  if (primary.action === 'record') return { step: 'record', strike: null, primary }
  const strike = strikes + 1
  if (primary.action === 'remove') return { step: 'remove', strike, primary }
  if (primary.action === 'warn') return { step: 'warn', strike, primary }
  return { step: rule.ladder[Math.min(strike, rule.ladder.length) - 1] ?? 'remove', strike, primary }
}

/** Strikes and history of members; events are the record of every violation. */
export class StrikeBook {
  constructor(private readonly db: FeatureTables) {}

  /** Live strikes: counted violations within the decay period, after the last reset. */
  async strikes(groupId: string, memberId: string, decayDays: number, now: number): Promise<number> {
    const reset = await this.db.repo(StrikeResetEntity).findOneBy({ groupId, memberId })
    const since = Math.max(now - decayDays * DAY, reset ? reset.at + 1 : 0)
    return this.db.repo(ModerationEventEntity).countBy({ groupId, memberId, shadow: false, strike: Not(IsNull()), at: MoreThanOrEqual(since) })
  }

  /** Records the violations of one message; the primary carries the action and strike. Returns the primary's id. */
  async record(input: { groupId: string; memberId: string; messageId: string | null; violations: readonly Violation[]; decision: Decision; at: number; exempt?: string }): Promise<number | null> {
    let primaryId: number | null = null
    for (const v of input.violations) {
      const isPrimary = v === input.decision.primary
      const result = input.exempt ? 'exempt' : v.shadow ? 'shadow' : isPrimary ? (input.decision.step === 'remove' ? 'pending' : input.decision.step === 'record' ? 'recorded' : 'done') : 'also'
      const inserted = await this.db.repo(ModerationEventEntity).insert({
        groupId: input.groupId, memberId: input.memberId, messageId: input.messageId, detector: v.detector, matched: v.matched.slice(0, 200), listId: v.listId ?? null,
        action: isPrimary && !input.exempt && !v.shadow ? input.decision.step : 'none', strike: isPrimary && !input.exempt && !v.shadow ? input.decision.strike : null,
        result, reason: input.exempt ? `exempt: ${input.exempt}` : null, shadow: v.shadow, at: input.at,
      })
      if (isPrimary) primaryId = Number(inserted.identifiers[0]?.id)
    }
    return primaryId
  }

  /** Marks the removal caused by a message as done or failed. */
  async removalOutcome(groupId: string, messageId: string, ok: boolean, reason?: string): Promise<void> {
    await this.db.repo(ModerationEventEntity).update({ groupId, messageId, action: 'remove' }, { result: ok ? 'done' : 'failed', reason: reason?.slice(0, 300) ?? null })
  }

  /** Forgets a member's strikes (history stays). */
  async reset(groupId: string, memberId: string, at: number): Promise<void> {
    await this.db.repo(StrikeResetEntity).upsert({ groupId, memberId, at }, ['groupId', 'memberId'])
  }
}
