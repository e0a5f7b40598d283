/**
 * The shared message-id filter when Redis goes away and comes back empty (a restart without persistence):
 * copies of messages processed before — or during — the outage must still be recognised, from the marks
 * every flush writes to the database. Real Redis behind a proxy the test controls (the Redis of the
 * machine is shared, so it is never stopped). Needs QUNYUN_REDIS_URL; skipped (saying so) without it.
 */
import { createRedisPorts, deleteRedisKeysWithPrefix } from '../src/adapters/redis/redis-ports'
import type { SeenStore } from '../src/ports/ports'
import { FaultProxy } from './fault/proxy'

const REDIS = process.env.QUNYUN_REDIS_URL
const suite = REDIS ? describe : describe.skip
if (!REDIS) console.log('Redis outage tests skipped: set QUNYUN_REDIS_URL=redis://… to run them')

/** The SeenStore port over a Map (the database table's behaviour: insert-ignore, expiry). */
class MapSeenStore implements SeenStore {
  readonly rows = new Map<string, number>()
  async load(now: number): Promise<Array<[string, number]>> { return [...this.rows].filter(([, e]) => e > now) }
  async has(id: string, now: number): Promise<boolean> { return (this.rows.get(id) ?? 0) > now }
  async save(rows: Array<[string, number]>): Promise<void> { for (const [id, e] of rows) if (!this.rows.has(id)) this.rows.set(id, e) }
  async purge(now: number): Promise<void> { for (const [id, e] of this.rows) if (e <= now) this.rows.delete(id) }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

suite('message-id filter across a Redis outage', () => {
  it('recognises copies after Redis came back empty (marks checked in the database), and processes during the outage', async () => {
    const target = new URL(REDIS as string)
    const proxy = new FaultProxy({ host: target.hostname, port: Number(target.port || 6379) })
    await proxy.start()
    const keyPrefix = `qyoutage:${process.pid}:${Date.now().toString(36)}:`
    const ports = await createRedisPorts({ url: proxy.rewrite(REDIS as string), keyPrefix })
    const store = new MapSeenStore()
    const errors: string[] = []
    const seen = ports.seen(3_600_000, store, { inflightMs: 4_000, fallbackMs: 60_000, onError: (b) => errors.push(b) })
    try {
      // Before: processed and flushed (Redis mark extended, database mark written).
      expect(await seen.firstSeen('before')).toBe(true)
      seen.processed('before')
      seen.seal()
      await seen.flush()
      expect(store.rows.has('before')).toBe(true)
      expect(await seen.firstSeen('before')).toBe(false)

      // Redis goes away and loses everything.
      proxy.down()
      await deleteRedisKeysWithPrefix({ url: REDIS as string, keyPrefix })
      // During: a new message is processed (not lost), once; its copy on this process is a duplicate.
      expect(await seen.firstSeen('during')).toBe(true)
      expect(await seen.firstSeen('during')).toBe(false)
      seen.processed('during')
      seen.seal()
      await seen.flush()
      expect(store.rows.has('during')).toBe(true)
      expect(errors).toContain('redis')

      proxy.up()
      // Wait until Redis answers again through the proxy.
      for (let i = 0; i < 50 && !(await ports.ping()); i++) await sleep(100)
      expect(await ports.ping()).toBe(true)
      // Another replica's view: a fresh filter on the same Redis (now empty) and the same database.
      const other = await createRedisPorts({ url: proxy.rewrite(REDIS as string), keyPrefix })
      try {
        const otherSeen = other.seen(3_600_000, store, { inflightMs: 4_000, fallbackMs: 60_000 })
        // Copies of messages from before and during the outage: duplicates on this process (it saw the outage).
        expect(await seen.firstSeen('before')).toBe(false)
        expect(await seen.firstSeen('during')).toBe(false)
        // A replica that started only after the restart has no earlier epoch to compare with: it trusts Redis
        // (the documented limit; in practice the bots' holders saw the outage and hold the bots again).
        expect(await otherSeen.firstSeen('fresh')).toBe(true)
      } finally {
        await other.close()
      }
      // A genuinely new message after the outage is processed.
      expect(await seen.firstSeen('after')).toBe(true)
    } finally {
      await ports.close()
      await proxy.stop()
      await deleteRedisKeysWithPrefix({ url: REDIS as string, keyPrefix }).catch(() => 0)
    }
  })
})
