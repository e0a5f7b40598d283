import { createHash } from 'node:crypto'
import { z } from 'zod'
import { roundUrl, type Beacon, type BeaconChain, type BeaconRound } from '../../ports/beacon'

/** Settings of the HTTP beacon (process config `lottery.beacon`). */
export interface DrandHttpOptions extends BeaconChain {
  /** Per attempt. */
  timeoutMs: number
  /** Further attempts after the first (a 404 — round not out yet — or a network error). */
  retries: number
  /** Pause before a retry. */
  retryDelayMs?: number
}

const RoundBody = z.object({
  round: z.number().int().positive(),
  randomness: z.string().regex(/^[0-9a-f]{64}$/),
  signature: z.string().regex(/^[0-9a-f]{2,1024}$/),
})

/**
 * A drand HTTP API client: GET `<url>/<chainHash>/public/<round>`, each attempt cut off after
 * `timeoutMs`, at most `retries` more attempts — so the wait is bounded by
 * (retries + 1) · timeoutMs + retries · retryDelayMs. The answer must be the round asked for, with
 * randomness = SHA-256(signature) (drand's definition); anything else is rejected.
 */
export function drandHttpBeacon(o: DrandHttpOptions): Beacon {
  const chain: BeaconChain = { url: o.url, chainHash: o.chainHash, genesisTime: o.genesisTime, periodSeconds: o.periodSeconds }
  const once = async (round: number): Promise<BeaconRound> => {
    const res = await fetch(roundUrl(chain, round), { signal: AbortSignal.timeout(o.timeoutMs), headers: { accept: 'application/json' } })
    if (!res.ok) throw new Error(`HTTP ${res.status}`)
    const body = RoundBody.safeParse(await res.json())
    if (!body.success) throw new Error('not a beacon round (round, randomness, signature)')
    if (body.data.round !== round) throw new Error(`asked for round ${round}, got ${body.data.round}`)
    if (createHash('sha256').update(Buffer.from(body.data.signature, 'hex')).digest('hex') !== body.data.randomness) throw new Error('randomness is not SHA-256(signature)')
    return body.data
  }
  return {
    chain,
    async fetch(round) {
      let last: unknown
      for (let attempt = 0; attempt <= o.retries; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, o.retryDelayMs ?? 500))
        try { return await once(round) } catch (error) { last = error }
      }
      // fetch rejects with an Error (cause: the socket error) or, on timeout, a DOMException named TimeoutError.
      const e = last as { name?: string; message?: string; cause?: { code?: string; message?: string } }
      const cause = e.cause ? ` (${e.cause.code ?? e.cause.message ?? 'unknown cause'})` : ''
      const reason = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : `${e.message ?? String(last)}${cause}`
      throw new Error(`${o.retries + 1} attempt(s) failed, last: ${reason}`)
    },
  }
}
