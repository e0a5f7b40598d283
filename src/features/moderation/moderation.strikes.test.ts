import type { FeatureTables } from '../../adapters/db/feature-store'
import { MemoryPubSub } from '../../ports/memory'
import type { Violation } from './moderation.detect'
import { StrikeBook } from './moderation.enforce'

const DAY = 86_400_000
const NOW = Date.parse('2026-11-23T10:00:00+08:00')
const ad: Violation = { detector: 'words', matched: '加微信', action: 'ladder', shadow: false }

/** The tables a strike book touches outside load(): resets are upserted (recorded here). */
function tables(): FeatureTables & { transaction<T>(work: (tx: FeatureTables) => Promise<T>): Promise<T>; resets: unknown[] } {
  const resets: unknown[] = []
  const db = {
    resets,
    repo: () => ({ upsert: async (row: unknown) => { resets.push(row) }, insert: async () => undefined }),
    transaction: async <T>(work: (tx: FeatureTables) => Promise<T>): Promise<T> => work(db as unknown as FeatureTables),
  }
  return db as unknown as FeatureTables & { transaction<T>(work: (tx: FeatureTables) => Promise<T>): Promise<T>; resets: unknown[] }
}

/** Lets pub/sub deliveries (setImmediate) run. */
const delivered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('strike book shared between replicas over pub/sub', () => {
  it("counts the strikes another replica gave and honours a reset made on another replica, never its own message twice", async () => {
    const pubsub = new MemoryPubSub()
    const a = new StrikeBook(tables())
    const b = new StrikeBook(tables())
    const disposers = [await a.share(pubsub, () => undefined), await b.share(pubsub, () => undefined)]

    a.record({ groupId: 'g1', memberId: 'mallory', messageId: 'm1', violations: [ad], decision: { step: 'warn', strike: 1, primary: ad }, at: NOW })
    a.record({ groupId: 'g1', memberId: 'mallory', messageId: 'm2', violations: [ad], decision: { step: 'final_warning', strike: 2, primary: ad }, at: NOW + 60_000 })
    await delivered()
    // The replica that takes the bot over sees both strikes; the one that gave them did not count them twice.
    expect(b.strikes('g1', 'mallory', 30, NOW + 120_000)).toBe(2)
    expect(a.strikes('g1', 'mallory', 30, NOW + 120_000)).toBe(2)

    // An owner forgives mallory through the admin API served by replica b; the bot runs on replica a.
    await b.reset('g1', 'mallory', NOW + 180_000)
    await delivered()
    expect(a.strikes('g1', 'mallory', 30, NOW + 240_000)).toBe(0)
    expect(b.strikes('g1', 'mallory', 30, NOW + 240_000)).toBe(0)

    // Shadow and exempt violations are no strikes, on either replica.
    a.record({ groupId: 'g1', memberId: 'mallory', messageId: 'm3', violations: [{ ...ad, shadow: true }], decision: { step: 'none', strike: null, primary: null }, at: NOW + DAY })
    await delivered()
    expect(b.strikes('g1', 'mallory', 30, NOW + DAY)).toBe(0)

    for (const dispose of disposers) await dispose()
    // After unsubscribing, nothing more arrives.
    a.record({ groupId: 'g1', memberId: 'mallory', messageId: 'm4', violations: [ad], decision: { step: 'warn', strike: 1, primary: ad }, at: NOW + DAY })
    await delivered()
    expect(b.strikes('g1', 'mallory', 30, NOW + DAY)).toBe(0)
  })
})
