/**
 * One contract suite for the coordination ports, run against the in-process implementation (always) and the
 * Redis one (when QUNYUN_REDIS_URL is set, e.g. redis://127.0.0.1:6379/0).
 *
 * Each run gets two bundles: `real` on the system clock, for behaviour that rests on TTLs (Redis expires keys on
 * its own time, so those tests use short real TTLs and real waits), and `fake` on a FakeClock, for the token
 * bucket's refill and Lease.expiresAt, which both implementations take from the clock they are given.
 */
import { createMemoryPorts } from '../src/ports/memory'
import { createRedisPorts, deleteRedisKeysWithPrefix } from '../src/adapters/redis/redis-ports'
import { type Clock, FakeClock, systemClock } from '../src/ports/clock'
import type { CoordinationPorts, Lease } from '../src/ports/ports'

type PortsFactory = (clock: Clock) => Promise<CoordinationPorts>

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `predicate` holds, failing after `timeoutMs`. */
async function waitFor(predicate: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/** Registers the contract suite for one implementation. */
function contract(name: string, factory: PortsFactory, cleanup?: () => Promise<void>): void {
  describe(`coordination ports contract: ${name}`, () => {
    let real: CoordinationPorts
    let fake: CoordinationPorts
    let clock: FakeClock
    let seq = 0
    /** A key no other test (or earlier run against the same Redis) uses. */
    const unique = (label: string): string => `${label}:${Date.now()}:${++seq}`

    beforeAll(async () => {
      clock = new FakeClock()
      real = await factory(systemClock)
      fake = await factory(clock)
    })

    afterAll(async () => {
      await real?.close()
      await fake?.close()
      await cleanup?.()
    })

    it('reports its kind and answers ping', async () => {
      expect(real.kind).toBe(name)
      await expect(real.ping()).resolves.toBe(true)
    })

    describe('key space (erasure, residue scan)', () => {
      it('finds keys by a whole-token needle in names and values, and deletes them (optionally only with a group, or as a dry run)', async () => {
        const member = unique('zoe')
        await fake.counters.incr(`mod:fl:g1@chatroom:${member}`, 60_000)
        await fake.counters.incr(`ar:m:1:g2@chatroom:${member}`, 60_000)
        await fake.counters.incr(`mod:fl:g1@chatroom:${member}0`, 60_000)
        await fake.values.set(unique('note'), `about ${member} here`, clock.now() + 60_000)
        const hits = await fake.keys.search([member])
        expect(hits.filter((h) => h.in === 'name').map((h) => h.key).sort()).toEqual([`counter:ar:m:1:g2@chatroom:${member}`, `counter:mod:fl:g1@chatroom:${member}`])
        expect(hits.filter((h) => h.in === 'value')).toHaveLength(1)
        expect(await fake.keys.deleteKeys(member, { dryRun: true })).toBe(2)
        expect(await fake.keys.deleteKeys(member, { alsoOneOf: ['g1@chatroom'] })).toBe(1)
        expect(await fake.counters.get(`mod:fl:g1@chatroom:${member}`)).toBe(0)
        expect(await fake.counters.get(`ar:m:1:g2@chatroom:${member}`)).toBe(1)
        expect(await fake.counters.get(`mod:fl:g1@chatroom:${member}0`)).toBe(1)
        expect(await fake.keys.deleteKeys(member)).toBe(1)
        expect((await fake.keys.search([member])).filter((h) => h.in === 'name')).toEqual([])
      })
    })

    describe('dedupe', () => {
      it('is true the first time and false afterwards; ids are independent', async () => {
        const id = unique('msg')
        await expect(real.dedupe.firstSeen(id, 10_000)).resolves.toBe(true)
        await expect(real.dedupe.firstSeen(id, 10_000)).resolves.toBe(false)
        await expect(real.dedupe.firstSeen(id, 10_000)).resolves.toBe(false)
        await expect(real.dedupe.firstSeen(`${id}-other`, 10_000)).resolves.toBe(true)
      })

      it('sees an id again after its TTL', async () => {
        const id = unique('msg')
        await expect(real.dedupe.firstSeen(id, 80)).resolves.toBe(true)
        await expect(real.dedupe.firstSeen(id, 80)).resolves.toBe(false)
        await sleep(160)
        await expect(real.dedupe.firstSeen(id, 80)).resolves.toBe(true)
        await expect(real.dedupe.firstSeen(id, 80)).resolves.toBe(false)
      })

      it('forget lets the id be seen again; forgetting an unknown id is harmless', async () => {
        const id = unique('msg')
        await expect(real.dedupe.firstSeen(id, 10_000)).resolves.toBe(true)
        await real.dedupe.forget(id)
        await expect(real.dedupe.firstSeen(id, 10_000)).resolves.toBe(true)
        await expect(real.dedupe.firstSeen(id, 10_000)).resolves.toBe(false)
        await expect(real.dedupe.forget(unique('never-seen'))).resolves.toBeUndefined()
      })
    })

    describe('shared values', () => {
      it('stores a value until its expiry (the caller\'s clock) and deletes only the value it was asked to', async () => {
        const key = unique('value')
        await expect(fake.values.get(key)).resolves.toBeNull()
        await fake.values.set(key, 'token-1', clock.now() + 1_000)
        await expect(fake.values.get(key)).resolves.toBe('token-1')
        await expect(fake.values.deleteIf(key, 'token-0')).resolves.toBe(false)
        await expect(fake.values.get(key)).resolves.toBe('token-1')
        await clock.advance(1_000)
        await expect(fake.values.get(key)).resolves.toBeNull()
        await fake.values.set(key, 'token-2', clock.now() + 5_000)
        await expect(fake.values.deleteIf(key, 'token-2')).resolves.toBe(true)
        await expect(fake.values.get(key)).resolves.toBeNull()
        await fake.values.set(key, 'token-3', clock.now() - 1)
        await expect(fake.values.get(key)).resolves.toBeNull()
      })
    })

    describe('counters', () => {
      it('increments by 1 by default and reads back', async () => {
        const key = unique('cnt')
        await expect(real.counters.get(key)).resolves.toBe(0)
        await expect(real.counters.incr(key, 10_000)).resolves.toBe(1)
        await expect(real.counters.incr(key, 10_000)).resolves.toBe(2)
        await expect(real.counters.incr(key, 10_000)).resolves.toBe(3)
        await expect(real.counters.get(key)).resolves.toBe(3)
      })

      it('increments by an explicit amount, including negative ones', async () => {
        const key = unique('cnt')
        await expect(real.counters.incr(key, 10_000, 5)).resolves.toBe(5)
        await expect(real.counters.incr(key, 10_000, 7)).resolves.toBe(12)
        await expect(real.counters.incr(key, 10_000, -2)).resolves.toBe(10)
        await expect(real.counters.get(key)).resolves.toBe(10)
        await expect(real.counters.get(`${key}-other`)).resolves.toBe(0)
      })

      it('reset removes the counter', async () => {
        const key = unique('cnt')
        await real.counters.incr(key, 10_000, 4)
        await real.counters.reset(key)
        await expect(real.counters.get(key)).resolves.toBe(0)
        await expect(real.counters.incr(key, 10_000)).resolves.toBe(1)
        await expect(real.counters.reset(unique('never-set'))).resolves.toBeUndefined()
      })

      it('expires ttl after creation; later increments do not re-arm the expiry', async () => {
        const key = unique('cnt')
        await expect(real.counters.incr(key, 200)).resolves.toBe(1) // expires at t≈200
        await sleep(120)
        await expect(real.counters.incr(key, 200)).resolves.toBe(2) // re-arming would move it to t≈320
        await expect(real.counters.get(key)).resolves.toBe(2)
        await sleep(130) // t≈250: past the first expiry, before a re-armed one
        await expect(real.counters.get(key)).resolves.toBe(0)
        await expect(real.counters.incr(key, 200)).resolves.toBe(1) // a new window
      })

      it('cooldown arms every key when none is live, refuses while any is live, and frees after the TTLs (clock time)', async () => {
        const group = unique('cd-g')
        const member = unique('cd-m')
        await expect(fake.counters.cooldown([{ key: group, ttlMs: 60_000 }, { key: member, ttlMs: 10_000 }])).resolves.toBe(true)
        await expect(fake.counters.get(group)).resolves.toBe(1)
        await expect(fake.counters.get(member)).resolves.toBe(1)
        await expect(fake.counters.cooldown([{ key: group, ttlMs: 60_000 }, { key: member, ttlMs: 10_000 }])).resolves.toBe(false)
        // Another member of the same group: the group key is still live, so refused, and nothing is armed.
        const other = unique('cd-m2')
        await expect(fake.counters.cooldown([{ key: group, ttlMs: 60_000 }, { key: other, ttlMs: 10_000 }])).resolves.toBe(false)
        await expect(fake.counters.get(other)).resolves.toBe(0)
        await clock.advance(10_001)
        await expect(fake.counters.cooldown([{ key: member, ttlMs: 10_000 }])).resolves.toBe(true)
        await expect(fake.counters.cooldown([{ key: group, ttlMs: 60_000 }])).resolves.toBe(false)
        await clock.advance(50_000)
        await expect(fake.counters.cooldown([{ key: group, ttlMs: 60_000 }])).resolves.toBe(true)
        // A key reset to 0 (or never set) is not live.
        const zero = unique('cd-z')
        await fake.counters.incr(zero, 60_000, 0)
        await expect(fake.counters.cooldown([{ key: zero, ttlMs: 1_000 }])).resolves.toBe(true)
        await expect(fake.counters.cooldown([])).resolves.toBe(true)
      })

      it('cooldown has exactly one winner among 50 concurrent callers on two connections (two replicas)', async () => {
        // In-process counters are one process by definition; Redis gets a second connection, as another replica has.
        const second = name === 'redis' ? await factory(clock) : fake
        try {
          const key = unique('cd-race')
          const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
            (i % 2 === 0 ? fake : second).counters.cooldown([{ key: `${key}:g`, ttlMs: 60_000 }, { key: `${key}:m${i % 5}`, ttlMs: 60_000 }])))
          expect(results.filter(Boolean)).toHaveLength(1)
        } finally {
          if (second !== fake) await second.close()
        }
      })
    })

    describe('rate limiter', () => {
      it('grants up to capacity, then refuses with retryAfterMs > 0 and no tokens taken', async () => {
        const key = unique('rl')
        const spec = { capacity: 3, refillPerSec: 1 }
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 })
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 })
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 })
        const refused = await fake.rateLimiter.take(key, spec)
        expect(refused).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 })
        expect(refused.retryAfterMs).toBeGreaterThan(0)
      })

      it('refills over time, never above capacity', async () => {
        const key = unique('rl')
        const spec = { capacity: 2, refillPerSec: 2 }
        await fake.rateLimiter.take(key, spec)
        await fake.rateLimiter.take(key, spec)
        await expect(fake.rateLimiter.take(key, spec)).resolves.toMatchObject({ allowed: false, retryAfterMs: 500 })
        await clock.advance(250)
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: false, remaining: 0, retryAfterMs: 250 })
        await clock.advance(250)
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 })
        await clock.advance(60_000) // far more than needed: capped at capacity
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 })
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 })
        await expect(fake.rateLimiter.take(key, spec)).resolves.toMatchObject({ allowed: false })
      })

      it('handles fractional refill rates', async () => {
        const key = unique('rl')
        const spec = { capacity: 1, refillPerSec: 0.25 } // one token every 4 s
        await expect(fake.rateLimiter.take(key, spec)).resolves.toMatchObject({ allowed: true, remaining: 0 })
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: false, remaining: 0, retryAfterMs: 4000 })
        await clock.advance(3000)
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 })
        await clock.advance(1000)
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 })
      })

      it('takes cost > 1 tokens at once, and a refused take consumes nothing', async () => {
        const key = unique('rl')
        const spec = { capacity: 10, refillPerSec: 2 }
        await expect(fake.rateLimiter.take(key, spec, 4)).resolves.toEqual({ allowed: true, remaining: 6, retryAfterMs: 0 })
        await expect(fake.rateLimiter.take(key, spec, 4)).resolves.toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 })
        await expect(fake.rateLimiter.take(key, spec, 4)).resolves.toEqual({ allowed: false, remaining: 2, retryAfterMs: 1000 })
        await expect(fake.rateLimiter.take(key, spec, 2)).resolves.toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 })
      })

      it('never refills when refillPerSec is 0', async () => {
        const key = unique('rl')
        const spec = { capacity: 1, refillPerSec: 0 }
        await expect(fake.rateLimiter.take(key, spec)).resolves.toMatchObject({ allowed: true })
        await clock.advance(3_600_000)
        await expect(fake.rateLimiter.take(key, spec)).resolves.toEqual({ allowed: false, remaining: 0, retryAfterMs: Number.MAX_SAFE_INTEGER })
      })

      it('keeps separate keys independent', async () => {
        const a = unique('rl-a')
        const b = unique('rl-b')
        const spec = { capacity: 2, refillPerSec: 1 }
        await fake.rateLimiter.take(a, spec)
        await fake.rateLimiter.take(a, spec)
        await expect(fake.rateLimiter.take(a, spec)).resolves.toMatchObject({ allowed: false })
        await expect(fake.rateLimiter.take(b, spec)).resolves.toEqual({ allowed: true, remaining: 1, retryAfterMs: 0 })
        await expect(fake.rateLimiter.take(a, spec)).resolves.toMatchObject({ allowed: false })
      })

      it('grants exactly capacity under 50 concurrent takes', async () => {
        const key = unique('rl')
        const spec = { capacity: 10, refillPerSec: 1 }
        const decisions = await Promise.all(Array.from({ length: 50 }, () => fake.rateLimiter.take(key, spec)))
        const granted = decisions.filter((d) => d.allowed)
        expect(granted).toHaveLength(10)
        expect(granted.map((d) => d.remaining).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        for (const refused of decisions.filter((d) => !d.allowed)) {
          expect(refused.remaining).toBe(0)
          expect(refused.retryAfterMs).toBeGreaterThan(0)
        }
      })
    })

    describe('roster (replica weights)', () => {
      it('lists live members with weight and cap, sorted; an announcement runs out on the clock; leave removes at once', async () => {
        const name = unique('roster')
        await fake.roster.announce(name, 'r2', 1, 10_000)
        await fake.roster.announce(name, 'r1', 2.5, 20_000, 3)
        await expect(fake.roster.members(name)).resolves.toEqual([{ id: 'r1', weight: 2.5, cap: 3 }, { id: 'r2', weight: 1, cap: null }])
        await expect(fake.roster.members(unique('roster'))).resolves.toEqual([])
        // r2 stops announcing: gone after its TTL; r1 re-announces with another weight.
        await clock.advance(10_000)
        await fake.roster.announce(name, 'r1', 1, 20_000)
        await expect(fake.roster.members(name)).resolves.toEqual([{ id: 'r1', weight: 1, cap: null }])
        await fake.roster.announce(name, 'r3', 1, 20_000)
        await fake.roster.leave(name, 'r1')
        await expect(fake.roster.members(name)).resolves.toEqual([{ id: 'r3', weight: 1, cap: null }])
      })
    })

    describe('leases', () => {
      it('is exclusive: one holder per key, not re-entrant; keys are independent', async () => {
        const key = unique('lease')
        const lease = await fake.leases.acquire(key, 'replica-a', 10_000)
        expect(lease).not.toBeNull()
        expect(lease?.key).toBe(key)
        expect(lease?.token.startsWith('replica-a:')).toBe(true)
        expect(lease?.expiresAt).toBe(clock.now() + 10_000)
        await expect(fake.leases.acquire(key, 'replica-b', 10_000)).resolves.toBeNull()
        await expect(fake.leases.acquire(key, 'replica-a', 10_000)).resolves.toBeNull()
        await expect(fake.leases.acquire(`${key}-other`, 'replica-b', 10_000)).resolves.not.toBeNull()
        const again = await fake.leases.acquire(unique('lease'), 'replica-a', 10_000)
        expect(again?.token).not.toBe(lease?.token)
      })

      it('expiry lets another owner acquire; the old holder can then neither renew nor release', async () => {
        const key = unique('lease')
        const a = await real.leases.acquire(key, 'replica-a', 100)
        expect(a).not.toBeNull()
        await expect(real.leases.acquire(key, 'replica-b', 100)).resolves.toBeNull()
        await sleep(180)
        const b = await real.leases.acquire(key, 'replica-b', 10_000)
        expect(b).not.toBeNull()
        await expect(real.leases.renew(a as Lease, 10_000)).resolves.toBe(false)
        await real.leases.release(a as Lease) // no-op: b holds the key
        await expect(real.leases.acquire(key, 'replica-c', 10_000)).resolves.toBeNull()
      })

      it('the holder can renew, which keeps the lease past its first expiry, and release it', async () => {
        const key = unique('lease')
        const lease = (await real.leases.acquire(key, 'replica-a', 150)) as Lease
        expect(lease).not.toBeNull()
        const firstExpiry = lease.expiresAt
        await sleep(80)
        await expect(real.leases.renew(lease, 400)).resolves.toBe(true)
        expect(lease.expiresAt).toBeGreaterThan(firstExpiry)
        await sleep(150) // past the original 150 ms
        await expect(real.leases.acquire(key, 'replica-b', 10_000)).resolves.toBeNull()
        await real.leases.release(lease)
        await expect(real.leases.acquire(key, 'replica-b', 10_000)).resolves.not.toBeNull()
      })

      it('renew sets expiresAt from the clock', async () => {
        const lease = (await fake.leases.acquire(unique('lease'), 'replica-a', 10_000)) as Lease
        await clock.advance(1_000)
        await expect(fake.leases.renew(lease, 20_000)).resolves.toBe(true)
        expect(lease.expiresAt).toBe(clock.now() + 20_000)
      })

      it('a stale token can neither renew nor release', async () => {
        const key = unique('lease')
        const lease = (await real.leases.acquire(key, 'replica-a', 10_000)) as Lease
        const stale: Lease = { ...lease, token: 'replica-a:stale' }
        await expect(real.leases.renew(stale, 10_000)).resolves.toBe(false)
        await real.leases.release(stale)
        await expect(real.leases.acquire(key, 'replica-b', 10_000)).resolves.toBeNull()
        await expect(real.leases.renew(lease, 10_000)).resolves.toBe(true)
        await real.leases.release(lease)
        await real.leases.release(lease) // releasing twice is harmless
        const next = await real.leases.acquire(key, 'replica-b', 10_000)
        expect(next).not.toBeNull()
        await expect(real.leases.renew(lease, 10_000)).resolves.toBe(false) // released token stays dead
      })
    })

    describe('pubsub', () => {
      it('delivers to every subscriber of the channel and not to other channels', async () => {
        const channel = unique('ch')
        const other = unique('ch-other')
        const first: string[] = []
        const second: string[] = []
        const elsewhere: string[] = []
        await real.pubsub.subscribe(channel, (m) => first.push(m))
        await real.pubsub.subscribe(channel, (m) => second.push(m))
        await real.pubsub.subscribe(other, (m) => elsewhere.push(m))
        await real.pubsub.publish(channel, 'hello')
        await real.pubsub.publish(channel, 'world')
        await waitFor(() => first.length === 2 && second.length === 2, 'both subscribers')
        expect(first).toEqual(['hello', 'world'])
        expect(second).toEqual(['hello', 'world'])
        // Delivery is ordered, so once a later message on `other` arrived, nothing from `channel` went there.
        await real.pubsub.publish(other, 'marker')
        await waitFor(() => elsewhere.length === 1, 'marker')
        expect(elsewhere).toEqual(['marker'])
        expect(first).toEqual(['hello', 'world'])
      })

      it('a disposer stops delivery to its handler only; re-subscribing after the last one left works', async () => {
        const channel = unique('ch')
        const marker = unique('ch-marker')
        const a: string[] = []
        const b: string[] = []
        const markers: string[] = []
        const disposeA = await real.pubsub.subscribe(channel, (m) => a.push(m))
        const disposeB = await real.pubsub.subscribe(channel, (m) => b.push(m))
        await real.pubsub.subscribe(marker, (m) => markers.push(m))

        await disposeA()
        await real.pubsub.publish(channel, 'one')
        await waitFor(() => b.length === 1, 'b to get "one"')
        await real.pubsub.publish(marker, 'm1')
        await waitFor(() => markers.length === 1, 'm1')
        expect(a).toEqual([])
        expect(b).toEqual(['one'])

        await disposeB() // the last handler: the channel is unsubscribed
        await disposeB() // disposing twice is harmless
        await real.pubsub.publish(channel, 'two')
        await real.pubsub.publish(marker, 'm2')
        await waitFor(() => markers.length === 2, 'm2')
        expect(a).toEqual([])
        expect(b).toEqual(['one'])

        const c: string[] = []
        await real.pubsub.subscribe(channel, (m) => c.push(m))
        await real.pubsub.publish(channel, 'three')
        await waitFor(() => c.length === 1, 'c to get "three"')
        expect(c).toEqual(['three'])
        expect(b).toEqual(['one'])
      })

      it('publishing to a channel without subscribers is harmless', async () => {
        await expect(real.pubsub.publish(unique('nobody'), 'x')).resolves.toBeUndefined()
      })
    })
  })
}

contract('memory', async (clock) => createMemoryPorts(clock))

const redisUrl = process.env.QUNYUN_REDIS_URL
if (redisUrl) {
  const keyPrefix = `qunyun-test:${process.pid}:${Date.now()}:`
  contract('redis', (clock) => createRedisPorts({ url: redisUrl, keyPrefix, clock }), async () => {
    await deleteRedisKeysWithPrefix({ url: redisUrl, keyPrefix })
  })

  describe('redis ports specifics', () => {
    const base = `qunyun-test:${process.pid}:${Date.now()}:specific:`
    afterAll(async () => { await deleteRedisKeysWithPrefix({ url: redisUrl, keyPrefix: base }) })

    it('isolates key prefixes (keys and channels) and cleans up by prefix', async () => {
      const one = await createRedisPorts({ url: redisUrl, keyPrefix: `${base}one:` })
      const two = await createRedisPorts({ url: redisUrl, keyPrefix: `${base}two:` })
      try {
        await expect(one.dedupe.firstSeen('same-id', 60_000)).resolves.toBe(true)
        await expect(two.dedupe.firstSeen('same-id', 60_000)).resolves.toBe(true)
        await expect(one.dedupe.firstSeen('same-id', 60_000)).resolves.toBe(false)

        const heardByTwo: string[] = []
        await two.pubsub.subscribe('shared', (m) => heardByTwo.push(m))
        await one.pubsub.publish('shared', 'from-one')
        await two.pubsub.publish('shared', 'from-two')
        await waitFor(() => heardByTwo.length >= 1, 'two to hear its own message')
        expect(heardByTwo).toEqual(['from-two'])

        // The mark, and the epoch key every connection sets (when this Redis's data began).
        await expect(deleteRedisKeysWithPrefix({ url: redisUrl, keyPrefix: `${base}one:` })).resolves.toBe(2)
        await expect(one.dedupe.firstSeen('same-id', 60_000)).resolves.toBe(true)
        await expect(two.dedupe.firstSeen('same-id', 60_000)).resolves.toBe(false)
      } finally {
        await one.close()
        await two.close()
      }
    })

    it('ping turns false after close, and close is idempotent', async () => {
      const ports = await createRedisPorts({ url: redisUrl, keyPrefix: base })
      await ports.pubsub.subscribe('x', () => undefined)
      await expect(ports.ping()).resolves.toBe(true)
      await ports.close()
      await ports.close()
      await expect(ports.ping()).resolves.toBe(false)
    })

    it('fails fast with a clear error, without the password, when Redis is unreachable', async () => {
      const started = Date.now()
      const error = await createRedisPorts({ url: 'redis://someone:s3cret-pw@127.0.0.1:1/0' }).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      expect(error).toBeInstanceOf(Error)
      expect(error?.message).toContain('127.0.0.1:1')
      expect(error?.message).not.toContain('s3cret-pw')
      expect(Date.now() - started).toBeLessThan(8_000)
    }, 15_000)
  })
} else {
  console.log('redis contract suite skipped: QUNYUN_REDIS_URL not set')
  describe.skip('coordination ports contract: redis (QUNYUN_REDIS_URL not set)', () => {
    it('runs only against a live Redis', () => undefined)
  })
}
