import { createHash, createHmac } from 'node:crypto'

/**
 * The verifiable draw (commit–reveal). Pure and dependency-free apart from node:crypto, so the README's
 * stand-alone verifier and `qunyun lottery verify` compute exactly this.
 *
 *   commitment   = SHA-256(seed bytes), hex — published when the lottery opens, the seed stays secret
 *   entrantsHash = SHA-256(member ids sorted by UTF-8 bytes, joined with "\n"), hex — published at close
 *   eligibleHash = the same over the eligible entrants (the draw's input)
 *   key          = HMAC-SHA256(seed bytes, "qunyun-lottery-v1|<lotteryId>|<round>|<eligibleHash>")   (no beacon)
 *   key          = HMAC-SHA256(seed bytes ‖ beacon randomness bytes,
 *                              "qunyun-lottery-v2|<lotteryId>|<round>|<eligibleHash>")              (with a beacon)
 *   stream       = HMAC-SHA256(key, "0") ‖ HMAC-SHA256(key, "1") ‖ … read as 32-bit big-endian words
 *   below(n)     = next word x with x < 2^32 − (2^32 mod n) (rejection: no modulo bias), then x mod n
 *   winners      = partial Fisher–Yates over the sorted eligible list: for i < k, swap i with i + below(m − i)
 *
 * Nothing depends on a published value alone: the outcome needs the seed, which is only revealed after
 * the entrant list is frozen and its hash published. With a beacon, the outcome also needs a drand round
 * published only after the close (its number is fixed and announced at close), which the operator
 * cannot know when committing to the seed.
 */
export const DRAW_ALGORITHM = 'qunyun-lottery-v1: HMAC-SHA256 stream, rejection sampling, partial Fisher–Yates'
/** The same with public randomness mixed into the key (v1 proofs keep verifying as before). */
export const DRAW_ALGORITHM_BEACON = 'qunyun-lottery-v2: HMAC-SHA256 stream keyed by seed ‖ drand randomness, rejection sampling, partial Fisher–Yates'

/** SHA-256 of a string or bytes, hex. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

/** Member ids in the canonical order: by their UTF-8 bytes (the same in every language). */
export function canonicalOrder(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')))
}

/** Hash of a member list in canonical order. */
export function listHash(ids: readonly string[]): string {
  return sha256Hex(canonicalOrder(ids).join('\n'))
}

/** The commitment to a seed (hex in, hex out). */
export function commitmentOf(seedHex: string): string {
  return sha256Hex(Buffer.from(seedHex, 'hex'))
}

/** A deterministic stream of uniform integers from an HMAC-SHA256 key. */
export class HmacStream {
  private block = Buffer.alloc(0)
  private offset = 0
  private counter = 0

  constructor(private readonly key: Buffer) {}

  /** The next 32-bit unsigned word. */
  word(): number {
    if (this.offset + 4 > this.block.length) {
      this.block = createHmac('sha256', this.key).update(String(this.counter++)).digest()
      this.offset = 0
    }
    const w = this.block.readUInt32BE(this.offset)
    this.offset += 4
    return w
  }

  /** A uniform integer in [0, n), without modulo bias (rejection sampling). */
  below(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new Error(`below(${n}): n must be an integer in [1, 2^32]`)
    const limit = 2 ** 32 - (2 ** 32 % n)
    for (;;) {
      const x = this.word()
      if (x < limit) return x % n
    }
  }
}

/** What a draw (or reroll) round takes. */
export interface DrawInput {
  seedHex: string
  lotteryId: number
  round: number
  /** Eligible member ids (any order: canonical order is applied here). */
  eligible: readonly string[]
  /** How many winners are wanted. */
  count: number
  /** Beacon randomness (hex) mixed into the key (v2); absent: v1. */
  beaconHex?: string
}

/** The outcome of a round. */
export interface DrawOutcome {
  eligibleHash: string
  /** Winners in draw order (at most the number of eligible members). */
  winners: string[]
}

/** Draws `count` distinct winners from the eligible list, deterministically from the seed. */
export function draw(input: DrawInput): DrawOutcome {
  const pool = canonicalOrder(input.eligible)
  const eligibleHash = sha256Hex(pool.join('\n'))
  const key = input.beaconHex === undefined
    ? createHmac('sha256', Buffer.from(input.seedHex, 'hex')).update(`qunyun-lottery-v1|${input.lotteryId}|${input.round}|${eligibleHash}`).digest()
    : createHmac('sha256', Buffer.concat([Buffer.from(input.seedHex, 'hex'), Buffer.from(input.beaconHex, 'hex')])).update(`qunyun-lottery-v2|${input.lotteryId}|${input.round}|${eligibleHash}`).digest()
  const stream = new HmacStream(key)
  const k = Math.min(Math.max(0, input.count), pool.length)
  for (let i = 0; i < k; i++) {
    const j = i + stream.below(pool.length - i)
    const t = pool[i] as string
    pool[i] = pool[j] as string
    pool[j] = t
  }
  return { eligibleHash, winners: pool.slice(0, k) }
}

/** One excluded entrant and why (recorded in the proof). */
export interface Exclusion { memberId: string; reason: string }

/** One draw round as the proof records it. */
export interface ProofRound {
  round: number
  /** Eligible member ids of this round, canonical order. */
  eligible: string[]
  eligibleHash: string
  /** Entrants left out of this round, with the reason. */
  excluded: Exclusion[]
  count: number
  winners: string[]
}

/**
 * The beacon part of a proof. Used: the drand round (fixed at close: the first round published after
 * `closedAt`), its randomness and signature — anyone can fetch `<url>/<chainHash>/public/<round>` and
 * check the BLS signature with drand's tools. Not used: `note` says why (none configured, unreachable …).
 */
export type BeaconProof =
  | { used: false; note: string; round?: number | null }
  | {
    used: true; note: string
    url: string; chainHash: string; genesisTime: number; periodSeconds: number
    /** When the entrant list was frozen (ms); the round is the first published after it. */
    closedAt: number
    round: number; randomness: string; signature: string
  }

/** Everything needed to recompute a lottery's draws offline. */
export interface LotteryProof {
  algorithm: string
  lotteryId: number
  title: string
  status: string
  /** SHA-256 of the seed, published at open. */
  commitment: string | null
  /** The seed (hex), revealed at the draw; null before. */
  seed: string | null
  /** The frozen entrant list (canonical order) and its hash, published at close. */
  entrants: string[]
  entrantsHash: string | null
  /** Public randomness mixed in, or plainly why not. */
  beacon: BeaconProof
  rounds: ProofRound[]
}

/**
 * Recomputes a proof: the commitment against the seed, the entrant hash against the list, every round's
 * eligible list (a subset of the entrants, excluding earlier winners) and winners. Returns the problems
 * found (empty: OK).
 */
export function verifyProof(proof: LotteryProof): string[] {
  const problems: string[] = []
  if (proof.seed === null || proof.commitment === null) return ['the seed is not revealed yet (the lottery has not been drawn)']
  if (!/^[0-9a-f]{64}$/.test(proof.seed)) problems.push('seed: not 32 bytes of hex')
  if (commitmentOf(proof.seed) !== proof.commitment) problems.push(`commitment: SHA-256(seed) is ${commitmentOf(proof.seed)}, the published commitment is ${proof.commitment}`)
  const entrants = canonicalOrder(proof.entrants)
  if (entrants.length !== proof.entrants.length || entrants.some((id, i) => id !== proof.entrants[i])) problems.push('entrants: not a duplicate-free list in canonical (UTF-8 byte) order')
  if (listHash(proof.entrants) !== proof.entrantsHash) problems.push(`entrantsHash: the list hashes to ${listHash(proof.entrants)}, the published hash is ${String(proof.entrantsHash)}`)
  const b = proof.beacon
  let beaconHex: string | undefined
  if (b.used) {
    beaconHex = b.randomness
    if (proof.algorithm !== DRAW_ALGORITHM_BEACON) problems.push(`algorithm: a proof with a beacon uses ${DRAW_ALGORITHM_BEACON}`)
    if (!/^[0-9a-f]{64}$/.test(b.randomness)) problems.push('beacon: randomness is not 32 bytes of hex')
    if (sha256Hex(Buffer.from(b.signature, 'hex')) !== b.randomness) problems.push('beacon: randomness is not SHA-256(signature), as drand defines it')
    const elapsed = b.closedAt / 1000 - b.genesisTime
    const expected = elapsed < 0 ? 1 : Math.floor(elapsed / b.periodSeconds) + 2
    if (b.round !== expected) problems.push(`beacon: round ${b.round} is not the first round published after the close (${expected})`)
  } else if (proof.algorithm !== DRAW_ALGORITHM) problems.push(`algorithm: a proof without a beacon uses ${DRAW_ALGORITHM}`)
  const entrantSet = new Set(proof.entrants)
  const earlier = new Set<string>()
  for (const r of proof.rounds) {
    const outside = r.eligible.filter((id) => !entrantSet.has(id))
    if (outside.length > 0) problems.push(`round ${r.round}: eligible members who never entered: ${outside.join(', ')}`)
    const again = r.eligible.filter((id) => earlier.has(id))
    if (again.length > 0) problems.push(`round ${r.round}: earlier winners eligible again: ${again.join(', ')}`)
    const accounted = new Set([...r.eligible, ...r.excluded.map((e) => e.memberId), ...earlier])
    const missing = proof.entrants.filter((id) => !accounted.has(id))
    if (missing.length > 0) problems.push(`round ${r.round}: entrants neither eligible nor excluded: ${missing.join(', ')}`)
    const outcome = draw({ seedHex: proof.seed, lotteryId: proof.lotteryId, round: r.round, eligible: r.eligible, count: r.count, ...(beaconHex === undefined ? {} : { beaconHex }) })
    if (outcome.eligibleHash !== r.eligibleHash) problems.push(`round ${r.round}: eligible list hashes to ${outcome.eligibleHash}, the proof says ${r.eligibleHash}`)
    if (outcome.winners.join('\n') !== r.winners.join('\n')) problems.push(`round ${r.round}: winners recompute to [${outcome.winners.join(', ')}], the proof says [${r.winners.join(', ')}]`)
    for (const w of r.winners) earlier.add(w)
  }
  return problems
}
