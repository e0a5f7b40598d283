/** Randomness source, so tests and simulations are reproducible. */
export interface Random {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [min, max] inclusive. */
  int(min: number, max: number): number
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T
}

/** Builds the helper methods on top of a [0,1) generator. */
function fromGenerator(next: () => number): Random {
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick() from an empty list')
      return items[Math.floor(next() * items.length)] as (typeof items)[number]
    },
  }
}

/** Math.random-backed randomness for production. */
export const systemRandom: Random = fromGenerator(Math.random)

/** Deterministic randomness (mulberry32) for tests, simulations and benchmarks. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0
  return fromGenerator(() => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  })
}
