import type { Clock } from './clock'
import type { SeenFilter, SeenStore } from './ports'

/** How long a filter waits for a marked message to be reported processed before letting its mark go unwritten. */
export const INFLIGHT_FORGET_MS = 15 * 60_000

/** Sizes of the bounded filter (tests make them small to reach every path). */
export interface SeenFilterSizes {
  /** Ids per exact generation; two generations are kept (the newest ids, answered exactly). */
  generation: number
  /** Bloom filters the TTL is split into (one per time slice; the oldest is cleared as time moves on). */
  slices: number
  /** Bits of one slice's Bloom filter (a power of two). */
  bitsPerSlice: number
  /** Hash functions per id. */
  hashes: number
}

/**
 * 2 × 65,536 exact ids (~12 MB) + up to 10 slices × 2 MB of Bloom bits: ~35 MB whatever the traffic. At 2 million
 * ids per 6-hour slice the false-positive rate is ~2 %, and a false positive costs one store lookup.
 */
export const DEFAULT_SEEN_SIZES: SeenFilterSizes = { generation: 65_536, slices: 8, bitsPerSlice: 1 << 24, hashes: 5 }

/** Two independent 32-bit hashes of a string (FNV-1a and a multiplicative variant), for double hashing. */
function hashes(id: string): [number, number] {
  let a = 0x811c9dc5
  let b = 0x9747b28c
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  return [a >>> 0, (b | 1) >>> 0]
}

/** One time slice: a Bloom filter of the ids first seen in [start, start + span). */
interface Slice { start: number; bits: Uint32Array }

/**
 * The embedded message-id filter, bounded in memory whatever the number of messages: the newest ids in
 * two exact generations (a redelivery a few seconds or minutes later is answered at once), older ids in
 * time-sliced Bloom filters over the TTL, and the SeenStore (the database table) as the authority: only
 * an id the Bloom filters may have seen costs a lookup there. A mark is written to the store only once its
 * message was processed and sealed before a flush of its effects (see SeenFilter.seal), so a crash never
 * leaves a stored mark over effects that were still in memory. No id is reported first-seen twice within
 * the TTL while the process lives; memory stays flat (see DEFAULT_SEEN_SIZES).
 */
export class BoundedSeenFilter implements SeenFilter {
  private current = new Set<string>()
  private previous = new Set<string>()
  /** Marked, not yet reported processed: id → expiresAt (never written while in flight). */
  private inflight = new Map<string, number>()
  /** Processed since the last seal: id → expiresAt. */
  private done = new Map<string, number>()
  /** Sealed, written by the next flush(): id → expiresAt. */
  private sealed = new Map<string, number>()
  /** Marks of the write in progress (still answered from memory until it is done). */
  private writing: Map<string, number> | null = null
  private readonly slices: Slice[] = []
  private readonly span: number
  private readonly mask: number
  /** Store lookups made for ids the Bloom filters could not rule out (for tests and figures). */
  lookups = 0

  constructor(private readonly store: SeenStore, private readonly clock: Clock, private readonly ttlMs: number, private readonly sizes: SeenFilterSizes = DEFAULT_SEEN_SIZES) {
    if ((sizes.bitsPerSlice & (sizes.bitsPerSlice - 1)) !== 0) throw new Error('bitsPerSlice must be a power of two')
    this.span = Math.max(1, Math.ceil(ttlMs / sizes.slices))
    this.mask = sizes.bitsPerSlice - 1
  }

  firstSeen(id: string): boolean | Promise<boolean> {
    if (this.current.has(id) || this.previous.has(id) || this.inflight.has(id) || this.done.has(id) || this.sealed.has(id) || this.writing?.has(id)) return false
    const now = this.clock.now()
    const [h1, h2] = hashes(id)
    const maybe = this.mightContain(h1, h2, now)
    // Marked before any lookup, so a copy arriving meanwhile is a duplicate at once.
    this.mark(id, h1, h2, now)
    if (!maybe) return true
    this.lookups++
    return this.store.has(id, now).then((stored) => {
      // Stored already: nothing to write for it (were it reported processed, it is stored).
      if (stored) this.inflight.delete(id)
      return !stored
    })
  }

  async load(): Promise<number> {
    const now = this.clock.now()
    const rows = await this.store.load(now)
    // Into the Bloom slices of the time each id was first seen; the store answers for them exactly.
    for (const [id, expiresAt] of rows) {
      const [h1, h2] = hashes(id)
      this.add(this.slice(expiresAt - this.ttlMs, now), h1, h2)
    }
    return rows.length
  }

  processed(id: string): void {
    const expiresAt = this.inflight.get(id)
    if (expiresAt === undefined) return
    this.inflight.delete(id)
    this.done.set(id, expiresAt)
  }

  seal(): void {
    for (const [id, expiresAt] of this.done) this.sealed.set(id, expiresAt)
    this.done.clear()
  }

  async flush(): Promise<void> {
    // A mark never reported processed (its message was lost to an error outside the pipeline) is let go
    // unwritten after a while: a copy after a restart is processed (twice beats never).
    const cutoff = this.clock.now() + this.ttlMs - INFLIGHT_FORGET_MS
    for (const [id, expiresAt] of this.inflight) if (expiresAt < cutoff) this.inflight.delete(id)
    if (this.sealed.size === 0) return
    const batch = this.sealed
    this.sealed = new Map()
    this.writing = batch
    try {
      await this.store.save([...batch])
    } catch (error) {
      for (const [id, expiresAt] of this.sealed) batch.set(id, expiresAt)
      this.sealed = batch
      throw error
    } finally {
      this.writing = null
    }
  }

  purge(): Promise<void> { return this.store.purge(this.clock.now()) }

  /**
   * Forgets a mark not yet written (a shed message), so a redelivered copy is processed: its Bloom bits
   * stay, which only costs that copy a store lookup (the store never got the mark).
   */
  async forget(id: string): Promise<void> {
    this.current.delete(id)
    this.previous.delete(id)
    this.inflight.delete(id)
    this.done.delete(id)
  }

  /** Ids held exactly (both generations): bounded by 2 × generation. */
  get exactSize(): number { return this.current.size + this.previous.size }

  private mark(id: string, h1: number, h2: number, now: number): void {
    if (this.current.size >= this.sizes.generation) {
      this.previous = this.current
      this.current = new Set()
    }
    this.current.add(id)
    this.inflight.set(id, now + this.ttlMs)
    this.add(this.slice(now, now), h1, h2)
  }

  private mightContain(h1: number, h2: number, now: number): boolean {
    const oldest = now - this.ttlMs - this.span
    for (const s of this.slices) {
      if (s.start < oldest) continue
      let all = true
      for (let i = 0; i < this.sizes.hashes; i++) {
        const bit = (h1 + Math.imul(i, h2)) & this.mask
        if (((s.bits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) { all = false; break }
      }
      if (all) return true
    }
    return false
  }

  private add(slice: Slice | null, h1: number, h2: number): void {
    if (!slice) return
    for (let i = 0; i < this.sizes.hashes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask
      slice.bits[bit >>> 5] = (slice.bits[bit >>> 5] as number) | (1 << (bit & 31))
    }
  }

  /** The slice holding ids first seen at `at`, created (reusing the oldest) when needed; null when expired. */
  private slice(at: number, now: number): Slice | null {
    if (at <= now - this.ttlMs - this.span) return null
    const start = Math.floor(at / this.span) * this.span
    for (const s of this.slices) if (s.start === start) return s
    if (this.slices.length < this.sizes.slices + 2) {
      const s = { start, bits: new Uint32Array(this.sizes.bitsPerSlice >>> 5) }
      this.slices.push(s)
      return s
    }
    // Reuse the oldest slice (its ids have expired once the TTL has passed beyond it).
    let oldest = this.slices[0] as Slice
    for (const s of this.slices) if (s.start < oldest.start) oldest = s
    if (oldest.start > start) return null
    oldest.start = start
    oldest.bits.fill(0)
    return oldest
  }
}
