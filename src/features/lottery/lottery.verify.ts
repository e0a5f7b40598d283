import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { roundUrl } from '../../ports/beacon'
import { verifyProof, type LotteryProof } from './lottery.draw'

const Hex64 = z.string().regex(/^[0-9a-f]{64}$/, '64 hex digits')
const Id = z.string().min(1).max(191)

/** A proof as `GET /api/v1/lotteries/:id/proof` returns it (checked before anything is recomputed). */
export const ProofSchema = z.object({
  algorithm: z.string(),
  lotteryId: z.int().positive(),
  title: z.string(),
  status: z.string(),
  commitment: Hex64.nullable(),
  seed: Hex64.nullable(),
  entrants: z.array(Id),
  entrantsHash: Hex64.nullable(),
  beacon: z.discriminatedUnion('used', [
    z.object({ used: z.literal(false), note: z.string(), round: z.int().positive().nullable().optional() }),
    z.object({
      used: z.literal(true), note: z.string(), url: z.string(), chainHash: z.string(), genesisTime: z.int().min(0), periodSeconds: z.int().positive(),
      closedAt: z.int().min(0), round: z.int().positive(), randomness: z.string(), signature: z.string().regex(/^([0-9a-f]{2})+$/, 'hex'),
    }),
  ]),
  rounds: z.array(z.object({
    round: z.int().min(0),
    eligible: z.array(Id),
    eligibleHash: Hex64,
    excluded: z.array(z.object({ memberId: Id, reason: z.string() })),
    count: z.int().min(0),
    winners: z.array(Id),
  })),
})

/** Verifies a proof given as JSON text: the lines to print and whether it holds. */
export function verifyProofText(json: string): { ok: boolean; lines: string[] } {
  let raw: unknown
  try { raw = JSON.parse(json) } catch (error) {
    return { ok: false, lines: [`not JSON: ${(error as Error).message}`] }
  }
  const parsed = ProofSchema.safeParse(raw)
  if (!parsed.success) return { ok: false, lines: parsed.error.issues.map((i) => `not a lottery proof: ${i.path.join('.') || '(root)'}: ${i.message}`) }
  const proof: LotteryProof = parsed.data
  const problems = verifyProof(proof)
  if (problems.length > 0) return { ok: false, lines: [`MISMATCH: lottery ${proof.lotteryId} (${proof.title})`, ...problems.map((p) => `  - ${p}`)] }
  const winners = proof.rounds.map((r) => `round ${r.round}: ${r.winners.join(', ') || '(no winners)'} of ${r.eligible.length} eligible`)
  return { ok: true, lines: [`OK: lottery ${proof.lotteryId} (${proof.title}) — commitment, entrant list and every round recompute`, ...winners.map((w) => `  ${w}`), ...beaconLines(proof)] }
}

/** What the verifier says about the beacon: what was mixed in, and what it leaves to drand's tools. */
function beaconLines(proof: LotteryProof): string[] {
  const b = proof.beacon
  if (!b.used) return [`  beacon: not used — ${b.note}`]
  return [
    `  beacon: drand round ${b.round} (first after the close) mixed in; randomness = SHA-256(signature) checked`,
    `  not checked here: the round's BLS signature — fetch ${roundUrl(b, b.round)} and verify it with drand's tools (e.g. drand-client)`,
  ]
}

/** `qunyun lottery verify FILE`: exit code 0 when the proof holds, 1 when it does not, 2 on bad usage. */
export function lotteryCommand(args: readonly string[], out: { stdout(text: string): void; stderr(text: string): void }): number {
  const [sub, file] = args
  if (sub !== 'verify' || !file || args.length !== 2) {
    out.stderr('usage: qunyun lottery verify PROOF.json\n')
    return 2
  }
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (error) {
    out.stderr(`qunyun lottery: cannot read ${file}: ${(error as Error).message}\n`)
    return 2
  }
  const result = verifyProofText(text)
  const write = result.ok ? out.stdout : out.stderr
  write(`${result.lines.join('\n')}\n`)
  return result.ok ? 0 : 1
}
