import { In } from 'typeorm'
import type { FeatureStore, FeatureTables } from '../../adapters/db/feature-store'
import type { SpendResult } from '../../contracts/check-in'
import { isDuplicate } from '../../adapters/db/errors'
import type { HeldAnswerRow } from '../../adapters/db/held-answers'
import { addDays, localTime } from '../../kernel/time'
import type { CheckInRule } from './check-in.rules'
import { CheckInAnswerEntity, CheckInDayEntity, CheckInEntity, CheckInMemberEntity, PointsLedgerEntity } from './check-in.entity'

/** The check-in day of an instant: the group's calendar day, starting at `dayStart` (HH:MM) local time. */
export function checkInDay(at: number, timezone: string, dayStart: string): string {
  const t = localTime(at, timezone)
  const [h, m] = dayStart.split(':').map(Number) as [number, number]
  return t.hour * 60 + t.minute < h * 60 + m ? addDays(t.day, -1) : t.day
}

/** Streak facts of a set of days. */
export interface StreakFacts {
  /** Length of the consecutive run ending at the last day. */
  streak: number
  best: number
  total: number
  lastDay: string | null
}

/** Streak, best run and total from a member's days (any order, duplicates ignored). */
export function streakOf(days: Iterable<string>): StreakFacts {
  const sorted = [...new Set(days)].sort()
  let run = 0
  let best = 0
  let previous: string | null = null
  for (const day of sorted) {
    run = previous !== null && addDays(previous, 1) === day ? run + 1 : 1
    best = Math.max(best, run)
    previous = day
  }
  return { streak: run, best, total: sorted.length, lastDay: previous }
}

/** The streak as of `today`: alive if the last check-in was today or yesterday, otherwise 0. */
export function currentStreak(facts: Pick<StreakFacts, 'streak' | 'lastDay'>, today: string): number {
  if (!facts.lastDay) return 0
  return facts.lastDay >= addDays(today, -1) ? facts.streak : 0
}

/** Points for a check-in that brings the streak to `streak`: base plus every bonus whose period divides it. */
export function pointsFor(streak: number, rule: CheckInRule['points']): number {
  let points = rule.base
  for (const bonus of rule.streakBonuses) if (streak > 0 && streak % bonus.every === 0) points += bonus.points
  return points
}

/** A member's standing after an operation. */
export interface Standing { streak: number; best: number; total: number; balance: number; cards: number }

/** Result of a check-in attempt. */
export type CheckInResult =
  | ({ status: 'new'; rank: number; points: number; answer?: CheckInAnswerEntity } & Standing)
  | ({ status: 'already'; rank: number | null; messageId: string | null } & Standing)

/** Why a make-up was refused. */
export type MakeUpRefusal = 'future' | 'too_old' | 'before_join' | 'already' | 'poor' | 'disabled'

/** Result of a make-up attempt. */
export type MakeUpResult = ({ status: 'done'; cost: number; currency: 'points' | 'makeup_card' } & Standing) | { status: 'refused'; reason: MakeUpRefusal; cost: number; balance: number }

/**
 * Check-ins, make-ups, points and leaderboards. Exactly-once is enforced by the database: a unique key on
 * (group, member, day) for check-ins and on (group, member, source, ref) for ledger rows, so duplicate
 * deliveries, concurrent messages and several replicas still make one check-in.
 */
export class CheckInService {
  constructor(private readonly db: FeatureStore) {}

  /** Records a normal check-in for `day`, or reports the existing one. */
  async checkIn(input: {
    groupId: string; memberId: string; name: string; day: string; at: number; messageId: string | null; rule: CheckInRule
    /**
     * The answer of a new check-in (a held answer's row, see HeldAnswers.row), stored (unanswered) in the
     * same transaction so no crash can lose it; the result carries it with its id (to hold it).
     */
    answer?: (result: Extract<CheckInResult, { status: 'new' }>) => HeldAnswerRow
  }): Promise<CheckInResult> {
    const { groupId, memberId, day } = input
    try {
      const outcome = await this.db.transaction(async (m): Promise<CheckInResult | null> => {
        // Checked first so the usual duplicate never becomes a rolled-back transaction; the unique key
        // still decides between replicas racing on MySQL.
        if (await m.repo(CheckInEntity).existsBy({ groupId, memberId, day })) return null
        const inserted = await m.repo(CheckInEntity).insert({ groupId, memberId, day, kind: 'normal', rank: null, at: input.at, messageId: input.messageId })
        const id = Number(inserted.identifiers[0]?.id)
        await m.upsertIncrement('qy_checkin_day', ['group_id', 'day'], ['count'], [[groupId, day, 1]])
        const counter = await m.repo(CheckInDayEntity).findOneByOrFail({ groupId, day })
        const rank = Number(counter.count)
        await m.repo(CheckInEntity).update({ id }, { rank })
        const facts = await this.refreshSummary(m, groupId, memberId, input.name, day)
        const points = pointsFor(facts.streak, input.rule.points)
        if (points > 0) {
          await m.repo(PointsLedgerEntity).insert({ groupId, memberId, currency: 'points', delta: points, source: 'checkin', ref: day, reason: null, at: input.at })
        }
        const balances = await this.balances(m, groupId, memberId)
        const result = { status: 'new' as const, rank, points, streak: facts.streak, best: facts.best, total: facts.total, ...balances }
        if (!input.answer) return result
        const answer = { ...input.answer(result), groupId, memberId, day, streak: result.streak }
        const stored = await m.repo(CheckInAnswerEntity).insert(answer)
        return { ...result, answer: { ...answer, id: Number(stored.identifiers[0]?.id) } }
      })
      if (outcome) return outcome
    } catch (error) {
      if (!isDuplicate(error)) throw error
    }
    const existing = await this.db.repo(CheckInEntity).findOneBy({ groupId, memberId, day })
    const standing = await this.standing(groupId, memberId, day)
    return { status: 'already', rank: existing?.rank ?? null, messageId: existing?.messageId ?? null, ...standing }
  }


  /** Repairs a missed past day, paying points or a card, within the rule's window. */
  async makeUp(input: { groupId: string; memberId: string; name: string; day: string; today: string; joinedDay: string | null; at: number; rule: CheckInRule }): Promise<MakeUpResult> {
    const { groupId, memberId, day, today, rule } = input
    const currency = rule.makeUp.cost === 'card' ? 'makeup_card' as const : 'points' as const
    const cost = currency === 'points' ? rule.makeUp.pointsCost : 1
    const balances = await this.balances(this.db, groupId, memberId)
    const balance = currency === 'points' ? balances.balance : balances.cards
    const refuse = (reason: MakeUpRefusal): MakeUpResult => ({ status: 'refused', reason, cost, balance })
    if (!rule.makeUp.enabled) return refuse('disabled')
    if (day >= today) return refuse('future')
    if (day < addDays(today, -rule.makeUp.windowDays)) return refuse('too_old')
    if (input.joinedDay && day < input.joinedDay) return refuse('before_join')
    if (await this.db.repo(CheckInEntity).existsBy({ groupId, memberId, day })) return refuse('already')
    if (balance < cost) return refuse('poor')
    try {
      return await this.db.transaction(async (m) => {
        await m.repo(CheckInEntity).insert({ groupId, memberId, day, kind: 'makeup', rank: null, at: input.at, messageId: null })
        if (cost > 0) await m.repo(PointsLedgerEntity).insert({ groupId, memberId, currency, delta: -cost, source: 'makeup', ref: day, reason: null, at: input.at })
        // Re-check inside the transaction: two concurrent make-ups must not overdraw.
        const after = await this.balances(m, groupId, memberId)
        if ((currency === 'points' ? after.balance : after.cards) < 0) throw new Overdrawn()
        const facts = await this.refreshSummary(m, groupId, memberId, input.name, today)
        return { status: 'done' as const, cost, currency, streak: currentStreak(facts, today), best: facts.best, total: facts.total, ...after }
      })
    } catch (error) {
      if (error instanceof Overdrawn) return refuse('poor')
      if (isDuplicate(error)) return refuse('already')
      throw error
    }
  }

  /** Adds a ledger row (admin adjustments, later lottery prizes); idempotent per (source, ref). */
  async adjust(input: { groupId: string; memberId: string; delta: number; currency: 'points' | 'makeup_card'; source: 'admin' | 'lottery'; ref: string; reason: string; at: number }): Promise<{ balance: number; cards: number; duplicate: boolean }> {
    try {
      await this.db.repo(PointsLedgerEntity).insert({ groupId: input.groupId, memberId: input.memberId, currency: input.currency, delta: input.delta, source: input.source, ref: input.ref, reason: input.reason, at: input.at })
      return { ...(await this.balances(this.db, input.groupId, input.memberId)), duplicate: false }
    } catch (error) {
      if (!isDuplicate(error)) throw error
      return { ...(await this.balances(this.db, input.groupId, input.memberId)), duplicate: true }
    }
  }

  /**
   * Takes points for another feature (a lottery entry): once per (source, ref); refused when the balance
   * is short. The balance is re-checked inside the transaction, so concurrent spends cannot overdraw.
   */
  async spend(input: { groupId: string; memberId: string; amount: number; source: string; ref: string; at: number }): Promise<SpendResult> {
    const { groupId, memberId } = input
    try {
      return await this.db.transaction(async (m) => {
        if (await m.repo(PointsLedgerEntity).existsBy({ groupId, memberId, source: input.source, ref: input.ref })) {
          return { status: 'duplicate' as const, balance: (await this.balances(m, groupId, memberId)).balance }
        }
        await m.repo(PointsLedgerEntity).insert({ groupId, memberId, currency: 'points', delta: -input.amount, source: input.source, ref: input.ref, reason: null, at: input.at })
        const after = await this.balances(m, groupId, memberId)
        if (after.balance < 0) throw new Overdrawn()
        return { status: 'spent' as const, balance: after.balance }
      })
    } catch (error) {
      if (error instanceof Overdrawn) return { status: 'insufficient', balance: (await this.balances(this.db, groupId, memberId)).balance }
      if (isDuplicate(error)) return { status: 'duplicate', balance: (await this.balances(this.db, groupId, memberId)).balance }
      throw error
    }
  }

  /** Gives back what the spend (source, ref) took, once (its own ledger row, keyed `refund:<ref>`). */
  async refund(input: { groupId: string; memberId: string; source: string; ref: string; at: number }): Promise<boolean> {
    const { groupId, memberId } = input
    const spent = await this.db.repo(PointsLedgerEntity).findOneBy({ groupId, memberId, source: input.source, ref: input.ref })
    if (!spent || spent.delta >= 0) return false
    try {
      await this.db.repo(PointsLedgerEntity).insert({ groupId, memberId, currency: spent.currency, delta: -spent.delta, source: input.source, ref: `refund:${input.ref}`, reason: null, at: input.at })
      return true
    } catch (error) {
      if (isDuplicate(error)) return false
      throw error
    }
  }

  /** A member's points balance in a group. */
  async balance(groupId: string, memberId: string): Promise<number> {
    return (await this.balances(this.db, groupId, memberId)).balance
  }

  /** Members who checked in on any of `days`. */
  async membersOn(groupId: string, days: readonly string[]): Promise<string[]> {
    if (days.length === 0) return []
    const rows = await this.db.repo(CheckInEntity).find({ select: { memberId: true }, where: { groupId, day: In([...days]) } })
    return [...new Set(rows.map((r) => r.memberId))].sort()
  }

  /** Current streaks (0 when broken) of members as of `today`. */
  async streaks(groupId: string, memberIds: readonly string[], today: string): Promise<Map<string, number>> {
    const out = new Map<string, number>(memberIds.map((id) => [id, 0]))
    if (memberIds.length === 0) return out
    const rows = await this.db.repo(CheckInMemberEntity).find({ where: { groupId, memberId: In([...memberIds]) } })
    for (const r of rows) out.set(r.memberId, currentStreak({ streak: r.streak, lastDay: r.lastDay }, today))
    return out
  }

  /** A member's standing as of `today`. */
  async standing(groupId: string, memberId: string, today: string): Promise<Standing> {
    const summary = await this.db.repo(CheckInMemberEntity).findOneBy({ groupId, memberId })
    const balances = await this.balances(this.db, groupId, memberId)
    return {
      streak: summary ? currentStreak({ streak: summary.streak, lastDay: summary.lastDay }, today) : 0,
      best: summary?.bestStreak ?? 0, total: summary?.totalDays ?? 0, ...balances,
    }
  }

  /** Top members by current streak or by points, with competition ranks (ties share a rank). */
  async leaderboard(groupId: string, by: 'streak' | 'points', size: number, today: string): Promise<Array<{ rank: number; memberId: string; name: string; value: number }>> {
    let rows: Array<{ memberId: string; name: string; value: number }>
    if (by === 'streak') {
      const found = await this.db.repo(CheckInMemberEntity).createQueryBuilder('s')
        .where('s.group_id = :g AND s.last_day >= :alive AND s.streak > 0', { g: groupId, alive: addDays(today, -1) })
        .orderBy('s.streak', 'DESC').addOrderBy('s.total_days', 'DESC').addOrderBy('s.member_id', 'ASC').take(size).getMany()
      rows = found.map((r) => ({ memberId: r.memberId, name: r.name, value: r.streak }))
    } else {
      const found: Array<{ member_id: string; name: string | null; points: string | number }> = await this.db.query(
        `SELECT l.member_id, s.name, SUM(l.delta) AS points FROM qy_points_ledger l
         LEFT JOIN qy_checkin_member s ON s.group_id = l.group_id AND s.member_id = l.member_id
         WHERE l.group_id = ? AND l.currency = 'points' GROUP BY l.member_id, s.name HAVING SUM(l.delta) > 0
         ORDER BY points DESC, l.member_id ASC LIMIT ?`, [groupId, size])
      rows = found.map((r) => ({ memberId: r.member_id, name: r.name ?? r.member_id, value: Number(r.points) }))
    }
    let rank = 0
    return rows.map((r, i) => {
      if (i === 0 || r.value !== rows[i - 1]?.value) rank = i + 1
      return { rank, ...r }
    })
  }

  /** Recomputes a member's summary from their days (after any change), returning the facts. */
  private async refreshSummary(m: FeatureTables, groupId: string, memberId: string, name: string, _today: string): Promise<StreakFacts> {
    const days = (await m.repo(CheckInEntity).find({ select: { day: true }, where: { groupId, memberId } })).map((r) => r.day)
    const facts = streakOf(days)
    await m.repo(CheckInMemberEntity).upsert({ groupId, memberId, name, streak: facts.streak, bestStreak: facts.best, totalDays: facts.total, lastDay: facts.lastDay }, ['groupId', 'memberId'])
    return facts
  }

  private async balances(m: FeatureTables, groupId: string, memberId: string): Promise<{ balance: number; cards: number }> {
    const rows: Array<{ currency: string; total: string | number | null }> = await m.query(
      'SELECT currency, SUM(delta) AS total FROM qy_points_ledger WHERE group_id = ? AND member_id = ? GROUP BY currency', [groupId, memberId])
    const of = (c: string): number => Number(rows.find((r) => r.currency === c)?.total ?? 0)
    return { balance: of('points'), cards: of('makeup_card') }
  }
}

/** Internal: a make-up would overdraw the balance. */
class Overdrawn extends Error {}
