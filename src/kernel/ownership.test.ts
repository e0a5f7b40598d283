import { BotOwnership, botLeaseKey, weightedShare, type OwnershipSettings } from './ownership'
import type { Logger } from './logger'
import { FakeClock } from '../ports/clock'
import { MemoryLeases, MemoryRoster } from '../ports/memory'
import type { Lease, Leases } from '../ports/ports'

const quiet: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => quiet }
const SETTINGS: OwnershipSettings = { leaseTtlMs: 20_000, renewEveryMs: 5_000, maxBots: null }

/** Where each bot runs; starting a bot that already runs somewhere is the failure this module prevents. */
class World {
  readonly running = new Map<string, string>()
  readonly violations: string[] = []
  readonly starts: Array<[string, string]> = []
  runner(replica: string) {
    return {
      start: async (botId: string) => {
        const other = this.running.get(botId)
        if (other) this.violations.push(`${botId} started on ${replica} while running on ${other}`)
        this.running.set(botId, replica)
        this.starts.push([botId, replica])
      },
      stop: async (botId: string) => { if (this.running.get(botId) === replica) this.running.delete(botId) },
    }
  }
}

function replica(world: World, id: string, leases: Leases, clock: FakeClock, settings: Partial<OwnershipSettings> = {}, bots = ['a', 'b', 'c']): BotOwnership {
  return new BotOwnership({ leases, replicaId: id, bots, runner: world.runner(id), clock, log: quiet, settings: { ...SETTINGS, ...settings } })
}

describe('bot ownership through leases', () => {
  it('starts a bot only on the replica holding its lease; the others start nothing', async () => {
    const clock = new FakeClock()
    const leases = new MemoryLeases(clock)
    const world = new World()
    const r1 = replica(world, 'r1', leases, clock)
    const r2 = replica(world, 'r2', leases, clock)
    await r1.tick()
    await r2.tick()
    expect(r1.bots.sort()).toEqual(['a', 'b', 'c'])
    expect(r2.bots).toEqual([])
    expect([...world.running.values()]).toEqual(['r1', 'r1', 'r1'])
    // Renewal keeps them with r1 for as long as it ticks.
    for (let i = 0; i < 20; i++) {
      await clock.advance(SETTINGS.renewEveryMs)
      await r1.tick()
      await r2.tick()
    }
    expect(r2.bots).toEqual([])
    expect(world.violations).toEqual([])
  })

  it('maxBots caps how many bots a replica runs; the rest go to another replica', async () => {
    const clock = new FakeClock()
    const leases = new MemoryLeases(clock)
    const world = new World()
    const r1 = replica(world, 'r1', leases, clock, { maxBots: 2 })
    const r2 = replica(world, 'r2', leases, clock, { maxBots: 2 })
    await r1.tick()
    await r2.tick()
    expect(r1.bots).toHaveLength(2)
    expect(r2.bots).toHaveLength(1)
    expect(new Set([...r1.bots, ...r2.bots])).toEqual(new Set(['a', 'b', 'c']))
  })

  it('a killed holder\'s bots are taken over within leaseTtlMs + renewEveryMs; the zombie stops them before anything runs twice', async () => {
    const clock = new FakeClock()
    const leases = new MemoryLeases(clock)
    const world = new World()
    const r1 = replica(world, 'r1', leases, clock)
    const r2 = replica(world, 'r2', leases, clock)
    await r1.tick()
    await r2.tick()
    // r1 renews once more, then is killed (kill -9): it stops ticking and its bots' sessions end with it.
    await clock.advance(SETTINGS.renewEveryMs)
    await r1.tick()
    const diedAt = clock.now()
    for (const [bot, where] of [...world.running]) if (where === 'r1') world.running.delete(bot)
    let takenAt: number | null = null
    while (takenAt === null && clock.now() - diedAt < 60_000) {
      await clock.advance(SETTINGS.renewEveryMs)
      await r2.tick()
      if (r2.bots.length === 3) takenAt = clock.now()
    }
    expect(takenAt).not.toBeNull()
    expect((takenAt as number) - diedAt).toBeLessThanOrEqual(SETTINGS.leaseTtlMs + SETTINGS.renewEveryMs)
    expect([...world.running.values()]).toEqual(['r2', 'r2', 'r2'])
    // Had r1 only been frozen (not killed), it would wake up here: its renewals fail, it gives the bots up and does not start them again.
    await r1.tick()
    expect(r1.bots).toEqual([])
    expect([...world.running.values()]).toEqual(['r2', 'r2', 'r2'])
    expect(world.violations).toEqual([])
  })

  it('a graceful stop releases the leases, so another replica takes the bots at its next tick', async () => {
    const clock = new FakeClock()
    const leases = new MemoryLeases(clock)
    const world = new World()
    const r1 = replica(world, 'r1', leases, clock)
    const r2 = replica(world, 'r2', leases, clock)
    await r1.tick()
    await r1.stop()
    expect(world.running.size).toBe(0)
    await r2.tick()
    expect(r2.bots.sort()).toEqual(['a', 'b', 'c'])
  })

  it('while the coordination service is unreachable the bot stays only as long as its lease surely lasts', async () => {
    const clock = new FakeClock()
    const inner = new MemoryLeases(clock)
    let down = false
    const leases: Leases = {
      acquire: (key, owner, ttl) => (down ? Promise.reject(new Error('ECONNREFUSED')) : inner.acquire(key, owner, ttl)),
      renew: (lease: Lease, ttl) => (down ? Promise.reject(new Error('ECONNREFUSED')) : inner.renew(lease, ttl)),
      release: (lease: Lease) => inner.release(lease),
    }
    const world = new World()
    const r1 = replica(world, 'r1', leases, clock, {}, ['a'])
    await r1.tick()
    expect(r1.holds('a')).toBe(true)
    down = true
    await clock.advance(SETTINGS.renewEveryMs)
    await r1.tick()
    // 15 s of the lease left: keep running.
    expect(r1.holds('a')).toBe(true)
    await clock.advance(SETTINGS.renewEveryMs * 2)
    await r1.tick()
    // 5 s left, and the next tick comes after the lease ended: stop now.
    expect(r1.holds('a')).toBe(false)
    expect(world.running.size).toBe(0)
    // Nobody else could have started it before the lease really expired.
    const other = await inner.acquire(botLeaseKey('a'), 'r2', 1000)
    expect(other).toBeNull()
  })

  it('a bot whose start fails releases its lease at once', async () => {
    const clock = new FakeClock()
    const leases = new MemoryLeases(clock)
    const ownership = new BotOwnership({
      leases, replicaId: 'r1', bots: ['a'], clock, log: quiet, settings: SETTINGS,
      runner: { start: () => Promise.reject(new Error('puppet down')), stop: async () => {} },
    })
    await ownership.tick()
    expect(ownership.holds('a')).toBe(false)
    await expect(leases.acquire(botLeaseKey('a'), 'r2', 1000)).resolves.not.toBeNull()
  })

  describe('weights', () => {
    function weighted(world: World, id: string, leases: Leases, roster: MemoryRoster, clock: FakeClock, weight: number, bots: string[], extra: Partial<OwnershipSettings> = {}): BotOwnership {
      return new BotOwnership({ leases, roster, replicaId: id, bots, runner: world.runner(id), clock, log: quiet, settings: { ...SETTINGS, weight, ...extra } })
    }
    /** Ticks every replica `rounds` times, one renewal period apart. */
    async function rounds(clock: FakeClock, replicas: BotOwnership[], n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        for (const r of replicas) await r.tick()
        await clock.advance(SETTINGS.renewEveryMs)
      }
    }

    it('shares are bots × weight / total weight, rounded up', () => {
      const m = (id: string, weight: number, cap: number | null = null) => ({ id, weight, cap })
      expect(weightedShare(3, 'a', [m('a', 2), m('b', 1)])).toBe(2)
      expect(weightedShare(3, 'b', [m('a', 2), m('b', 1)])).toBe(1)
      expect(weightedShare(6, 'b', [m('a', 1), m('b', 1), m('c', 1)])).toBe(2)
      expect(weightedShare(10, 'a', [m('a', 1), m('b', 1), m('c', 1)])).toBe(4)
      expect(weightedShare(4, 'a', [m('a', 3), m('b', 1)])).toBe(3)
      expect(weightedShare(2, 'a', [m('a', 1)])).toBe(2)
      // A cap (maxBots) below the proportional part: the rest goes to the others by their weights.
      expect(weightedShare(4, 'a', [m('a', 3, 2), m('b', 1)])).toBe(2)
      expect(weightedShare(4, 'b', [m('a', 3, 2), m('b', 1)])).toBe(2)
      expect(weightedShare(9, 'c', [m('a', 5, 1), m('b', 1), m('c', 2)])).toBe(6)
    })

    it('3 bots on replicas of weight 2 and 1: the first takes 2, the second 1 — also when the first starts alone', async () => {
      const clock = new FakeClock()
      const leases = new MemoryLeases(clock)
      const roster = new MemoryRoster(clock)
      const world = new World()
      const r1 = weighted(world, 'r1', leases, roster, clock, 2, ['a', 'b', 'c'])
      // r1 alone: it is the whole roster, so it runs all three.
      await rounds(clock, [r1], 2)
      expect(r1.bots).toHaveLength(3)
      const r2 = weighted(world, 'r2', leases, roster, clock, 1, ['a', 'b', 'c'])
      await rounds(clock, [r1, r2], 4)
      expect(r1.bots).toHaveLength(2)
      expect(r2.bots).toHaveLength(1)
      expect(new Set([...r1.bots, ...r2.bots])).toEqual(new Set(['a', 'b', 'c']))
      // Stable: more rounds change nothing (no bot goes back and forth).
      const starts = world.starts.length
      await rounds(clock, [r1, r2], 10)
      expect(world.starts.length).toBe(starts)
      expect(world.violations).toEqual([])
    })

    it('6 bots on three replicas of weight 1 spread 2 / 2 / 2; a stopped replica\'s bots go to the others', async () => {
      const clock = new FakeClock()
      const leases = new MemoryLeases(clock)
      const roster = new MemoryRoster(clock)
      const world = new World()
      const bots = ['a', 'b', 'c', 'd', 'e', 'f']
      const rs = ['r1', 'r2', 'r3'].map((id) => weighted(world, id, leases, roster, clock, 1, bots))
      await rounds(clock, rs, 8)
      expect(rs.map((r) => r.bots.length)).toEqual([2, 2, 2])
      expect(world.violations).toEqual([])
      // r3 stops gracefully (leaves the roster, releases its leases): the two others take 3 each.
      await (rs[2] as BotOwnership).stop()
      await rounds(clock, rs.slice(0, 2), 3)
      expect(rs.slice(0, 2).map((r) => r.bots.length)).toEqual([3, 3])
      expect(world.running.size).toBe(6)
      expect(world.violations).toEqual([])
    })

    it('maxBots still caps a weighted replica; the others take the rest', async () => {
      const clock = new FakeClock()
      const leases = new MemoryLeases(clock)
      const roster = new MemoryRoster(clock)
      const world = new World()
      const r1 = weighted(world, 'r1', leases, roster, clock, 3, ['a', 'b', 'c', 'd'], { maxBots: 2 })
      const r2 = weighted(world, 'r2', leases, roster, clock, 1, ['a', 'b', 'c', 'd'])
      await rounds(clock, [r1, r2], 6)
      // By weight r1 would run 3 of 4; its cap is 2, so r2 runs the other 2 (no bot left unrun).
      expect(r1.bots).toHaveLength(2)
      expect(r2.bots).toHaveLength(2)
      expect(world.running.size).toBe(4)
      expect(world.violations).toEqual([])
    })
  })

  it('a bot whose lease is lost while its start still runs is not started twice, and is stopped again once that start finished', async () => {
    const clock = new FakeClock()
    const leases = new MemoryLeases(clock)
    let running = 0
    let starts = 0
    let stops = 0
    const finish: Array<() => void> = []
    const ownership = new BotOwnership({
      leases, replicaId: 'r1', bots: ['a'], clock, log: quiet, settings: SETTINGS,
      runner: {
        // A channel whose stop, arriving while it starts, does not hold: the start finishing later leaves it running.
        start: async () => { starts++; await new Promise<void>((resolve) => { finish.push(resolve) }); running++ },
        stop: async () => { stops++; running = 0 },
      },
    })
    await ownership.tick()
    expect([ownership.holds('a'), starts]).toEqual([true, 1])
    // The coordination store forgot the lease (Redis back empty) while the start still runs: the renewal fails.
    leases.held.delete(botLeaseKey('a'))
    await ownership.tick()
    expect(ownership.holds('a')).toBe(false)
    expect(stops).toBe(1)
    // The lease is free, but the bot's first start has not finished: no second start alongside it.
    await ownership.tick()
    expect(starts).toBe(1)
    // The start finishes after the stop: the bot is stopped again, so it does not run without its lease.
    finish.shift()?.()
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(running).toBe(0)
    expect(stops).toBe(2)
    // The next round takes the free lease and starts the bot normally.
    await ownership.tick()
    expect([ownership.holds('a'), starts]).toEqual([true, 2])
    finish.shift()?.()
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(running).toBe(1)
    await ownership.stop()
    expect(running).toBe(0)
  })
})
