import type { DataSource, EntityManager } from 'typeorm'
import { withTransaction } from '../../adapters/db/transaction'
import { addDays, localTime } from '../../kernel/time'
import { upsertIncrement } from '../../adapters/db/sql'
import type { CheckInRule } from './check-in.rules'
import { CheckInDayEntity, CheckInEntity, CheckInMemberEntity, PointsLedgerEntity } from './check-in.entity'

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
  | ({ status: 'new'; rank: number; points: number } & Standing)
  | ({ status: 'already'; rank: number | null } & Standing)

/** Why a make-up was refused. */
export type MakeUpRefusal = 'future' | 'too_old' | 'before_join' | 'already' | 'poor' | 'disabled'

/** Result of a make-up attempt. */
export type MakeUpResult = ({ status: 'done'; cost: number; currency: 'points' | 'makeup_card' } & Standing) | { status: 'refused'; reason: MakeUpRefusal; cost: number; balance: number }

/** Whether an error is a unique-key violation (SQLite and MySQL). */
export function isDuplicate(error: unknown): boolean {
  const e = error as { code?: string; errno?: number; message?: string }
  return e?.code === 'ER_DUP_ENTRY' || e?.errno === 1062 || /UNIQUE constraint failed|SQLITE_CONSTRAINT/.test(String(e?.code ?? e?.message ?? ''))
    || /UNIQUE constraint failed/.test(String(e?.message ?? ''))
}

/**
 * Check-ins, make-ups, points and leaderboards. Exactly-once is enforced by the database: a unique key on
 * (group, member, day) for check-ins and on (group, member, source, ref) for ledger rows, so duplicate
 * deliveries, concurrent messages and several replicas still make one check-in.
 */
export class CheckInService {
  constructor(private readonly db: DataSource) {}

  /** Records a normal check-in for `day`, or reports the existing one. */
  async checkIn(input: { groupId: string; memberId: string; name: string; day: string; at: number; messageId: string | null; rule: CheckInRule }): Promise<CheckInResult> {
    const { groupId, memberId, day } = input
    try {
      const outcome = await withTransaction(this.db, async (m): Promise<CheckInResult | null> => {
        // Checked first so the usual duplicate never becomes a rolled-back transaction; the unique key
        // still decides between replicas racing on MySQL.
        if (await m.getRepository(CheckInEntity).existsBy({ groupId, memberId, day })) return null
        const inserted = await m.getRepository(CheckInEntity).insert({ groupId, memberId, day, kind: 'normal', rank: null, at: input.at, messageId: input.messageId })
        const id = Number(inserted.identifiers[0]?.id)
        await upsertIncrement(m, 'qy_checkin_day', ['group_id', 'day'], ['count'], [[groupId, day, 1]])
        const counter = await m.getRepository(CheckInDayEntity).findOneByOrFail({ groupId, day })
        const rank = Number(counter.count)
        await m.getRepository(CheckInEntity).update({ id }, { rank })
        const facts = await this.refreshSummary(m, groupId, memberId, input.name, day)
        const points = pointsFor(facts.streak, input.rule.points)
        if (points > 0) {
          await m.getRepository(PointsLedgerEntity).insert({ groupId, memberId, currency: 'points', delta: points, source: 'checkin', ref: day, reason: null, at: input.at })
        }
        const balances = await this.balances(m, groupId, memberId)
        return { status: 'new' as const, rank, points, streak: facts.streak, best: facts.best, total: facts.total, ...balances }
      })
      if (outcome) return outcome
    } catch (error) {
      if (!isDuplicate(error)) throw error
    }
    const existing = await this.db.getRepository(CheckInEntity).findOneBy({ groupId, memberId, day })
    const standing = await this.standing(groupId, memberId, day)
    return { status: 'already', rank: existing?.rank ?? null, ...standing }
  }

  /** Repairs a missed past day, paying points or a card, within the rule's window. */
  async makeUp(input: { groupId: string; memberId: string; name: string; day: string; today: string; joinedDay: string | null; at: number; rule: CheckInRule }): Promise<MakeUpResult> {
    const { groupId, memberId, day, today, rule } = input
    const currency = rule.makeUp.cost === 'card' ? 'makeup_card' as const : 'points' as const
    const cost = currency === 'points' ? rule.makeUp.pointsCost : 1
    const balances = await this.balances(this.db.manager, groupId, memberId)
    const balance = currency === 'points' ? balances.balance : balances.cards
    const refuse = (reason: MakeUpRefusal): MakeUpResult => ({ status: 'refused', reason, cost, balance })
    if (!rule.makeUp.enabled) return refuse('disabled')
    if (day >= today) return refuse('future')
    if (day < addDays(today, -rule.makeUp.windowDays)) return refuse('too_old')
    if (input.joinedDay && day < input.joinedDay) return refuse('before_join')
    if (await this.db.getRepository(CheckInEntity).existsBy({ groupId, memberId, day })) return refuse('already')
    if (balance < cost) return refuse('poor')
    try {
      return await withTransaction(this.db, async (m) => {
        await m.getRepository(CheckInEntity).insert({ groupId, memberId, day, kind: 'makeup', rank: null, at: input.at, messageId: null })
        if (cost > 0) await m.getRepository(PointsLedgerEntity).insert({ groupId, memberId, currency, delta: -cost, source: 'makeup', ref: day, reason: null, at: input.at })
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
      await this.db.getRepository(PointsLedgerEntity).insert({ groupId: input.groupId, memberId: input.memberId, currency: input.currency, delta: input.delta, source: input.source, ref: input.ref, reason: input.reason, at: input.at })
      return { ...(await this.balances(this.db.manager, input.groupId, input.memberId)), duplicate: false }
    } catch (error) {
      if (!isDuplicate(error)) throw error
      return { ...(await this.balances(this.db.manager, input.groupId, input.memberId)), duplicate: true }
    }
  }

  /** A member's standing as of `today`. */
  async standing(groupId: string, memberId: string, today: string): Promise<Standing> {
    const summary = await this.db.getRepository(CheckInMemberEntity).findOneBy({ groupId, memberId })
    const balances = await this.balances(this.db.manager, groupId, memberId)
    return {
      streak: summary ? currentStreak({ streak: summary.streak, lastDay: summary.lastDay }, today) : 0,
      best: summary?.bestStreak ?? 0, total: summary?.totalDays ?? 0, ...balances,
    }
  }

  /** Top members by current streak or by points, with competition ranks (ties share a rank). */
  async leaderboard(groupId: string, by: 'streak' | 'points', size: number, today: string): Promise<Array<{ rank: number; memberId: string; name: string; value: number }>> {
    let rows: Array<{ memberId: string; name: string; value: number }>
    if (by === 'streak') {
      const found = await this.db.getRepository(CheckInMemberEntity).createQueryBuilder('s')
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
  private async refreshSummary(m: EntityManager, groupId: string, memberId: string, name: string, _today: string): Promise<StreakFacts> {
    const days = (await m.getRepository(CheckInEntity).find({ select: { day: true }, where: { groupId, memberId } })).map((r) => r.day)
    const facts = streakOf(days)
    await m.getRepository(CheckInMemberEntity).upsert({ groupId, memberId, name, streak: facts.streak, bestStreak: facts.best, totalDays: facts.total, lastDay: facts.lastDay }, ['groupId', 'memberId'])
    return facts
  }

  private async balances(m: EntityManager, groupId: string, memberId: string): Promise<{ balance: number; cards: number }> {
    const rows: Array<{ currency: string; total: string | number | null }> = await m.query(
      'SELECT currency, SUM(delta) AS total FROM qy_points_ledger WHERE group_id = ? AND member_id = ? GROUP BY currency', [groupId, memberId])
    const of = (c: string): number => Number(rows.find((r) => r.currency === c)?.total ?? 0)
    return { balance: of('points'), cards: of('makeup_card') }
  }
}

/** Internal: a make-up would overdraw the balance. */
class Overdrawn extends Error {}
