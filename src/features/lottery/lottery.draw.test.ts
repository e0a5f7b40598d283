import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanup, tempDir } from '../../../test/support/env'
import { lotteryCommand } from './lottery.verify'
import fc from 'fast-check'
import { seededRandom } from '../../ports/random'
import { canonicalOrder, commitmentOf, draw, DRAW_ALGORITHM, HmacStream, listHash, verifyProof, type LotteryProof } from './lottery.draw'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'))
const memberIds = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 0, maxLength: 60 })

/** Deterministic seeds for the statistical tests (no flakiness: the same seeds every run). */
const seedOf = (i: number): string => createHash('sha256').update(`seed-${i}`).digest('hex')

/** Pearson's chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0)
  const expected = total / counts.length
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0)
}

/** Critical value of chi-square with 9 degrees of freedom at p = 0.001. */
const CHI2_DF9_P001 = 27.877

describe('the verifiable draw', () => {
  it('draws distinct winners, a subset of the eligible, independent of their order, the same for the same inputs', () => {
    fc.assert(fc.property(hex32, memberIds, fc.integer({ min: 0, max: 80 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 5 }), (seedHex, eligible, count, lotteryId, round) => {
      const a = draw({ seedHex, lotteryId, round, eligible, count })
      const shuffled = [...eligible].reverse()
      const b = draw({ seedHex, lotteryId, round, eligible: shuffled, count })
      expect(b).toEqual(a)
      expect(new Set(a.winners).size).toBe(a.winners.length)
      expect(a.winners.length).toBe(Math.min(count, eligible.length))
      for (const w of a.winners) expect(eligible).toContain(w)
      expect(a.eligibleHash).toBe(listHash(eligible))
    }), { numRuns: 300 })
  })

  it('depends on the seed, the lottery id and the round (different inputs, different outcomes)', () => {
    const eligible = Array.from({ length: 50 }, (_, i) => `m${i}`)
    const base = draw({ seedHex: seedOf(1), lotteryId: 1, round: 0, eligible, count: 5 }).winners
    expect(draw({ seedHex: seedOf(2), lotteryId: 1, round: 0, eligible, count: 5 }).winners).not.toEqual(base)
    expect(draw({ seedHex: seedOf(1), lotteryId: 2, round: 0, eligible, count: 5 }).winners).not.toEqual(base)
    expect(draw({ seedHex: seedOf(1), lotteryId: 1, round: 1, eligible, count: 5 }).winners).not.toEqual(base)
  })

  it('samples below(n) without modulo bias (rejection above the largest multiple of n)', () => {
    // n = 3·2^30: 2^32 mod n = 2^30, so a plain `word % n` would make 0 … 2^30−1 twice as likely.
    const n = 3 * 2 ** 30
    const stream = new HmacStream(Buffer.from(seedOf(7), 'hex'))
    let low = 0
    const draws = 20_000
    for (let i = 0; i < draws; i++) if (stream.below(n) < 2 ** 30) low++
    // Unbiased: 1/3 of the draws fall below 2^30; biased modulo would give 1/2.
    expect(Math.abs(low / draws - 1 / 3)).toBeLessThan(0.02)
    expect(() => stream.below(0)).toThrow()
  })

  it('gives every entrant the same chance (chi-square over many seeds), which a sort-based shuffle fails', () => {
    const eligible = Array.from({ length: 10 }, (_, i) => `member-${i}`)
    const trials = 20_000
    const ours = new Array<number>(10).fill(0)
    for (let t = 0; t < trials; t++) {
      const [winner] = draw({ seedHex: seedOf(t), lotteryId: 42, round: 0, eligible, count: 1 }).winners
      ours[eligible.indexOf(winner as string)]! += 1
    }
    const fair = chiSquare(ours)
    expect(fair).toBeLessThan(CHI2_DF9_P001)

    // The classic biased shuffle: sort with a random comparator (seeded here, so the test is deterministic).
    const random = seededRandom(2026)
    const biased = new Array<number>(10).fill(0)
    for (let t = 0; t < trials; t++) {
      const winner = [...eligible].sort(() => random.next() - 0.5)[0] as string
      biased[eligible.indexOf(winner)]! += 1
    }
    const unfair = chiSquare(biased)
    expect(unfair).toBeGreaterThan(CHI2_DF9_P001)
    console.log(`chi-square (df 9, critical ${CHI2_DF9_P001} at p=0.001): HMAC Fisher–Yates ${fair.toFixed(2)}, sort(random − 0.5) ${unfair.toFixed(2)}`)
  })
})

describe('proof verification', () => {
  /** A proof as the runtime produces it: 12 entrants, two excluded, 3 winners, then a reroll of one. */
  function sampleProof(): LotteryProof {
    const seed = seedOf(99)
    const entrants = canonicalOrder(Array.from({ length: 12 }, (_, i) => `wxid_${String.fromCharCode(97 + i)}${i}`))
    const excluded = [{ memberId: entrants[3] as string, reason: 'not in the group' }, { memberId: entrants[7] as string, reason: 'group staff' }]
    const eligible = entrants.filter((id) => !excluded.some((e) => e.memberId === id))
    const first = draw({ seedHex: seed, lotteryId: 5, round: 0, eligible, count: 3 })
    const second = draw({ seedHex: seed, lotteryId: 5, round: 1, eligible: eligible.filter((id) => !first.winners.includes(id)), count: 1 })
    return {
      algorithm: DRAW_ALGORITHM, lotteryId: 5, title: 't', status: 'drawn', commitment: commitmentOf(seed), seed, entrants, entrantsHash: listHash(entrants),
      beacon: { used: false, note: 'none' },
      rounds: [
        { round: 0, eligible, eligibleHash: first.eligibleHash, excluded, count: 3, winners: first.winners },
        { round: 1, eligible: canonicalOrder(eligible.filter((id) => !first.winners.includes(id))), eligibleHash: second.eligibleHash, excluded, count: 1, winners: second.winners },
      ],
    }
  }

  it('accepts an untouched proof', () => {
    expect(verifyProof(sampleProof())).toEqual([])
  })

  it('fails when one entrant, the seed, the list, a winner or a reroll is changed', () => {
    const tamper = (change: (p: LotteryProof) => void): string[] => {
      const p = structuredClone(sampleProof())
      change(p)
      return verifyProof(p)
    }
    // One entrant swapped for another (list and hash no longer agree).
    expect(tamper((p) => { p.entrants[0] = 'wxid_zzz' }).join('\n')).toMatch(/entrantsHash/)
    // An entrant swapped in the eligible list too (and the published hash recomputed to hide it).
    expect(tamper((p) => {
      p.entrants[0] = 'wxid_intruder'; p.entrants = canonicalOrder(p.entrants); p.entrantsHash = listHash(p.entrants)
      const r = p.rounds[0]!; r.eligible = canonicalOrder(r.eligible.map((id, i) => (i === 0 ? 'wxid_intruder' : id)))
    }).length).toBeGreaterThan(0)
    // Another seed.
    expect(tamper((p) => { p.seed = seedOf(100) }).join('\n')).toMatch(/commitment/)
    // Another seed with a matching commitment (made after the fact): the winners no longer recompute.
    expect(tamper((p) => { p.seed = seedOf(100); p.commitment = commitmentOf(seedOf(100)) }).join('\n')).toMatch(/round 0: winners recompute/)
    // A winner replaced.
    expect(tamper((p) => { p.rounds[0]!.winners[0] = p.rounds[0]!.eligible.find((id) => !p.rounds[0]!.winners.includes(id)) as string }).join('\n')).toMatch(/round 0: winners/)
    // An entrant silently dropped from the eligible list.
    expect(tamper((p) => { p.rounds[0]!.eligible.pop() }).join('\n')).toMatch(/neither eligible nor excluded|eligible list hashes/)
    // A reroll that lets an earlier winner win again.
    expect(tamper((p) => { p.rounds[1]!.eligible = canonicalOrder([...p.rounds[1]!.eligible, p.rounds[0]!.winners[0] as string]) }).join('\n')).toMatch(/earlier winners eligible again/)
    // The list out of canonical order.
    expect(tamper((p) => { p.entrants.reverse() }).join('\n')).toMatch(/canonical/)
  })

  it('says so when the seed is not revealed yet', () => {
    expect(verifyProof({ ...sampleProof(), seed: null })).toEqual(['the seed is not revealed yet (the lottery has not been drawn)'])
  })

  it('`qunyun lottery verify` says OK, or exactly what does not match', () => {
    const dir = tempDir()
    const run = (proof: unknown): { code: number; out: string; err: string } => {
      const file = join(dir, `proof-${Math.random().toString(36).slice(2)}.json`)
      writeFileSync(file, typeof proof === 'string' ? proof : JSON.stringify(proof))
      let out = ''
      let err = ''
      const code = lotteryCommand(['verify', file], { stdout: (t) => { out += t }, stderr: (t) => { err += t } })
      return { code, out, err }
    }
    const good = run(sampleProof())
    expect(good.code).toBe(0)
    expect(good.out).toMatch(/^OK: lottery 5/)
    const p = sampleProof()
    p.rounds[0]!.winners.reverse()
    const bad = run(p)
    expect(bad.code).toBe(1)
    expect(bad.err).toMatch(/MISMATCH[\s\S]*round 0: winners recompute to/)
    expect(run('{"lotteryId": "x"}').err).toMatch(/not a lottery proof/)
    expect(run('not json').code).toBe(1)
    expect(lotteryCommand(['verify'], { stdout: () => undefined, stderr: () => undefined })).toBe(2)
  })

  it("the README's stand-alone verifier (node:crypto only) agrees, independently of this module", () => {
    const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8')
    const block = /<!-- lottery-verifier:start -->\s*```js\n([\s\S]*?)```\s*<!-- lottery-verifier:end -->/.exec(readme)?.[1]
    expect(block).toBeDefined()
    const dir = tempDir()
    const script = join(dir, 'verify-lottery.js')
    writeFileSync(script, block as string)
    const verify = (proof: LotteryProof): { status: number | null; out: string } => {
      const file = join(dir, `proof-${Math.random().toString(36).slice(2)}.json`)
      writeFileSync(file, JSON.stringify(proof))
      const r = spawnSync(process.execPath, [script, file], { encoding: 'utf8' })
      return { status: r.status, out: r.stdout }
    }
    expect(verify(sampleProof())).toEqual({ status: 0, out: 'OK\n' })
    const seedChanged = { ...sampleProof(), seed: seedOf(5), commitment: commitmentOf(seedOf(5)) }
    expect(verify(seedChanged).out).toMatch(/^MISMATCH\nround 0: the winners should be/)
    const entrant = sampleProof()
    entrant.entrants[2] = 'wxid_other'
    expect(verify(entrant)).toMatchObject({ status: 1, out: expect.stringContaining('entrant list does not match') })
  })
})
