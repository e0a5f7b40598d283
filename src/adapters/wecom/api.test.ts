import { FakeClock } from '../../ports/clock'
import { createMemoryPorts } from '../../ports/memory'
import type { CoordinationPorts } from '../../ports/ports'
import { createRedisPorts } from '../redis/redis-ports'
import { silentLogger } from '../../kernel/logger'
import type { BotDefinition } from '../../config/config.schema'
import { CallbackSigner, FakeWecom } from '../../../test/support/fake-wecom'
import { CallbackVerifier } from './callback'
import { aesKeyOf } from './crypto'
import { WecomApi, WecomApiError, WecomTransportError } from './api'
import { WecomChannel } from './channel'
import { listGroupChats } from './groupchat'
import { REDIS_URL } from '../../../test/support/env'

const REDIS = REDIS_URL

describe(`WeCom API client and access tokens (${REDIS ? 'redis' : 'memory'} coordination)`, () => {
  let fake: FakeWecom
  let clock: FakeClock
  const opened: CoordinationPorts[] = []
  let prefixSeq = 0

  beforeEach(async () => {
    fake = new FakeWecom()
    await fake.start()
    clock = new FakeClock(Date.UTC(2026, 5, 1))
  })
  afterEach(async () => {
    await fake.stop()
    for (const p of opened.splice(0)) await p.close()
  })

  /** Coordination shared by `replicas` processes (Redis: one connection each, same prefix). */
  async function shared(replicas: number): Promise<CoordinationPorts[]> {
    if (!REDIS) {
      const ports = createMemoryPorts(clock)
      opened.push(ports)
      return Array.from({ length: replicas }, () => ports)
    }
    const keyPrefix = `qytest:wecom:${process.pid}:${Date.now()}:${prefixSeq++}:`
    const all = await Promise.all(Array.from({ length: replicas }, () => createRedisPorts({ url: REDIS, keyPrefix, clock })))
    opened.push(...all)
    return all
  }

  const client = (ports: CoordinationPorts, extra: Partial<ConstructorParameters<typeof WecomApi>[0]> = {}): WecomApi => new WecomApi({
    base: fake.base, corpId: fake.corpId, secret: fake.secret, clock, log: silentLogger, values: ports.values, leases: ports.leases,
    timeoutMs: 2_000, maxRetries: 2, sleep: async () => {}, ...extra,
  })

  it('two replicas share one token refresh', async () => {
    const [a, b] = await shared(2)
    const replicaA = client(a as CoordinationPorts)
    const replicaB = client(b as CoordinationPorts, { sleep: (ms) => new Promise((r) => setTimeout(r, ms)) })
    const tokens = await Promise.all([replicaA.token(), replicaB.token(), replicaA.token(), replicaB.token()])
    expect(fake.tokenFetches).toBe(1)
    expect(new Set(tokens)).toEqual(new Set(['tok-1']))
    expect(replicaA.fetches + replicaB.fetches).toBe(1)
  })

  it('caches the token and refreshes it five minutes before it expires', async () => {
    const [ports] = await shared(1)
    const api = client(ports as CoordinationPorts)
    expect(await api.token()).toBe('tok-1')
    await clock.advance(7200_000 - 300_001)
    expect(await api.token()).toBe('tok-1')
    expect(fake.tokenFetches).toBe(1)
    await clock.advance(2)
    expect(await api.token()).toBe('tok-2')
    expect(fake.tokenFetches).toBe(2)
  })

  it.each([
    ['expired (42001)', (f: FakeWecom) => f.expireTokens()],
    ['invalid (40014)', (f: FakeWecom) => f.revokeTokens()],
  ])('drops a token WeCom calls %s, fetches a new one and repeats the call once', async (_name, spoil) => {
    const [a, b] = await shared(2)
    const api = client(a as CoordinationPorts)
    const other = client(b as CoordinationPorts)
    fake.groups.set('wr1', { chat_id: 'wr1', name: 'x', owner: 'o', member_list: [] })
    await api.token()
    spoil(fake)
    await expect(listGroupChats(api)).resolves.toEqual(['wr1'])
    expect(fake.tokenFetches).toBe(2)
    // The other replica uses the fresh shared token without fetching its own.
    await expect(listGroupChats(other)).resolves.toEqual(['wr1'])
    expect(fake.tokenFetches).toBe(2)
  })

  it('retries "system busy" (-1) and HTTP 5xx, but hands rate limits (45009) and other errors to the caller', async () => {
    const [ports] = await shared(1)
    const api = client(ports as CoordinationPorts)
    fake.failNext('/cgi-bin/externalcontact/groupchat/list', -1, 502)
    await expect(listGroupChats(api)).resolves.toEqual([])
    fake.failNext('/cgi-bin/externalcontact/groupchat/list', 45009)
    const limited = await listGroupChats(api).catch((e: unknown) => e)
    expect(limited).toBeInstanceOf(WecomApiError)
    expect(limited).toMatchObject({ errcode: 45009, transient: true })
    fake.failNext('/cgi-bin/externalcontact/groupchat/list', -1, -1, -1)
    await expect(listGroupChats(api)).rejects.toMatchObject({ errcode: -1 })
    fake.failNext('/cgi-bin/externalcontact/groupchat/list', 60020)
    await expect(listGroupChats(api)).rejects.toMatchObject({ errcode: 60020, transient: false, errorClass: 'config' })
  })

  it('times out a request that takes too long', async () => {
    const [ports] = await shared(1)
    fake.tokenDelayMs = 1_000
    const api = client(ports as CoordinationPorts, { timeoutMs: 100, maxRetries: 0 })
    const error = await api.token().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WecomTransportError)
    expect(String((error as Error).message)).toContain('timed out after 100 ms')
  })

  it('a nonce accepted by one replica is refused as a replay by another', async () => {
    const [a, b] = await shared(2)
    const key = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'
    const verifier = (p: CoordinationPorts): CallbackVerifier => new CallbackVerifier({ botId: 'corp', clock, nonces: p.dedupe, windowSeconds: 300, secrets: { token: 'cb', aesKey: aesKeyOf(key), corpId: fake.corpId } })
    const signed = new CallbackSigner('cb', key, fake.corpId).event('<xml><Event>x</Event></xml>', { timestamp: Math.floor(clock.now() / 1000), nonce: `n${Date.now()}` })
    await expect(verifier(a as CoordinationPorts).verifyEvent(signed.query, signed.body)).resolves.toEqual({ Event: 'x' })
    await expect(verifier(b as CoordinationPorts).verifyEvent(signed.query, signed.body)).rejects.toMatchObject({ reason: 'replay' })
  })

  it('lists customer groups page by page (groupchat/list cursor)', async () => {
    const [ports] = await shared(1)
    for (const id of ['wr1', 'wr2', 'wr3', 'wr4', 'wr5']) fake.groups.set(id, { chat_id: id, name: id, owner: 'o', member_list: [] })
    await expect(listGroupChats(client(ports as CoordinationPorts), 2)).resolves.toEqual(['wr1', 'wr2', 'wr3', 'wr4', 'wr5'])
    expect(fake.callsTo('/cgi-bin/externalcontact/groupchat/list')).toBe(3)
    expect(fake.calls.filter((c) => c.path.endsWith('/groupchat/list')).map((c) => c.body.cursor)).toEqual([undefined, '2', '4'])
  })

  it('sends at most 20 robot messages a minute: the 21st waits for the bucket instead of failing', async () => {
    const [ports] = await shared(1)
    fake.now = () => clock.now()
    const definition = {
      id: 'corp', puppet: 'mock', tokenEnv: 'X', rulePack: 'default.yaml', groups: 'all', channel: 'official', resolvedPuppet: 'mock', token: null, file: '(test)',
      wecom: { corpId: fake.corpId, secretEnv: 'S', callbackTokenEnv: 'T', aesKeyEnv: 'K', apiBase: fake.base, timestampWindowSeconds: 300, reconcileCron: '*/30 * * * *', inboxPollMs: 50, pairGraceMs: 0, reconcileConcurrency: 4, markTagPerSecond: 5, requestTimeoutMs: 2_000, maxRetries: 0, robots: [{ groupId: 'wrG', keyEnv: 'R' }], corpTags: {} },
      wecomSecrets: { secret: fake.secret, callbackToken: 't', encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', robotKeys: { wrG: 'robot-key-9' } },
    } satisfies BotDefinition
    const p = ports as CoordinationPorts
    const channel = new WecomChannel({
      definition, clock, log: silentLogger, coordination: { values: p.values, leases: p.leases, dedupe: p.dedupe, rateLimiter: p.rateLimiter },
      directory: { groupName: async () => null, activeGroupIds: async () => [] }, sleep: async () => {},
    })
    let done = false
    const sending = (async () => {
      for (let i = 0; i < 25; i++) await channel.perform({ kind: 'say', botId: 'corp', groupId: 'wrG', text: `m${i}` })
    })().finally(() => { done = true })
    // Time moves only while the sender sleeps on the bucket (its Redis round trips take real time).
    while (!done) {
      const next = clock.nextTimerAt()
      if (next !== undefined) await clock.advanceTo(next)
      else await new Promise((resolve) => setTimeout(resolve, 1))
    }
    await sending
    expect(fake.robotMessages).toHaveLength(25)
    // Never more than 20 in any 60 s (the fake server would have answered 45009, failing the send).
    const times = fake.robotMessages.map((m) => m.at)
    for (let i = 0; i + 20 < times.length; i++) expect((times[i + 20] as number) - (times[i] as number)).toBeGreaterThanOrEqual(60_000)
    // And no slower than needed: 25 messages 3.1 s apart.
    expect((times[24] as number) - (times[0] as number)).toBeLessThanOrEqual(24 * 3_100 + 100)
  })
})
