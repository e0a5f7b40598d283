import { createMemoryPorts } from '../ports/memory'
import { FakeClock } from '../ports/clock'
import { ErasureService, pseudonymOf, UnknownMemberError, type Needle, type PersonalDataStore, type ResidueFinding } from './erasure'
import { silentLogger } from './logger'
import { replaceMemberInJson, type ErasureCount, type ErasureSubject } from './personal-data'
import { containsToken, replaceToken } from '../text/token'

/** A store that records what the service asks of it (the database walker has its own end-to-end test). */
class RecordingStore implements PersonalDataStore {
  readonly erased: Array<{ subject: ErasureSubject }> = []
  constructor(private readonly members: readonly string[] = ['zoe']) {}
  async names(): Promise<string[]> { return ['周小舟'] }
  async known(memberId: string): Promise<boolean> { return this.members.includes(memberId) }
  async sampleTexts(): Promise<string[]> { return [] }
  async erase(subject: ErasureSubject): Promise<ErasureCount[]> {
    this.erased.push({ subject })
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
    expect(b.store.erased).toEqual([{ subject: { memberId: 'zoe', pseudonym: pseudonymOf(key, 'zoe'), groupIds: ['g1'] } }])
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

  it('refuses an id that is no known member: no table, key or hook is touched (a bot lease survives)', async () => {
    const clock = new FakeClock()
    const ports = createMemoryPorts(clock)
    const store = new RecordingStore(['zoe'])
    const hooks: string[] = []
    const service = new ErasureService({
      store, keys: ports.keys, pubsub: ports.pubsub, key: Buffer.alloc(32, 7), clock, log: silentLogger, origin: 'a',
      hooks: () => [{ name: 'f', erase: async (s) => { hooks.push(s.memberId); return [] } }], flush: async () => undefined,
    })
    expect(await ports.leases.acquire('bot:corp', 'replica-a', 60_000)).not.toBeNull()
    await expect(service.erase('corp')).rejects.toBeInstanceOf(UnknownMemberError)
    await expect(service.erase('corp', { dryRun: true })).rejects.toBeInstanceOf(UnknownMemberError)
    expect(store.erased).toEqual([])
    expect(hooks).toEqual([])
    expect(await ports.keys.search(['corp'])).toHaveLength(1)
    await ports.close()
  })

  it('logs the real pseudonym (the one `qunyun member pseudonym` prints), not a hash of it', async () => {
    const clock = new FakeClock()
    const ports = createMemoryPorts(clock)
    const lines: Array<{ message: string; meta: Record<string, unknown> }> = []
    const log = { ...silentLogger, info: (message: string, meta?: Record<string, unknown>) => { lines.push({ message, meta: meta ?? {} }) } }
    const key = Buffer.alloc(32, 7)
    const service = new ErasureService({ store: new RecordingStore(['zoe']), keys: ports.keys, pubsub: ports.pubsub, key, clock, log, origin: 'a', hooks: () => [], flush: async () => undefined })
    await service.erase('zoe')
    const line = lines.find((l) => l.message === 'member erased')
    expect(line?.meta).toMatchObject({ pseudonym: pseudonymOf(key, 'zoe') })
    expect(Object.keys(line?.meta ?? {})).not.toContain('member')
    await ports.close()
  })

  it('counts log lines streamed line by line', async () => {
    const clock = new FakeClock()
    const ports = createMemoryPorts(clock)
    const service = new ErasureService({ store: new RecordingStore(), keys: ports.keys, pubsub: ports.pubsub, key: Buffer.alloc(32, 7), clock, log: silentLogger, origin: 'a', hooks: () => [], flush: async () => undefined })
    async function* lines(): AsyncIterable<string> { yield 'a zoe_1 b'; yield 'zoe_10'; yield '{"member":"zoe_1"}' }
    const found = await service.residue([{ kind: 'member id', value: 'zoe_1' }], ['f.log', 'missing.log'], async (file) => (file === 'f.log' ? lines() : null))
    expect(found).toEqual([{ place: 'log:f.log', kind: 'member id', count: 2 }])
    await ports.close()
  })

  it('replaces the member in JSON by exact value only (numbers and other text untouched, valid JSON)', () => {
    const rules = { newcomer: { hours: 24 }, exempt: ['zoe_1', 'bob'], text: '读书班 24 元 zoe_1', zoe_1: 3 }
    const r = replaceMemberInJson(rules, 'zoe_1', 'P')
    expect(r.value).toEqual({ newcomer: { hours: 24 }, exempt: ['P', 'bob'], text: '读书班 24 元 zoe_1', P: 3 })
    expect(r.hits).toBe(2)
    // A member whose id is "24": the number 24 is no mention.
    expect(replaceMemberInJson(rules, '24', 'P')).toEqual({ value: rules, hits: 0 })
    // The object naming the member loses its name fields; other objects keep theirs.
    expect(replaceMemberInJson([{ id: 'zoe_1', name: '0' }, { id: 'bob', name: '0' }], 'zoe_1', 'P').value).toEqual([{ id: 'P', name: 'P' }, { id: 'bob', name: '0' }])
    // With keys (an outbound action): only those fields count.
    const say = { kind: 'say', text: 'zoe_1', mentions: ['zoe_1'] }
    expect(replaceMemberInJson(say, 'zoe_1', 'P', new Set(['mentions', 'memberId'])).value).toEqual({ kind: 'say', text: 'zoe_1', mentions: ['P'] })
    expect(replaceMemberInJson({ kind: 'say', text: 'zoe_1' }, 'zoe_1', 'P', new Set(['mentions', 'memberId'])).hits).toBe(0)
  })
})

describe('JSON references', () => {
  it('replaces the id as a whole segment of a reference, never inside text with spaces or another id', () => {
    expect(replaceMemberInJson({ target: 'member:zoe_1', path: '/api/v1/members/zoe_1/tags', other: 'member:zoe_10', text: '读书班 zoe_1 好' }, 'zoe_1', 'P').value)
      .toEqual({ target: 'member:P', path: '/api/v1/members/P/tags', other: 'member:zoe_10', text: '读书班 zoe_1 好' })
  })
})
