import { createMemoryPorts } from '../ports/memory'
import { FakeClock } from '../ports/clock'
import { ErasureService, pseudonymOf, type Needle, type PersonalDataStore, type ResidueFinding } from './erasure'
import { silentLogger } from './logger'
import type { ErasureCount, ErasureSubject } from './personal-data'
import { containsToken, replaceToken } from '../text/token'

/** A store that records what the service asks of it (the database walker has its own end-to-end test). */
class RecordingStore implements PersonalDataStore {
  readonly erased: Array<{ subject: ErasureSubject; names: readonly string[] }> = []
  async names(): Promise<string[]> { return ['周小舟'] }
  async sampleTexts(): Promise<string[]> { return [] }
  async erase(subject: ErasureSubject, names: readonly string[]): Promise<ErasureCount[]> {
    this.erased.push({ subject, names })
    return [{ place: 'table:t', removed: subject.dryRun ? 0 : 1, pseudonymised: 0 }]
  }
  async scan(_n: readonly Needle[]): Promise<ResidueFinding[]> { return [] }
}

describe('erasure service', () => {
  it('tells the other replicas: they run their hooks, flush their buffers and erase the tables again', async () => {
    const clock = new FakeClock()
    const ports = createMemoryPorts(clock)
    const key = Buffer.alloc(32, 7)
    const replica = (origin: string) => {
      const store = new RecordingStore()
      const calls: string[] = []
      const service = new ErasureService({
        store, keys: ports.keys, pubsub: ports.pubsub, key, clock, log: silentLogger, origin,
        hooks: () => [{ name: 'f', erase: async (s) => { calls.push(`hook ${s.memberId} ${s.groupIds?.join(',') ?? 'all'}`); return [] } }],
        flush: async () => { calls.push('flush') },
      })
      return { store, calls, service }
    }
    const a = replica('a')
    const b = replica('b')
    await a.service.start()
    await b.service.start()
    await ports.counters.incr('mod:fl:g1:zoe', 60_000)
    const receipt = await a.service.erase('zoe', { groupIds: ['g1'] })
    expect(receipt).toMatchObject({ pseudonym: pseudonymOf(key, 'zoe'), scope: { groups: 1 }, removed: 2 })
    expect(a.calls).toEqual(['flush', 'hook zoe g1'])
    await new Promise((r) => setTimeout(r, 20))
    expect(b.calls).toEqual(['hook zoe g1', 'flush'])
    expect(b.store.erased).toEqual([{ subject: { memberId: 'zoe', pseudonym: pseudonymOf(key, 'zoe'), groupIds: ['g1'] }, names: ['周小舟'] }])
    // A preview tells nobody and flushes nothing.
    await a.service.erase('zoe', { dryRun: true })
    await new Promise((r) => setTimeout(r, 20))
    expect(b.store.erased).toHaveLength(1)
    await a.service.stop()
    await b.service.stop()
    await ports.close()
  })

  it('matches ids as whole tokens (m1 is not inside m10) and CJK names anywhere', () => {
    expect(containsToken('mod:fl:g1:m10', 'm1')).toBe(false)
    expect(containsToken('mod:fl:g1:m1', 'm1')).toBe(true)
    expect(containsToken('"m1",', 'm1')).toBe(true)
    expect(containsToken('@周小舟签到成功', '周小舟')).toBe(true)
    expect(replaceToken('m1 m10 m1', 'm1', 'P')).toBe('P m10 P')
  })
})
