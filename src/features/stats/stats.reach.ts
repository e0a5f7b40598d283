import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import type { Scope } from './stats.queries'
import { upsertAdd } from './stats.sql'

/**
 * Distinct active members over any day range without reading one row per member: "reach" rows.
 *
 * For every member-group pair and every local day it spoke on, its previous active day (or none) is known.
 * A pair was active in [a, b] exactly when it has an active day d in [a, b] whose previous active day is
 * before a — its first active day of the range — so
 *
 *     distinct pairs active in [a, b] = Σ n over reach rows with a ≤ day ≤ b and prev_day < a
 *
 * where a reach row (day, prev_day, n) counts the pairs whose active day `day` follows `prev_day` ('' for
 * none). Rows are kept per group (`qy_stats_group_reach`, owner and group scopes) and summed across all
 * groups (`qy_stats_all_reach`, the all-groups scope): at most one row per day and distinct previous day,
 * so WAU/MAU over 1,000 groups read a few thousand rows instead of every member-month row. Counts are exact
 * (member-group pairs, the cross-group unit of every distinct figure here) — never a sum of daily counts.
 *
 * Written by the stats flush from each pair's last active day (`qy_stats_pair_last`, read by primary key
 * for every pair of the batch in statements of 500 pairs): a pair's new day after its last one adds
 * (day, last) — the live case; its last day itself is stored already (nothing to add: a member speaking
 * again the same day, the common case); a day before its last one (late rows, a restart replaying
 * yesterday) re-derives that pair's chain from its member-day rows. The flush writes member-day rows after this runs, in the same transaction, so the
 * "is this day new" question is answered against what is stored: redelivery and restarts add nothing. On
 * MySQL the stats writers of a day are serialised by the all-day row lock (stats.scope.ts `lockDays`).
 */

const sep = '\u0000'
/** Pairs per read of their last active days. */
const READ_CHUNK = 500
const NONE = ''

type Delta = Map<string, number>

function add(delta: Delta, groupId: string, day: string, prev: string, n: number): void {
  const k = groupId + sep + day + sep + prev
  delta.set(k, (delta.get(k) ?? 0) + n)
}

/** (day, prev) of each day of a sorted chain of active days. */
function links(days: readonly string[]): Array<[string, string]> {
  return days.map((d, i) => [d, i === 0 ? NONE : days[i - 1] as string])
}

/** Writes reach deltas to the group rows and the all-group rows (rows left at 0 are deleted). */
async function applyDelta(tx: FeatureTables, delta: Delta): Promise<void> {
  const group: Row[] = []
  const all = new Map<string, number>()
  for (const [k, n] of delta) {
    if (n === 0) continue
    const [g, day, prev] = k.split(sep) as [string, string, string]
    group.push([g, day, prev, n])
    const ak = day + sep + prev
    all.set(ak, (all.get(ak) ?? 0) + n)
  }
  if (group.length === 0) return
  await upsertAdd(tx, 'qy_stats_group_reach', ['group_id', 'day', 'prev_day'], [], ['n'], group)
  await upsertAdd(tx, 'qy_stats_all_reach', ['day', 'prev_day'], [], ['n'], [...all].filter(([, n]) => n !== 0).map(([k, n]) => [...k.split(sep), n] as Row))
  if ([...delta.values()].some((n) => n < 0)) {
    const days = [...new Set(group.map((r) => r[1]))]
    const list = days.map(() => '?').join(',')
    await tx.query(`DELETE FROM qy_stats_group_reach WHERE n = 0 AND day IN (${list})`, days)
    await tx.query(`DELETE FROM qy_stats_all_reach WHERE n = 0 AND day IN (${list})`, days)
  }
}

/**
 * The stored last active day of every pair of the batch (key group + sep + member; absent: none), in
 * statements of a fixed number of pairs (the last one padded by repeating a pair, so SQLite compiles one
 * statement text) — not one statement per group: at 1,000 groups the statements, not the lookups, cost.
 */
async function readLast(tx: FeatureTables, byGroup: ReadonlyMap<string, ReadonlyMap<string, unknown>>): Promise<Map<string, string>> {
  const keys: Array<[string, string]> = []
  for (const [g, pairs] of byGroup) for (const m of pairs.keys()) keys.push([g, m])
  const out = new Map<string, string>()
  const one = '(?,?)'
  const list = tx.dialect === 'sqlite' ? `VALUES ${new Array<string>(READ_CHUNK).fill(one).join(',')}` : ''
  for (let i = 0; i < keys.length; i += READ_CHUNK) {
    const part = keys.slice(i, i + READ_CHUNK)
    let sql: string
    if (tx.dialect === 'sqlite') {
      while (part.length < READ_CHUNK) part.push(part[part.length - 1] as [string, string])
      sql = `SELECT group_id, member_id, last_day FROM qy_stats_pair_last WHERE (group_id, member_id) IN (${list})`
    } else sql = `SELECT group_id, member_id, last_day FROM qy_stats_pair_last WHERE (group_id, member_id) IN (${part.map(() => one).join(',')})`
    const rows = await tx.query<{ group_id: string; member_id: string; last_day: string }>(sql, part.flat())
    for (const r of rows) out.set(String(r.group_id) + sep + String(r.member_id), String(r.last_day))
  }
  return out
}

/** What `addReach` learnt about a batch's pair-days. */
export interface ReachResult {
  /** New pair-days per group-day ([group, day, count]): each group-day's distinct speakers grow by exactly that many. */
  fresh: Row[]
  /** Pair-days of the batch already stored with messages (key: group, member, day joined by NUL). */
  stored: Set<string>
}

/** Key of a pair-day in `ReachResult.stored`. */
export function pairDayKey(groupId: string, memberId: string, day: string): string {
  return groupId + sep + memberId + sep + day
}

/**
 * Adds the reach of a batch's member-day rows ([group, day, member, …]; every row has messages) — call
 * before the member-day rows are written, in the same transaction.
 */
export async function addReach(tx: FeatureTables, memberDay: readonly Row[]): Promise<ReachResult> {
  const stored = new Set<string>()
  if (memberDay.length === 0) return { fresh: [], stored }
  // Batch days per pair, by group.
  const byGroup = new Map<string, Map<string, string[]>>()
  for (const r of memberDay) {
    const g = r[0] as string
    let pairs = byGroup.get(g)
    if (!pairs) byGroup.set(g, (pairs = new Map()))
    const days = pairs.get(r[2] as string)
    if (days) days.push(r[1] as string)
    else pairs.set(r[2] as string, [r[1] as string])
  }
  const delta: Delta = new Map()
  const last: Row[] = []
  const lastOf = await readLast(tx, byGroup)
  for (const [g, pairs] of byGroup) {
    const replay: string[] = []
    for (const [m, batchDays] of pairs) {
      const prev = lastOf.get(g + sep + m) ?? NONE
      // The pair's last active day is stored: its member-day row exists (pair_last follows those rows).
      const days = [...new Set(batchDays)].filter((d) => d !== prev).sort()
      if (prev !== NONE && batchDays.includes(prev)) stored.add(pairDayKey(g, m, prev))
      if (days.length === 0) continue
      if (prev !== NONE && (days[0] as string) < prev) { replay.push(m); continue }
      // The live case: every batch day after the pair's last active day.
      let p = prev
      for (const day of days) { add(delta, g, day, p, 1); p = day }
      last.push([g, m, days[days.length - 1] as string])
    }
    // A batch day before the pair's last active day: re-derive the pair's chain from its rows.
    for (const m of replay) {
      const rows = await tx.query<{ day: string }>('SELECT day FROM qy_stats_member_day WHERE group_id = ? AND member_id = ? AND messages > 0 ORDER BY day', [g, m])
      const before = rows.map((r) => String(r.day))
      for (const day of before) stored.add(pairDayKey(g, m, day))
      const after = [...new Set([...before, ...(pairs.get(m) ?? [])])].sort()
      if (after.length === before.length) continue
      for (const [day, p] of links(before)) add(delta, g, day, p, -1)
      for (const [day, p] of links(after)) add(delta, g, day, p, 1)
      last.push([g, m, after[after.length - 1] as string])
    }
  }
  await applyDelta(tx, delta)
  // New pair-days: every +1 of a (group, day) that is not offset by a −1 of the same day (a replayed chain moves links, not days).
  const fresh = new Map<string, number>()
  for (const [k, n] of delta) {
    const [g, day] = k.split(sep) as [string, string]
    const gk = g + sep + day
    fresh.set(gk, (fresh.get(gk) ?? 0) + n)
  }
  if (last.length > 0) {
    const tail = tx.dialect === 'mysql' ? ' ON DUPLICATE KEY UPDATE last_day = GREATEST(last_day, VALUES(last_day))' : ' ON CONFLICT(group_id, member_id) DO UPDATE SET last_day = MAX(last_day, excluded.last_day)'
    await tx.upsertRows('qy_stats_pair_last', ['group_id', 'member_id', 'last_day'], tail, last)
  }
  return { fresh: [...fresh].filter(([, n]) => n !== 0).map(([k, n]) => [...k.split(sep), n] as Row), stored }
}

/**
 * Recomputes one group's reach rows from its member-day rows (a rebuild that rewrote them; a bench that
 * wrote them directly): its group rows replaced, the all-group rows adjusted by the difference, its
 * pairs' last active days reset.
 */
export async function rebuildGroupReach(tx: FeatureTables, groupId: string): Promise<void> {
  const rows = await tx.query<{ member_id: string; day: string }>('SELECT member_id, day FROM qy_stats_member_day WHERE group_id = ? AND messages > 0 ORDER BY member_id, day', [groupId])
  const fresh: Delta = new Map()
  const last = new Map<string, string>()
  let prev: { member: string; day: string } | null = null
  for (const r of rows) {
    const member = String(r.member_id)
    const day = String(r.day)
    add(fresh, groupId, day, prev && prev.member === member ? prev.day : NONE, 1)
    last.set(member, day)
    prev = { member, day }
  }
  const old = await tx.query<{ day: string; prev_day: string; n: unknown }>('SELECT day, prev_day, n FROM qy_stats_group_reach WHERE group_id = ?', [groupId])
  const delta: Delta = new Map(fresh)
  for (const r of old) add(delta, groupId, String(r.day), String(r.prev_day), -Number(r.n))
  await applyDelta(tx, delta)
  await tx.query('DELETE FROM qy_stats_pair_last WHERE group_id = ?', [groupId])
  await tx.insertIgnore('qy_stats_pair_last', ['group_id', 'member_id', 'last_day'], [...last].map(([m, d]) => [groupId, m, d]))
}

/** Distinct member-group pairs active in [from, to] in the scope, from the reach rows. */
export async function reachCount(db: FeatureTables, scope: Scope, from: string, to: string): Promise<number> {
  if (scope.all) {
    const rows = await db.query<{ n: unknown }>('SELECT SUM(n) AS n FROM qy_stats_all_reach WHERE day >= ? AND day <= ? AND prev_day < ?', [from, to, from])
    return Number(rows[0]?.n ?? 0)
  }
  if (scope.groupIds.length === 0) return 0
  const inList = scope.groupIds.length === 1 ? 'group_id = ?' : `group_id IN (${scope.groupIds.map(() => '?').join(',')})`
  const rows = await db.query<{ n: unknown }>(`SELECT SUM(n) AS n FROM qy_stats_group_reach WHERE ${inList} AND day >= ? AND day <= ? AND prev_day < ?`, [...scope.groupIds, from, to, from])
  return Number(rows[0]?.n ?? 0)
}

/**
 * Fills every reach row from the member-day rows in three statements (window function LAG: SQLite ≥ 3.25,
 * MariaDB ≥ 10.2, MySQL ≥ 8): for a database whose member-day rows were written without them (the bench's
 * generator). Replaces what is there.
 */
export async function fillReachFromMemberDays(tx: FeatureTables): Promise<void> {
  for (const table of ['qy_stats_group_reach', 'qy_stats_all_reach', 'qy_stats_pair_last']) await tx.query(`DELETE FROM ${table}`)
  await tx.query(`INSERT INTO qy_stats_group_reach (group_id, day, prev_day, n)
    SELECT group_id, day, prev_day, COUNT(*) FROM (SELECT group_id, day, COALESCE(LAG(day) OVER (PARTITION BY group_id, member_id ORDER BY day), '') AS prev_day FROM qy_stats_member_day WHERE messages > 0) x
    GROUP BY group_id, day, prev_day`)
  await tx.query('INSERT INTO qy_stats_all_reach (day, prev_day, n) SELECT day, prev_day, SUM(n) FROM qy_stats_group_reach GROUP BY day, prev_day')
  await tx.query('INSERT INTO qy_stats_pair_last (group_id, member_id, last_day) SELECT group_id, member_id, MAX(day) FROM qy_stats_member_day WHERE messages > 0 GROUP BY group_id, member_id')
}
