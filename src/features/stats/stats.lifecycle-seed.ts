import type { FeatureStore } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import { LIFECYCLE_STATES, type LifecycleFacts, type LifecycleState } from '../../contracts/tagging'

/** `from_state` of the seed rows (read like a first sighting: nothing is taken from another state). */
export const SEED_FROM = 'seed'
/** The seed rows' day: before any real day, so every day's mix starts from them. */
export const SEED_DAY = '1970-01-01'

const isState = (v: string): v is LifecycleState => (LIFECYCLE_STATES as readonly string[]).includes(v)

/**
 * Seeds the lifecycle mix with members whose lifecycle the tagging feature assigned before stats saw any
 * event for them (stats was installed later, or an event was lost). For each group and state: the
 * members tagging counts now (its service, never its tables) minus what the transitions stats recorded
 * add up to; the difference is written as one `seed → state` row on SEED_DAY, replacing the previous seed
 * of the group. The mix of every day then starts from those members' state, and their later transitions
 * (which stats did record) move them on. Idempotent: a second run computes the same rows. A lifecycle
 * event still in flight while it runs is counted twice until the next run (start, rebuild, daily job).
 */
export async function seedLifecycle(store: FeatureStore, facts: LifecycleFacts, groupId?: string): Promise<{ groups: number; seeded: number }> {
  const counts = await facts.stateCounts(groupId)
  const one = groupId === undefined ? '' : ' AND group_id = ?'
  const params = groupId === undefined ? [] : [groupId]
  return store.transaction(async (tx) => {
    const recorded = await tx.query<{ group_id: string; from_state: string; to_state: string; n: number | string }>(
      `SELECT group_id, from_state, to_state, SUM(n) AS n FROM qy_stats_lifecycle_day WHERE from_state <> ?${one} GROUP BY group_id, from_state, to_state`, [SEED_FROM, ...params])
    const diff = new Map<string, Map<LifecycleState, number>>()
    const add = (g: string, state: string, n: number): void => {
      if (!isState(state)) return
      const m = diff.get(g) ?? new Map<LifecycleState, number>()
      diff.set(g, m)
      m.set(state, (m.get(state) ?? 0) + n)
    }
    for (const c of counts) add(c.groupId, c.state, c.members)
    for (const r of recorded) {
      add(r.group_id, r.to_state, -Number(r.n))
      add(r.group_id, r.from_state, Number(r.n))
    }
    const rows: Row[] = []
    for (const [g, m] of diff) for (const [state, n] of m) if (n !== 0) rows.push([g, SEED_DAY, SEED_FROM, state, n])
    await tx.query(`DELETE FROM qy_stats_lifecycle_day WHERE day = ? AND from_state = ?${one}`, [SEED_DAY, SEED_FROM, ...params])
    await tx.insertIgnore('qy_stats_lifecycle_day', ['group_id', 'day', 'from_state', 'to_state', 'n'], rows)
    return { groups: new Set(rows.map((r) => r[0])).size, seeded: rows.reduce((a, r) => a + (r[4] as number), 0) }
  })
}
