import { createHash, randomBytes } from 'node:crypto'
import { canonicalOrder, commitmentOf, draw, DRAW_ALGORITHM, DRAW_ALGORITHM_BEACON, listHash, verifyProof as verifyOnServer, type LotteryProof } from '../src/features/lottery/lottery.draw'
import { ALGORITHM_V1, ALGORITHM_V2, draw as drawInBrowser, verifyProof as verifyInBrowser } from '../web/src/lottery-verify'

/**
 * The dashboard's in-browser verifier (WebCrypto) against the server's draw (node:crypto): the same
 * winners for random entrant lists, seeds, rounds and beacons, and the same verdict on tampered proofs.
 */
const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => [`wxid_${randomBytes(3).toString('hex')}`, `成员${i}`, `Zoë${i}`, `m${i}`][i % 4] as string)

function proofOf(entrants: string[], count: number, beacon: boolean): LotteryProof {
  const seed = randomBytes(32).toString('hex')
  const signature = randomBytes(48).toString('hex')
  const randomness = createHash('sha256').update(Buffer.from(signature, 'hex')).digest('hex')
  const lotteryId = 1 + Math.floor(Math.random() * 1000)
  const first = draw({ seedHex: seed, lotteryId, round: 0, eligible: entrants, count, ...(beacon ? { beaconHex: randomness } : {}) })
  const rest = entrants.filter((id) => !first.winners.includes(id))
  const second = draw({ seedHex: seed, lotteryId, round: 1, eligible: rest, count: 1, ...(beacon ? { beaconHex: randomness } : {}) })
  const closedAt = 1_790_000_000_000
  return {
    algorithm: beacon ? DRAW_ALGORITHM_BEACON : DRAW_ALGORITHM, lotteryId, title: 't', status: 'drawn', commitment: commitmentOf(seed), seed,
    entrants: canonicalOrder(entrants), entrantsHash: listHash(entrants),
    beacon: beacon
      ? { used: true, note: '', url: 'https://api.drand.sh', chainHash: 'x', genesisTime: 1_692_803_367, periodSeconds: 3, closedAt, round: Math.floor((closedAt / 1000 - 1_692_803_367) / 3) + 2, randomness, signature }
      : { used: false, note: 'none' },
    rounds: [
      { round: 0, eligible: canonicalOrder(entrants), eligibleHash: first.eligibleHash, excluded: [], count, winners: first.winners },
      { round: 1, eligible: canonicalOrder(rest), eligibleHash: second.eligibleHash, excluded: [], count: 1, winners: second.winners },
    ],
  }
}

describe('in-browser lottery verifier (WebCrypto) against the server draw', () => {
  it('names the same algorithms as the server', () => {
    expect([ALGORITHM_V1, ALGORITHM_V2]).toEqual([DRAW_ALGORITHM, DRAW_ALGORITHM_BEACON])
  })

  it('recomputes the same winners for random lists, seeds, counts and beacons', async () => {
    for (let i = 0; i < 60; i++) {
      const entrants = ids(1 + Math.floor(Math.random() * 300))
      const seedHex = randomBytes(32).toString('hex')
      const beaconHex = i % 2 === 0 ? randomBytes(32).toString('hex') : undefined
      const input = { seedHex, lotteryId: i + 1, round: i % 3, eligible: entrants, count: 1 + Math.floor(Math.random() * 12), ...(beaconHex ? { beaconHex } : {}) }
      await expect(drawInBrowser(input)).resolves.toEqual(draw(input))
    }
  })

  it('accepts what the server accepts and refuses what it refuses', async () => {
    for (const beacon of [false, true]) {
      const proof = proofOf(ids(40), 3, beacon)
      expect(verifyOnServer(proof)).toEqual([])
      await expect(verifyInBrowser(proof)).resolves.toMatchObject({ ok: true, problems: [] })
      const tampered: LotteryProof[] = [
        { ...proof, rounds: [{ ...proof.rounds[0]!, winners: [...proof.rounds[0]!.winners].reverse() }, proof.rounds[1]!] },
        { ...proof, seed: randomBytes(32).toString('hex') },
        { ...proof, entrants: proof.entrants.slice(1) },
        { ...proof, lotteryId: proof.lotteryId + 1 },
      ]
      for (const bad of tampered) {
        const server = verifyOnServer(bad)
        const browser = await verifyInBrowser(bad)
        expect(server.length).toBeGreaterThan(0)
        expect(browser.ok).toBe(false)
        expect(browser.problems).toEqual(server)
      }
    }
  })

  it('refuses what is not a proof, and a proof not drawn yet', async () => {
    await expect(verifyInBrowser(null)).resolves.toMatchObject({ ok: false })
    await expect(verifyInBrowser({ algorithm: DRAW_ALGORITHM })).resolves.toMatchObject({ ok: false })
    const proof = proofOf(ids(5), 1, false)
    await expect(verifyInBrowser({ ...proof, seed: null })).resolves.toMatchObject({ ok: false, problems: ['the seed is not revealed yet (the lottery has not been drawn)'] })
  })
})
