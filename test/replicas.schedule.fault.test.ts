/**
 * Fault scenario 5: replicas restarted — kill -9 and graceful — around and during a scheduled tick. Three
 * runtimes as separate processes on one MySQL database and one Redis (test/fault/harness.ts); a scheduled
 * share fires at one minute (M) in every group, with its posts staggered over a few seconds. Around M the
 * replica that is about to run the tick, the one that claimed it, and the bots' holders are killed or
 * stopped and restarted. Each fire time's effect must happen exactly once: one share per group, counted
 * on the WeCom side (what each account sent) and in the send rows. Needs QUNYUN_DB_URL=mysql://… and
 * QUNYUN_REDIS_URL=redis://… (skipped otherwise). The figures go to stdout as a `FAULT {json}` line.
 */
import { roomId } from '../src/adapters/wechaty/sim-world'
import { SHARE_TICK_JOB } from '../src/features/scheduled-share'
import { FaultHarness, fixture } from './fault/harness'

const DB = process.env.QUNYUN_DB_URL
const REDIS = process.env.QUNYUN_REDIS_URL
/** Short leases and claims so takeovers fit in a test (a tick's stale claim is taken over after claimTtlMs). */
const LEASE = { leaseTtlMs: 4_000, renewEveryMs: 1_000, claimTtlMs: 6_000 }
const MINUTE = 60_000
const STAGGER_S = 10
const MARK = '今日分享·故障场景五'

const suite = DB && REDIS ? describe : describe.skip
if (!DB || !REDIS) console.log('fault scenario 5 skipped: set QUNYUN_DB_URL=mysql://… and QUNYUN_REDIS_URL=redis://…')

jest.setTimeout(300_000)

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const sleepUntil = async (at: number): Promise<void> => { if (at > Date.now()) await sleep(at - Date.now()) }

suite('replicas restarted during a scheduled tick', () => {
  it('scenario 5 — kill -9 and graceful restarts around the share tick: each group gets its share exactly once', async () => {
    const started = Date.now()
    const bots = fixture(3)
    const groups = Object.values(bots).flat().map((g) => roomId(g.id))
    const h = new FaultHarness({ bots, dbUrl: DB as string, redisUrl: REDIS as string, replicaConfig: { replicas: LEASE } })
    try {
      await h.setup()
      await Promise.all(['r1', 'r2', 'r3'].map((n) => h.spawn(n)))
      await h.allHeld(60_000)
      // The fire minute: the next boundary at least 5 s away (the schedule is in place before it).
      const fireAt = Math.ceil((Date.now() + 5_000) / MINUTE) * MINUTE
      const at = new Date(fireAt)
      const now = Date.now()
      await h.query(`INSERT INTO qy_share_post (owner_token_id, title, text, image_url, image_id, card, tags, expires_on, created_at, updated_at) VALUES (NULL, 'fault', '${MARK}', NULL, NULL, NULL, '[]', NULL, ${now}, ${now})`)
      const [post] = await h.query<{ id: number }>('SELECT id FROM qy_share_post ORDER BY id DESC LIMIT 1')
      const trigger = JSON.stringify({ type: 'cron', cron: `${at.getUTCMinutes()} ${at.getUTCHours()} * * *` })
      await h.query(`INSERT INTO qy_share_schedule (owner_token_id, name, enabled, trigger_def, timezone, target, content, no_repeat_days, stagger_seconds, grace_minutes, cursor_at, version, created_at, updated_at)
        VALUES (NULL, 'fault 5', 1, '${trigger}', 'UTC', '{"type":"all"}', '${JSON.stringify({ type: 'post', postId: Number(post?.id) })}', 0, ${STAGGER_S}, 5, ${Math.floor(now / MINUTE) * MINUTE}, 1, ${now}, ${now})`)

      const restarts: Array<{ at: number; replica: string; how: 'kill -9' | 'graceful'; why: string }> = []
      let next = 0
      const restart = async (name: string, how: 'kill -9' | 'graceful', why: string): Promise<void> => {
        restarts.push({ at: Date.now() - fireAt, replica: name, how, why })
        if (how === 'kill -9') h.kill(name)
        else await h.stop(name)
        await h.spawn(`n${++next}`)
      }
      const live = (): string[] => [...new Set(h.replicas.filter((r) => r.alive).map((r) => r.name))]
      const respawns: Array<Promise<void>> = []

      // 1 s before M: kill -9 one replica (its timer never fires); it comes back during the tick.
      await sleepUntil(fireAt - 1_000)
      respawns.push(restart(live()[0] as string, 'kill -9', 'before the tick'))
      // At M: kill -9 whoever claimed the tick, as soon as its claim is visible (mid-run, or just after).
      let claimStatus = 'none'
      for (const deadline = fireAt + 5_000; Date.now() < deadline;) {
        const [row] = await h.query<{ owner: string; status: string }>(`SELECT owner, status FROM qy_job_run WHERE job = '${SHARE_TICK_JOB}' AND fire_time = ${fireAt}`)
        if (row) {
          claimStatus = row.status
          const owner = row.owner.split(':')[0] as string
          if (live().includes(owner)) respawns.push(restart(owner, 'kill -9', `claimed the tick (${row.status})`))
          break
        }
        await sleep(20)
      }
      // During the stagger: the holders of the bots sending the posts — one stopped gracefully, one killed.
      await sleepUntil(fireAt + 3_000)
      const b1 = h.holder.get('b1')
      if (b1) respawns.push(restart(b1, 'graceful', 'holds b1 mid-stagger'))
      await sleepUntil(fireAt + 6_000)
      const b2 = h.holder.get('b2')
      if (b2 && live().includes(b2)) respawns.push(restart(b2, 'kill -9', 'holds b2 mid-stagger'))
      await Promise.all(respawns)
      await h.allHeld(60_000)

      // Every group's send row finished (sent), or the bound passed: the next minute's tick (catch-up) included.
      const deadline = fireAt + 90_000
      let rows: Array<{ group_id: string; status: string; n: number }> = []
      for (;;) {
        rows = await h.query('SELECT group_id, status, COUNT(*) AS n FROM qy_share_send GROUP BY group_id, status')
        const sent = rows.filter((r) => r.status === 'sent').length
        if (sent === groups.length || Date.now() > deadline) break
        await sleep(500)
      }
      await h.quiet(2_000)

      const shares = new Map<string, number>()
      for (const { action } of h.actions) {
        if (action.kind !== 'say' || !action.groupId) continue
        if (String((action as { text?: string }).text ?? '').includes(MARK)) shares.set(action.groupId, (shares.get(action.groupId) ?? 0) + 1)
      }
      let sent = 0; let duplicates = 0; let lost = 0
      for (const g of groups) {
        const n = shares.get(g) ?? 0
        sent += n
        if (n === 0) lost++
        if (n > 1) duplicates += n - 1
      }
      const fences = await h.query<{ fire_time: string; status: string; owner: string }>(`SELECT fire_time, status, owner FROM qy_job_run WHERE job = '${SHARE_TICK_JOB}' AND fire_time >= ${fireAt - MINUTE} ORDER BY fire_time`)
      // Only shares go out in this scenario (no member speaks): every outbound row is one.
      const retried = await h.query<{ n: number }>('SELECT COUNT(*) AS n FROM qy_outbound WHERE attempts > 1')
      const outbound = await h.query<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM qy_outbound GROUP BY status')
      const figures = {
        scenario: 5, sent, expected: groups.length, duplicates, lost,
        sendRows: rows.map((r) => ({ group: r.group_id, status: r.status, n: Number(r.n) })),
        restarts, claimStatusAtKill: claimStatus, fences: fences.map((f) => ({ at: Number(f.fire_time) - fireAt, status: f.status, owner: f.owner.split(':')[0] })),
        outbound: Object.fromEntries(outbound.map((o) => [o.status, Number(o.n)])), outboundPerformedMoreThanOnce: Number(retried[0]?.n ?? 0), runtimeMs: Date.now() - started,
      }
      process.stdout.write(`FAULT ${JSON.stringify(figures)}\n`)
      expect(restarts.length).toBeGreaterThanOrEqual(3)
      expect({ sent, duplicates, lost }).toEqual({ sent: groups.length, duplicates: 0, lost: 0 })
      // One send row per group for the fire time, sent.
      expect(rows.map((r) => [r.group_id, r.status, Number(r.n)]).sort()).toEqual(groups.map((g) => [g, 'sent', 1]).sort())
    } finally {
      await h.teardown()
    }
  })
})
