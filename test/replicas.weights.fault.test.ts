/**
 * Fault harness, weighted replicas: two runtimes as separate processes on one MySQL database and one
 * Redis, with `replicas.weight` 2 and 1 and six bots. The bots are placed by weight (4 and 2), the
 * placement holds through a check-in stream (each message delivered 1–4 times), and every check-in gets
 * its row, its activity count and its answer exactly once. Needs QUNYUN_DB_URL and QUNYUN_REDIS_URL
 * (skipped without them); prints a `FAULT {json}` line with the figures.
 */
import { checkInStream, countCheckIns, FaultHarness, prng, waitForReplies, type FaultGroup } from './fault/harness'

const DB = process.env.QUNYUN_DB_URL
const REDIS = process.env.QUNYUN_REDIS_URL
const LEASE = { leaseTtlMs: 4_000, renewEveryMs: 1_000, claimTtlMs: 6_000 }
const suite = DB && REDIS ? describe : describe.skip
if (!DB || !REDIS) console.log('weighted fault test skipped: set QUNYUN_DB_URL=mysql://… and QUNYUN_REDIS_URL=redis://…')

jest.setTimeout(300_000)

/** Six bots, one group of `members` each. */
function sixBots(members: number): Record<string, FaultGroup[]> {
  const out: Record<string, FaultGroup[]> = {}
  for (let b = 1; b <= 6; b++) {
    const id = `w${b}`
    out[`b${b}`] = [{ id, name: `群 ${id}`, members: Array.from({ length: members }, (_, i) => ({ id: `${id}-m${i}`, name: `成员${i}` })) }]
  }
  return out
}

/** Bots per replica as the harness last heard (ready / released). */
function placement(h: FaultHarness): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const holder of h.holder.values()) if (holder) counts[holder] = (counts[holder] ?? 0) + 1
  // Keys in a fixed order, so the placement compares (and prints) the same whichever replica reported first.
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)))
}

suite('weighted replicas on MySQL + Redis', () => {
  it('places bots by weight (2 : 1 → 4 and 2 of 6) and keeps 0 duplicates, 0 losses over a redelivered stream', async () => {
    const bots = sixBots(10)
    const h = new FaultHarness({ bots, dbUrl: DB as string, redisUrl: REDIS as string, replicaConfig: { replicas: LEASE } })
    try {
      await h.setup()
      await Promise.all([h.spawn('heavy', { replicas: { weight: 2 } }), h.spawn('light', { replicas: { weight: 1 } })])
      await h.allHeld(60_000)
      // Whoever started first took more than its share; it hands bots back one per renewal.
      const deadline = Date.now() + 60_000
      while (JSON.stringify(placement(h)) !== JSON.stringify({ heavy: 4, light: 2 }) || [...h.holder.values()].some((x) => !x)) {
        if (Date.now() > deadline) throw new Error(`not placed by weight: ${JSON.stringify(placement(h))}`)
        await new Promise((r) => setTimeout(r, 200))
      }
      const placed = new Map(h.holder)
      const streamStart = Date.now()
      const random = prng(7)
      const script = checkInStream(bots, random)
      await h.deliver(script, 8_000, random)
      await h.quiet(3_000)
      await new Promise((r) => setTimeout(r, 1_000))
      const rows = new Set((await h.query<{ k: string }>("SELECT CONCAT(group_id, '|', member_id) AS k FROM qy_checkin")).map((r) => r.k))
      await waitForReplies(h, rows, 60_000)
      await h.quiet(3_000)
      const c = await countCheckIns(h, script)
      const performers: Record<string, string[]> = {}
      for (const a of h.actions) if (a.at >= streamStart) performers[a.bot] = [...new Set([...(performers[a.bot] ?? []), a.replica])]
      process.stdout.write(`FAULT ${JSON.stringify({ scenario: 'weights', weights: { heavy: 2, light: 1 }, placement: placement(h), copies: script.reduce((n, m) => n + m.copies, 0), ...c })}\n`)
      // Placed by weight, and nothing moved during the stream: each bot performed only on its holder.
      expect(placement(h)).toEqual({ heavy: 4, light: 2 })
      for (const [bot, replica] of placed) expect({ bot, performers: performers[bot] }).toEqual({ bot, performers: [replica] })
      expect(c.rows).toEqual({ sent: script.length, expected: script.length, duplicates: 0, lost: 0 })
      expect(c.replies).toEqual({ sent: script.length, expected: script.length, duplicates: 0, lost: 0 })
      expect(c.activity).toEqual({ sent: script.length, expected: script.length, duplicates: 0, lost: 0 })
    } finally {
      await h.teardown()
    }
  })
})
