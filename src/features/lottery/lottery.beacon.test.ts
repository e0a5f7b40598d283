import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chat } from '../../../test/support/chat'
import { apiAs } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE, tempDir, testConfig } from '../../../test/support/env'
import { drandHttpBeacon } from '../../adapters/beacon/drand-http'
import { publishedAt, roundAfter } from '../../ports/beacon'
import { draw, verifyProof, type LotteryProof } from './lottery.draw'
import { verifyProofText } from './lottery.verify'

afterAll(cleanup, 180_000)

const MINUTE = 60_000
const G1 = 'g1@chatroom'
const START = Date.parse('2026-11-23T09:00:00+08:00')
const CHAIN_HASH = 'ab'.repeat(32)
const iso = (ms: number): string => new Date(ms).toISOString()

/** What the fake beacon serves for a round: a signature, and randomness = SHA-256(signature) as drand defines it. */
function roundBody(round: number, variant = ''): { round: number; randomness: string; signature: string } {
  const signature = Buffer.concat([0, 1, 2].map((i) => createHash('sha256').update(`sig|${round}|${i}|${variant}`).digest())).toString('hex')
  return { round, randomness: createHash('sha256').update(Buffer.from(signature, 'hex')).digest('hex'), signature }
}

/** A drand-compatible HTTP beacon on 127.0.0.1 (no real network): serves, answers 404, or never answers. */
class FakeBeacon {
  readonly requests: string[] = []
  mode: 'serve' | 'hang' | 'not-found-once' = 'serve'
  private notFoundServed = false
  private readonly server: Server
  constructor() {
    this.server = createServer((req, res) => {
      this.requests.push(req.url ?? '')
      const m = /^\/([0-9a-f]{64})\/public\/(\d+)$/.exec(req.url ?? '')
      if (this.mode === 'hang') return // never answers: the client's timeout must cut it off
      if (this.mode === 'not-found-once' && !this.notFoundServed) { this.notFoundServed = true; res.writeHead(404).end('not yet'); return }
      if (!m || m[1] !== CHAIN_HASH) { res.writeHead(404).end(); return }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(roundBody(Number(m[2]))))
    })
  }
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }
  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/** The beacon's chain: round 1 an hour before START, a round every 30 s (or every `period` s). */
const chainOf = (url: string, period = 30) => ({ url, chainHash: CHAIN_HASH, genesisTime: (START - 60 * MINUTE) / 1000, periodSeconds: period })

describe('the drand HTTP adapter (fake beacon on 127.0.0.1)', () => {
  let beacon: FakeBeacon
  afterEach(async () => { await beacon.close() })

  it('fetches <url>/<chainHash>/public/<round>, retries a round not out yet, and is bounded when nobody answers', async () => {
    beacon = new FakeBeacon()
    const url = await beacon.listen()
    const client = drandHttpBeacon({ ...chainOf(url), timeoutMs: 300, retries: 2, retryDelayMs: 10 })
    expect(await client.fetch(7)).toEqual(roundBody(7))
    expect(beacon.requests).toEqual([`/${CHAIN_HASH}/public/7`])
    beacon.mode = 'not-found-once'
    expect((await client.fetch(8)).round).toBe(8)
    expect(beacon.requests.slice(1)).toEqual([`/${CHAIN_HASH}/public/8`, `/${CHAIN_HASH}/public/8`])
    beacon.mode = 'hang'
    await expect(client.fetch(9)).rejects.toThrow(/3 attempt\(s\) failed, last: no answer within 300 ms/)
  })

  it('rejects an answer for another round or with randomness that is not SHA-256(signature)', async () => {
    beacon = new FakeBeacon()
    const url = await beacon.listen()
    const wrong = createServer((req, res) => {
      const round = Number(/(\d+)$/.exec(req.url ?? '')?.[1])
      const body = round === 1 ? roundBody(2) : { ...roundBody(round), randomness: 'cd'.repeat(32) }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    })
    await new Promise<void>((resolve) => wrong.listen(0, '127.0.0.1', resolve))
    try {
      const client = drandHttpBeacon({ ...chainOf(`http://127.0.0.1:${(wrong.address() as AddressInfo).port}`), timeoutMs: 300, retries: 0 })
      await expect(client.fetch(1)).rejects.toThrow(/asked for round 1, got 2/)
      await expect(client.fetch(3)).rejects.toThrow(/not SHA-256\(signature\)/)
    } finally {
      await new Promise<void>((resolve) => wrong.close(() => resolve()))
    }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('fixes the first round published after an instant', () => {
    const chain = chainOf('http://x')
    const close = START + 60 * MINUTE + 12_000
    const r = roundAfter(chain, close)
    expect(publishedAt(chain, r)).toBeGreaterThan(close)
    expect(publishedAt(chain, r - 1)).toBeLessThanOrEqual(close)
  })
})

describe(`draws with public randomness through real wechaty (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let beacon: FakeBeacon
  afterEach(async () => { await chat?.close(); await beacon?.close() })

  async function lotteryWithBeacon(timeoutMs = 2_000, mode: FakeBeacon['mode'] = 'serve'): Promise<{ id: number; proof: () => Promise<LotteryProof>; closing: string; drawn: string; round: number; reroll: (memberId: string) => Promise<void> }> {
    beacon = new FakeBeacon()
    const url = await beacon.listen()
    beacon.mode = mode
    // A round every 5 minutes: the round fixed at the close (START + 60 min) is published at START + 65 min.
    const config = await testConfig({ lottery: { beacon: { ...chainOf(url, 300), timeoutMs, retries: 1 } } })
    chat = await Chat.start({
      start: START, http: true, config,
      groups: [{ id: 'g1', name: '抽奖群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }, { id: 'dave', name: 'Dave' }] }],
      rules: { g1: { lottery: { batch: { windowMs: 0 } } } },
    })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const g1 = chat.group('g1')
    const id = (await owner.post('/api/v1/lotteries', {
      title: '读书抽奖', groupIds: [G1], prizes: [{ name: '新书', quantity: 2 }],
      times: { closesAt: iso(START + 60 * MINUTE), drawAt: iso(START + 60 * MINUTE) },
    }).expect(201)).body.id as number
    await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
    await chat.rehearsal.quiesce()
    g1.expectReply(/抽奖开始/)
    for (const m of [{ id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }, { id: 'dave', name: 'Dave' }]) {
      await g1.say(m, '参与抽奖')
      g1.expectReply(/已参与/, m)
    }
    const tick = async (): Promise<void> => {
      expect(await chat.runtime.scheduler.runFenced('lottery.tick', new Date(chat.clock.now()))).toBe('ran')
      await chat.rehearsal.quiesce()
    }
    await chat.rehearsal.advanceTo(START + 60 * MINUTE)
    await tick()
    const closing = g1.expectReply(/报名截止/).text ?? ''
    const round = roundAfter(chainOf(url, 300), START + 60 * MINUTE)
    expect(publishedAt(chainOf(url, 300), round)).toBe(START + 65 * MINUTE)
    expect(closing).toContain(`drand 第 ${round} 轮（${url}/${CHAIN_HASH}/public/${round}）`)
    // The draw is due, but its round is not out yet: the draw waits for the next tick after it.
    await chat.rehearsal.advanceTo(START + 61 * MINUTE)
    await tick()
    g1.expectNoReply()
    expect((await owner.get(`/api/v1/lotteries/${id}`).expect(200)).body.status).toBe('closed')
    expect(beacon.requests).toEqual([])
    await chat.rehearsal.advanceTo(START + 65 * MINUTE)
    await tick()
    const drawn = g1.expectReply(/开奖啦/).text ?? ''
    const reroll = async (memberId: string): Promise<void> => {
      await owner.post(`/api/v1/lotteries/${id}/reroll`, { memberIds: [memberId] }).expect(200)
      await chat.rehearsal.quiesce()
      chat.skip()
    }
    return { reroll, id, proof: async () => (await owner.get(`/api/v1/lotteries/${id}/proof`).expect(200)).body as LotteryProof, closing, drawn, round }
  }

  it('mixes the round fixed at close into the draw; the proof verifies and breaks when the randomness changes', async () => {
    const { id, proof: get, drawn, round, reroll } = await lotteryWithBeacon()
    // A reroll is the next round of the same generator, with the same beacon value mixed in.
    const first = await get()
    // Proofs name members by pseudonym; the reroll takes the member id of the first winner.
    const firstWinner = ['bob', 'carol', 'dave'].find((m) => chat.runtime.erasure.pseudonym(m) === first.rounds[0]?.winners[0])
    await reroll(firstWinner as string)
    const proof = await get()
    expect(proof.rounds).toHaveLength(2)
    expect(proof.beacon).toMatchObject({ used: true, ...roundBody(round), chainHash: CHAIN_HASH, closedAt: START + 60 * MINUTE, periodSeconds: 300 })
    expect(proof.algorithm).toMatch(/^qunyun-lottery-v2/)
    expect(drawn).toContain(`已混入 drand 第 ${round} 轮`)
    expect(verifyProof(proof)).toEqual([])
    const cli = verifyProofText(JSON.stringify(proof))
    expect(cli.ok).toBe(true)
    expect(cli.lines.join('\n')).toContain(`/${CHAIN_HASH}/public/${round}`)
    // Exactly one fetch of exactly that round; further ticks draw nothing and fetch nothing.
    expect(beacon.requests).toEqual([`/${CHAIN_HASH}/public/${round}`])
    await chat.rehearsal.advance(MINUTE)
    expect(await chat.runtime.scheduler.runFenced('lottery.tick', new Date(chat.clock.now()))).toBe('ran')
    await chat.rehearsal.quiesce()
    chat.group('g1').expectNoReply()
    expect(beacon.requests).toHaveLength(1)
    const rows: Array<{ n: number | string }> = await chat.runtime.db.query(`SELECT COUNT(*) AS n FROM qy_lottery_draw WHERE lottery_id = ${id} AND round = 0`)
    expect(Number(rows[0]?.n)).toBe(1)

    // The draw depends on the beacon value: over 50 eligible, another value gives other winners.
    const fifty = Array.from({ length: 50 }, (_, i) => `m${i}`)
    const seedHex = proof.seed as string
    expect(draw({ seedHex, lotteryId: id, round: 0, eligible: fifty, count: 5, beaconHex: roundBody(round, 'a').randomness }).winners)
      .not.toEqual(draw({ seedHex, lotteryId: id, round: 0, eligible: fifty, count: 5, beaconHex: roundBody(round, 'b').randomness }).winners)
    // Tamper: another (self-consistent) beacon value — here 2 of 3 win, so take the first forged value that
    // picks other winners (5 of 6 do) — the proof no longer recomputes.
    const forged = Array.from({ length: 20 }, (_, i) => roundBody(round, `forged-${i}`))
      .find((b) => draw({ seedHex, lotteryId: id, round: 0, eligible: proof.rounds[0]?.eligible ?? [], count: 2, beaconHex: b.randomness }).winners.join() !== proof.rounds[0]?.winners.join())
    const other = { ...proof, beacon: { ...proof.beacon, ...forged } } as LotteryProof
    expect(verifyProof(other).join('\n')).toMatch(/round 0: winners recompute/)
    // Randomness that is not SHA-256(signature), a later round, or the beacon dropped: all caught.
    expect(verifyProof({ ...proof, beacon: { ...proof.beacon, signature: roundBody(round, 'x').signature } } as LotteryProof).join('\n')).toMatch(/not SHA-256\(signature\)/)
    expect(verifyProof({ ...proof, beacon: { ...proof.beacon, ...roundBody(round + 5), round: round + 5 } } as LotteryProof).join('\n')).toMatch(/not the first round published after the close/)
    expect(verifyProof({ ...proof, beacon: { used: false, note: 'none' } }).length).toBeGreaterThan(0)

    // The README's stand-alone verifier agrees, and catches the forged beacon value.
    const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8')
    const block = /<!-- lottery-verifier:start -->\s*```js\n([\s\S]*?)```\s*<!-- lottery-verifier:end -->/.exec(readme)?.[1] as string
    const dir = tempDir()
    writeFileSync(join(dir, 'v.js'), block)
    const run = (p: unknown): { status: number | null; out: string; err: string } => {
      writeFileSync(join(dir, 'p.json'), JSON.stringify(p))
      const r = spawnSync(process.execPath, [join(dir, 'v.js'), join(dir, 'p.json')], { encoding: 'utf8' })
      return { status: r.status, out: r.stdout, err: r.stderr }
    }
    const ok = run(proof)
    expect(ok).toMatchObject({ status: 0, out: 'OK\n' })
    expect(ok.err).toContain(`/${CHAIN_HASH}/public/${round}`)
    expect(run(other)).toMatchObject({ status: 1, out: expect.stringMatching(/^MISMATCH\nround 0: the winners should be/) })
  })

  it('draws without the beacon when it does not answer in time, and says so in the proof and the announcement', async () => {
    const { proof: get, drawn, round } = await lotteryWithBeacon(300, 'hang')
    const proof = await get()
    expect(proof.beacon.used).toBe(false)
    expect(proof.beacon).toMatchObject({ round })
    expect(proof.beacon.note).toMatch(/unreachable .*no answer within 300 ms.*drawn WITHOUT public randomness/)
    expect(proof.algorithm).toMatch(/^qunyun-lottery-v1/)
    expect(drawn).toContain(`drand 第 ${round} 轮未能获取，本次未混入`)
    expect(proof.rounds[0]?.winners).toHaveLength(2)
    expect(verifyProof(proof)).toEqual([])
    expect(verifyProofText(JSON.stringify(proof)).lines.join('\n')).toMatch(/beacon: not used — the beacon was unreachable/)
    // Two attempts (retries: 1), both cut off; the draw is done and stays done.
    expect(beacon.requests).toEqual([`/${CHAIN_HASH}/public/${round}`, `/${CHAIN_HASH}/public/${round}`])
  })

})
