/**
 * The lottery draw, recomputed in the browser with WebCrypto — the same algorithm as the server's
 * `lottery.draw.ts` (whose doc comment is the specification), written again here without node modules so
 * that nobody has to trust the server's own check:
 *
 *   commitment   = SHA-256(seed bytes)
 *   entrantsHash = SHA-256(member ids sorted by UTF-8 bytes, joined with "\n")
 *   key          = HMAC-SHA256(seed, "qunyun-lottery-v1|<lotteryId>|<round>|<eligibleHash>")              (no beacon)
 *                = HMAC-SHA256(seed ‖ beacon randomness, "qunyun-lottery-v2|<lotteryId>|<round>|<eligibleHash>")
 *   stream       = HMAC-SHA256(key, "0") ‖ HMAC-SHA256(key, "1") ‖ … as 32-bit big-endian words
 *   below(n)     = next word x < 2^32 − (2^32 mod n), then x mod n
 *   winners      = partial Fisher–Yates over the sorted eligible list
 *
 * A test checks it against the server's implementation on many random proofs.
 */

/** The algorithm names a proof carries (must equal the server's DRAW_ALGORITHM / DRAW_ALGORITHM_BEACON). */
export const ALGORITHM_V1 = 'qunyun-lottery-v1: HMAC-SHA256 stream, rejection sampling, partial Fisher–Yates'
export const ALGORITHM_V2 = 'qunyun-lottery-v2: HMAC-SHA256 stream keyed by seed ‖ drand randomness, rejection sampling, partial Fisher–Yates'

const encoder = new TextEncoder()
/** Bytes on an ordinary ArrayBuffer (what WebCrypto takes). */
type Bytes = Uint8Array<ArrayBuffer>
/** A WebCrypto key (named through the API, so the file also type-checks where only Node's types are loaded). */
type CryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>

const toHex = (bytes: ArrayBuffer | Uint8Array): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('')

function fromHex(hex: string): Bytes {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

const isHex = (s: unknown, bytes?: number): s is string =>
  typeof s === 'string' && s.length % 2 === 0 && s.length > 0 && /^[0-9a-f]+$/.test(s) && (bytes === undefined || s.length === bytes * 2)

async function sha256Hex(data: Bytes): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', data))
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number)
  return a.length - b.length
}

/** Member ids without duplicates, sorted by their UTF-8 bytes (the same in every language). */
export function canonicalOrder(ids: readonly string[]): string[] {
  return [...new Set(ids)].map((id) => ({ id, bytes: encoder.encode(id) })).sort((a, b) => compareBytes(a.bytes, b.bytes)).map((x) => x.id)
}

/** SHA-256 of a member list in canonical order, hex. */
export function listHash(ids: readonly string[]): Promise<string> {
  return sha256Hex(encoder.encode(canonicalOrder(ids).join('\n')))
}

async function hmacKey(raw: Bytes): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
}

async function hmac(key: CryptoKey, message: string): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(message)))
}

/** Uniform integers from the HMAC-SHA256 stream of a key. */
class Stream {
  private block: Bytes = new Uint8Array(0)
  private offset = 0
  private counter = 0
  constructor(private readonly key: CryptoKey) {}

  private async word(): Promise<number> {
    if (this.offset + 4 > this.block.length) {
      this.block = await hmac(this.key, String(this.counter++))
      this.offset = 0
    }
    const w = new DataView(this.block.buffer, this.block.byteOffset + this.offset, 4).getUint32(0, false)
    this.offset += 4
    return w
  }

  async below(n: number): Promise<number> {
    const limit = 2 ** 32 - (2 ** 32 % n)
    for (;;) {
      const x = await this.word()
      if (x < limit) return x % n
    }
  }
}

/** One round of the draw: the winners of `count` from the eligible list. */
export async function draw(input: { seedHex: string; lotteryId: number; round: number; eligible: readonly string[]; count: number; beaconHex?: string }): Promise<{ eligibleHash: string; winners: string[] }> {
  const pool = canonicalOrder(input.eligible)
  const eligibleHash = await sha256Hex(encoder.encode(pool.join('\n')))
  const seed = fromHex(input.seedHex)
  let raw: Bytes
  let message: string
  if (input.beaconHex === undefined) {
    raw = seed
    message = `qunyun-lottery-v1|${input.lotteryId}|${input.round}|${eligibleHash}`
  } else {
    const beacon = fromHex(input.beaconHex)
    raw = new Uint8Array(seed.length + beacon.length)
    raw.set(seed)
    raw.set(beacon, seed.length)
    message = `qunyun-lottery-v2|${input.lotteryId}|${input.round}|${eligibleHash}`
  }
  const stream = new Stream(await hmacKey(await hmac(await hmacKey(raw), message)))
  const k = Math.min(Math.max(0, input.count), pool.length)
  for (let i = 0; i < k; i++) {
    const j = i + await stream.below(pool.length - i)
    const swap = pool[i] as string
    pool[i] = pool[j] as string
    pool[j] = swap
  }
  return { eligibleHash, winners: pool.slice(0, k) }
}

/** What the browser found: ok, the problems, and each round's recomputed winners. */
export interface Verification { ok: boolean; problems: string[]; rounds: Array<{ round: number; winners: string[] }> }

interface Round { round: number; eligible: string[]; eligibleHash: string; excluded: Array<{ memberId: string }>; count: number; winners: string[] }
type Beacon = { used: false } | { used: true; closedAt: number; genesisTime: number; periodSeconds: number; round: number; randomness: string; signature: string }
interface Proof { algorithm: string; lotteryId: number; commitment: string | null; seed: string | null; entrants: string[]; entrantsHash: string | null; beacon: Beacon; rounds: Round[] }

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string')
const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v)

/** The shape problems of a proof (empty: it has every field the check needs, of the right kind). */
function shapeProblems(p: Record<string, unknown>): string[] {
  const out: string[] = []
  if (typeof p.algorithm !== 'string') out.push('algorithm: missing')
  if (!int(p.lotteryId)) out.push('lotteryId: not an integer')
  if (!strings(p.entrants)) out.push('entrants: not a list of ids')
  const b = p.beacon as Record<string, unknown> | null
  if (!b || typeof b !== 'object' || typeof b.used !== 'boolean') out.push('beacon: missing')
  else if (b.used && !(int(b.closedAt) && int(b.genesisTime) && int(b.periodSeconds) && int(b.round) && typeof b.randomness === 'string' && isHex(b.signature))) out.push('beacon: incomplete')
  if (!Array.isArray(p.rounds)) out.push('rounds: not a list')
  else {
    (p.rounds as Array<Record<string, unknown>>).forEach((r, i) => {
      if (!r || !int(r.round) || !strings(r.eligible) || typeof r.eligibleHash !== 'string' || !Array.isArray(r.excluded) || !int(r.count) || !strings(r.winners)) out.push(`rounds[${i}]: incomplete`)
    })
  }
  return out
}

/**
 * Recomputes a proof as `GET /api/v1/lotteries/:id/proof` returns it: the commitment against the seed,
 * the entrant hash against the list, each round's eligible list and winners (and the beacon's randomness).
 */
export async function verifyProof(raw: unknown): Promise<Verification> {
  if (!raw || typeof raw !== 'object') return { ok: false, problems: ['not a lottery proof'], rounds: [] }
  const shape = shapeProblems(raw as Record<string, unknown>)
  if (shape.length > 0) return { ok: false, problems: shape.map((s) => `not a lottery proof: ${s}`), rounds: [] }
  const proof = raw as Proof
  if (proof.seed === null || proof.commitment === null) return { ok: false, problems: ['the seed is not revealed yet (the lottery has not been drawn)'], rounds: [] }
  const problems: string[] = []
  if (!isHex(proof.seed, 32)) return { ok: false, problems: ['seed: not 32 bytes of hex'], rounds: [] }
  const commitment = await sha256Hex(fromHex(proof.seed))
  if (commitment !== proof.commitment) problems.push(`commitment: SHA-256(seed) is ${commitment}, the published commitment is ${proof.commitment}`)
  const entrants = canonicalOrder(proof.entrants)
  if (entrants.length !== proof.entrants.length || entrants.some((id, i) => id !== proof.entrants[i])) problems.push('entrants: not a duplicate-free list in canonical (UTF-8 byte) order')
  const entrantsHash = await listHash(proof.entrants)
  if (entrantsHash !== proof.entrantsHash) problems.push(`entrantsHash: the list hashes to ${entrantsHash}, the published hash is ${String(proof.entrantsHash)}`)
  let beaconHex: string | undefined
  const b = proof.beacon
  if (b.used) {
    if (proof.algorithm !== ALGORITHM_V2) problems.push(`algorithm: a proof with a beacon uses ${ALGORITHM_V2}`)
    if (!isHex(b.randomness, 32)) problems.push('beacon: randomness is not 32 bytes of hex')
    else beaconHex = b.randomness
    if (await sha256Hex(fromHex(b.signature)) !== b.randomness) problems.push('beacon: randomness is not SHA-256(signature), as drand defines it')
    const elapsed = b.closedAt / 1000 - b.genesisTime
    const expected = elapsed < 0 ? 1 : Math.floor(elapsed / b.periodSeconds) + 2
    if (b.round !== expected) problems.push(`beacon: round ${b.round} is not the first round published after the close (${expected})`)
  } else if (proof.algorithm !== ALGORITHM_V1) problems.push(`algorithm: a proof without a beacon uses ${ALGORITHM_V1}`)
  const entrantSet = new Set(proof.entrants)
  const earlier = new Set<string>()
  const rounds: Verification['rounds'] = []
  for (const r of proof.rounds) {
    const outside = r.eligible.filter((id) => !entrantSet.has(id))
    if (outside.length > 0) problems.push(`round ${r.round}: eligible members who never entered: ${outside.join(', ')}`)
    const again = r.eligible.filter((id) => earlier.has(id))
    if (again.length > 0) problems.push(`round ${r.round}: earlier winners eligible again: ${again.join(', ')}`)
    const accounted = new Set([...r.eligible, ...r.excluded.map((e) => e.memberId), ...earlier])
    const missing = proof.entrants.filter((id) => !accounted.has(id))
    if (missing.length > 0) problems.push(`round ${r.round}: entrants neither eligible nor excluded: ${missing.join(', ')}`)
    const outcome = await draw({ seedHex: proof.seed, lotteryId: proof.lotteryId, round: r.round, eligible: r.eligible, count: r.count, ...(beaconHex === undefined ? {} : { beaconHex }) })
    if (outcome.eligibleHash !== r.eligibleHash) problems.push(`round ${r.round}: eligible list hashes to ${outcome.eligibleHash}, the proof says ${r.eligibleHash}`)
    if (outcome.winners.join('\n') !== r.winners.join('\n')) problems.push(`round ${r.round}: winners recompute to [${outcome.winners.join(', ')}], the proof says [${r.winners.join(', ')}]`)
    rounds.push({ round: r.round, winners: outcome.winners })
    for (const w of r.winners) earlier.add(w)
  }
  return { ok: problems.length === 0, problems, rounds }
}
