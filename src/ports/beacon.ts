/**
 * Public randomness beacon (drand-compatible): the port the lottery draws through. The feature never
 * speaks HTTP; the adapter (src/adapters/beacon) fetches `<url>/<chainHash>/public/<round>`.
 */

/** Which chain, and its clock: round r is published at genesisTime + (r − 1) · periodSeconds. */
export interface BeaconChain {
  url: string
  chainHash: string
  /** Unix seconds of round 1. */
  genesisTime: number
  periodSeconds: number
}

/** One published round, as drand serves it. */
export interface BeaconRound {
  round: number
  /** Hex; drand defines it as SHA-256 of the signature. */
  randomness: string
  /** Hex BLS signature (verified with drand's own tools, not here). */
  signature: string
}

/** A source of beacon rounds; `fetch` rejects (bounded in time) when the round cannot be had. */
export interface Beacon {
  readonly chain: BeaconChain
  fetch(round: number): Promise<BeaconRound>
}

/** When round `round` is published (ms). */
export function publishedAt(chain: BeaconChain, round: number): number {
  return (chain.genesisTime + (round - 1) * chain.periodSeconds) * 1000
}

/** The first round published strictly after the instant `ms`: nobody could know it at `ms`. */
export function roundAfter(chain: BeaconChain, ms: number): number {
  const elapsed = ms / 1000 - chain.genesisTime
  if (elapsed < 0) return 1
  return Math.floor(elapsed / chain.periodSeconds) + 2
}

/** Where anyone fetches a round (to check it, e.g. its BLS signature with drand's tools). */
export function roundUrl(chain: Pick<BeaconChain, 'url' | 'chainHash'>, round: number): string {
  return `${chain.url.replace(/\/+$/, '')}/${chain.chainHash}/public/${round}`
}
