/**
 * Aho–Corasick over normalized UTF-16 code units, compiled into flat typed arrays.
 *
 * Build: terms are normalized (normalize.ts), empty ones rejected, duplicates (same normalized form)
 * dropped, the rest sorted and inserted into a temporary trie (parallel Int32Arrays, no per-node objects).
 * The trie is then laid out as a DOUBLE ARRAY: every state is a slot; the child of state s on symbol c is
 * slot base[s] + c, valid iff check[that slot] === s. Failure links and dictionary-suffix ("output") links
 * are computed breadth-first on that layout.
 *
 * Everything an automaton needs at scan time is in ONE Int32Array `da` (plus, for large alphabets, two
 * 65,536-entry tables, see below), so a small per-group list costs a single typed array, not a dozen:
 *
 *   [0, 4·slots)          per slot s (state ids are pre-multiplied by 4, i.e. s is the index of the slot):
 *                           da[s] base (×4): the child on symbol c is t = da[s] + 4c, valid iff da[t+1] === s
 *                           da[s+1] check: the parent state, -1 for a free slot
 *                           da[s+2] fail: the failure state
 *                           da[s+3] emit: index of the first output record on the failure chain of s (s
 *                                   included), or -1 when no term ends here
 *   outputs               one record [termIndex, next record or -1] per term; following emit → next → …
 *                         reports every term ending at the current position, overlapping ones included
 *   lengths               normalized length of each term
 *   rootGo                per symbol, the root's transition (or the root): the failure step of every state
 *                         whose failure state is the root, without walking the chain
 *   compact keys          (small alphabets) the sorted code units; symbol = position + 1
 *   compact filter        (small alphabets) 32 int32 = a 1,024-bit filter on unit & 1023
 *
 * Symbols: code units map to 1..A (0 = the unit occurs in no term, which sends the automaton to the root).
 * Large alphabets use a Uint16Array(65536) table with symbols numbered by decreasing frequency in the terms
 * (children then sit close to their parent's base), plus a Uint32Array(65536) that composes the
 * normalization table with it — (symbol << 16) | normalized unit per SOURCE code unit — so the fused
 * normalize-and-match scan does one table load per character. Small alphabets (≤ 256 distinct units, e.g.
 * per-group lists) use the filter plus a binary search over the sorted keys.
 */
import { Normalizer, normalizationTable, originalEnd, type NormalizedText } from './normalize'

/**
 * Receives each match: index of the term in `terms`, and its [start, end) in normalized code units.
 * Returning `true` stops the scan.
 */
export type MatchSink = (termIndex: number, normalizedStart: number, normalizedEnd: number) => boolean | void

/** One match of a word list on a text. */
export interface MatchResult {
  /** Id of the word list that matched. */
  listId: string
  /** The term as it was given to the list (not its normalized form). */
  term: string
  /** Start of the match in the ORIGINAL text (UTF-16 index, inclusive). */
  start: number
  /** End of the match in the ORIGINAL text (UTF-16 index, exclusive). */
  end: number
  /** Start in the normalized text (inclusive). */
  normalizedStart: number
  /** End in the normalized text (exclusive). */
  normalizedEnd: number
}

/** A term the builder refused, and why. */
export interface RejectedTerm { term: string; reason: string }

/** A term dropped because an earlier term has the same normalized form. */
export interface DuplicateTerm { term: string; duplicateOf: string }

/** What building a list produced besides the automaton. */
export interface BuildReport { rejected: RejectedTerm[]; duplicates: DuplicateTerm[] }

/** Alphabets up to this many symbols use the compact (filter + binary search) symbol map. */
const COMPACT_ALPHABET_MAX = 256

/** Why a term that normalizes to nothing is refused. */
export const EMPTY_TERM_REASON = 'empty after normalization: only spaces, punctuation, symbols, emoji or invisible characters'

/** Shared empty report (most lists have nothing to report; saves two arrays per small list). */
const NO_REPORT: BuildReport = Object.freeze({ rejected: [], duplicates: [] }) as unknown as BuildReport

/** Upper bound on hits per scan (a safety cap far above anything a chat message produces). */
const MAX_HITS = 0x0fffffff

/**
 * A growable buffer of hits, three int32 per hit: termIndex, normalizedStart, normalizedEnd. Scans append
 * to it without allocating; reuse one buffer (set `count = 0`) across scans.
 */
export class Hits {
  /** The triples; only the first `count` ints are meaningful. */
  data: Int32Array
  /** Number of ints used (3 per hit). */
  count = 0

  /** A buffer with room for `capacity` hits. */
  constructor(capacity = 32) {
    this.data = new Int32Array(capacity * 3)
  }

  /** Number of hits. */
  get size(): number {
    return this.count / 3
  }

  /** Doubles the capacity (keeping the first `count` ints) and returns the new data array. */
  grow(): Int32Array {
    const data = new Int32Array(this.data.length * 2)
    data.set(this.data.subarray(0, this.count))
    this.data = data
    return data
  }
}

/** Read-only view of a normalized string as code units (identity offsets), for string inputs. */
function viewOfString(normalized: string): NormalizedText {
  const units = new Uint16Array(normalized.length)
  const offsets = new Uint32Array(normalized.length)
  for (let i = 0; i < normalized.length; i++) {
    units[i] = normalized.charCodeAt(i)
    offsets[i] = i
  }
  return { source: normalized, units, offsets, length: normalized.length }
}

/** Approximate heap bytes of a JS string (V8: ~16-byte header, one or two bytes per unit). */
function stringBytes(s: string): number {
  let wide = false
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) { wide = true; break }
  return 16 + ((s.length * (wide ? 2 : 1) + 3) & ~3)
}

/** The temporary trie: parallel arrays indexed by node (0 = root), children in increasing symbol order. */
interface Trie {
  nodeCount: number
  nodeSym: Int32Array
  firstChild: Int32Array
  nextSibling: Int32Array
  childCount: Int32Array
  nodeTerm: Int32Array
}

/** Builds the trie from terms given as symbol strings (one code unit per symbol). */
function buildTrie(symbolic: readonly string[], totalUnits: number): Trie {
  const order = Array.from({ length: symbolic.length }, (_, k) => k)
  order.sort((a, b) => {
    const x = symbolic[a] as string
    const y = symbolic[b] as string
    return x < y ? -1 : x > y ? 1 : 0
  })
  const maxNodes = totalUnits + 1
  const nodeSym = new Int32Array(maxNodes)
  const firstChild = new Int32Array(maxNodes).fill(-1)
  const lastChild = new Int32Array(maxNodes).fill(-1)
  const nextSibling = new Int32Array(maxNodes).fill(-1)
  const childCount = new Int32Array(maxNodes)
  const nodeTerm = new Int32Array(maxNodes).fill(-1)
  let maxLen = 0
  for (const s of symbolic) if (s.length > maxLen) maxLen = s.length
  const path = new Int32Array(maxLen + 1) // path[d] = node at depth d of the previous term
  let nodeCount = 1
  let prev = ''
  for (const k of order) {
    const term = symbolic[k] as string
    let lcp = 0
    const limit = Math.min(prev.length, term.length)
    while (lcp < limit && prev.charCodeAt(lcp) === term.charCodeAt(lcp)) lcp++
    // Sorted order: the new child's symbol is larger than any existing sibling's, so it is appended.
    for (let d = lcp; d < term.length; d++) {
      const parent = path[d] as number
      const node = nodeCount++
      nodeSym[node] = term.charCodeAt(d)
      if (firstChild[parent] === -1) firstChild[parent] = node
      else nextSibling[lastChild[parent] as number] = node
      lastChild[parent] = node
      childCount[parent]++
      path[d + 1] = node
    }
    nodeTerm[path[term.length] as number] = k
    prev = term
  }
  return { nodeCount, nodeSym, firstChild, nextSibling, childCount, nodeTerm }
}

/**
 * Double-array placement, breadth first: for each state, the smallest base ≥ 1 whose child slots are all
 * free (free slots found through a union–find "next free slot" structure). Returns the slot of every node,
 * the base of every slot, the BFS order and the highest slot used.
 */
function place(trie: Trie, alphabetSize: number): { slotOf: Int32Array; base: Int32Array; bfs: Int32Array; maxSlot: number } {
  const { nodeCount, nodeSym, firstChild, nextSibling, childCount } = trie
  let capacity = Math.max(64, nodeCount + 2 * alphabetSize + 1024) // packing is near-perfect; grows if needed
  let check = new Int32Array(capacity).fill(-1)
  let base = new Int32Array(capacity)
  let free = new Int32Array(capacity) // free[p] === p: p is free; else a pointer towards the next free slot
  for (let p = 0; p < capacity; p++) free[p] = p
  const ensure = (min: number): void => {
    if (min < capacity) return
    let cap = capacity
    while (cap <= min) cap *= 2
    const c2 = new Int32Array(cap).fill(-1)
    c2.set(check)
    const b2 = new Int32Array(cap)
    b2.set(base)
    const f2 = new Int32Array(cap)
    f2.set(free)
    for (let p = capacity; p < cap; p++) f2[p] = p
    check = c2
    base = b2
    free = f2
    capacity = cap
  }
  const findFree = (p: number): number => {
    ensure(p + 1)
    let r = p
    while (free[r] !== r) {
      r = free[r] as number
      ensure(r + 1)
    }
    while (free[p] !== r) {
      const up = free[p] as number
      free[p] = r
      p = up
    }
    return r
  }
  const occupy = (p: number): void => {
    ensure(p + 2)
    free[p] = p + 1
  }
  const slotOf = new Int32Array(nodeCount)
  occupy(0) // the root
  check[0] = -2
  let maxSlot = 0
  const bfs = new Int32Array(nodeCount)
  let head = 0
  let tail = 0
  bfs[tail++] = 0
  const syms: number[] = []
  let multiFrom = 1
  while (head < tail) {
    const node = bfs[head++] as number
    const slot = slotOf[node] as number
    if (childCount[node] === 0) continue // leaf: base 0; a lookup lands on a slot whose check is not `slot`
    syms.length = 0
    for (let ch = firstChild[node] as number; ch !== -1; ch = nextSibling[ch] as number) syms.push(nodeSym[ch] as number)
    const c0 = syms[0] as number
    // Single-child nodes (most of them) take the first free slot; multi-child nodes search from their own
    // pointer, moved past regions where a search needed many candidates (dense for them, not for leaves).
    const single = syms.length === 1
    let pos = findFree(single ? c0 + 1 : Math.max(c0 + 1, multiFrom)) // base = pos - c0 ≥ 1
    let tries = 0
    let b = 0
    for (;;) {
      b = pos - c0
      let ok = true
      for (let j = 1; j < syms.length; j++) {
        const q = b + (syms[j] as number)
        if (q + 1 >= capacity) ensure(q + 1)
        if (check[q] !== -1) { ok = false; break }
      }
      if (ok) break
      if (++tries === 16) multiFrom = pos
      pos = findFree(pos + 1)
    }
    base[slot] = b
    for (let ch = firstChild[node] as number; ch !== -1; ch = nextSibling[ch] as number) {
      const q = b + (nodeSym[ch] as number)
      ensure(q + 2)
      check[q] = slot
      occupy(q)
      slotOf[ch] = q
      if (q > maxSlot) maxSlot = q
      bfs[tail++] = ch
    }
  }
  return { slotOf, base: base.subarray(0, maxSlot + 1), bfs, maxSlot }
}

/**
 * A compiled, immutable multi-pattern automaton. Shared by every WordList (and so every group) built from
 * the same content; holds no per-scan state, so one instance can serve any number of scans.
 */
export class Automaton {
  /** Terms as given (first spelling of each distinct normalized form), indexed by term index. */
  readonly terms: readonly string[]
  /** Terms refused and terms dropped as duplicates while building. */
  readonly report: BuildReport
  /** Number of automaton states (trie nodes, root included). */
  readonly stateCount: number
  /** Number of distinct code units in the normalized terms. */
  readonly alphabetSize: number
  /** Content key given by the builder (e.g. a hash of the term list), '' if none. */
  readonly contentKey: string

  /** All integer data, see the module comment. */
  private readonly da: Int32Array
  /** Start of the term-length region in `da`. */
  private readonly lengthsAt: number
  /** Start of the root-transition region in `da` (indexed by symbol). */
  private readonly rootGoAt: number
  /** Start of the sorted compact keys in `da`, and of the 32-int compact filter (small alphabets). */
  private readonly keysAt: number
  private readonly filterAt: number
  /** Dense symbol map (65,536 entries) for large alphabets, else undefined. */
  private readonly dense: Uint16Array | undefined
  /**
   * Large alphabets: per source code unit, (symbol << 16) | normalized unit — the normalization table and
   * the symbol map in one load for the fused scan; 0 = dropped; symbol 0xFFFF = a special normalization
   * value (expansion or surrogate) in the low half.
   */
  private readonly fused: Uint32Array | undefined

  /** Builds the automaton for `terms` (see the module comment); `contentKey` is stored as given. */
  constructor(terms: readonly string[], contentKey = '') {
    this.contentKey = contentKey
    // ---- normalize every term into one flat buffer (no per-term strings) ------------------------------
    let rejected: RejectedTerm[] | undefined
    let duplicates: DuplicateTerm[] | undefined
    const normalizer = new Normalizer(256)
    let flat = new Uint16Array(Math.max(1024, terms.length * 8))
    let used = 0
    let maxLen = 0
    const kept: string[] = [] // terms with a non-empty normalized form, in input order
    const starts: number[] = []
    for (const term of terms) {
      const view = normalizer.run(term)
      const len = view.length
      if (len === 0) {
        ;(rejected ??= []).push({ term, reason: EMPTY_TERM_REASON })
        continue
      }
      if (used + len > flat.length) {
        const bigger = new Uint16Array(Math.max(flat.length * 2, used + len))
        bigger.set(flat.subarray(0, used))
        flat = bigger
      }
      flat.set(view.units.subarray(0, len), used)
      kept.push(term)
      starts.push(used)
      used += len
      if (len > maxLen) maxLen = len
    }
    starts.push(used)

    // ---- alphabet -----------------------------------------------------------------------------------
    const freq = new Uint32Array(0x10000)
    for (let i = 0; i < used; i++) freq[flat[i] as number]++
    const units: number[] = []
    for (let u = 0; u < 0x10000; u++) if (freq[u] !== 0) units.push(u)
    const A = units.length
    if (A > 0xfffe) throw new Error('automaton: alphabet too large') // symbols must fit in one code unit
    this.alphabetSize = A
    const compact = A <= COMPACT_ALPHABET_MAX
    if (!compact) units.sort((a, b) => (freq[b] as number) - (freq[a] as number) || a - b)
    const symbolOf = new Uint16Array(0x10000)
    for (let k = 0; k < A; k++) symbolOf[units[k] as number] = k + 1
    this.dense = compact ? undefined : symbolOf
    if (!compact) {
      const table = normalizationTable()
      const fused = new Uint32Array(0x10000)
      for (let u = 0; u < 0x10000; u++) {
        const m = table[u] as number
        fused[u] = m >= 0xd800 && m <= 0xdfff ? (0xffff0000 | m) >>> 0 : (((symbolOf[m] as number) << 16) | m) >>> 0
      }
      this.fused = fused
    } else {
      this.fused = undefined
    }

    // ---- symbol strings: the dedupe key and the trie's input ------------------------------------------
    const originals: string[] = []
    const symbolic: string[] = []
    const seen = new Map<string, number>()
    const mapped = new Uint16Array(maxLen)
    let totalUnits = 0
    for (let j = 0; j < kept.length; j++) {
      const from = starts[j] as number
      const len = (starts[j + 1] as number) - from
      for (let i = 0; i < len; i++) mapped[i] = symbolOf[flat[from + i] as number] as number
      const key = String.fromCharCode.apply(null, mapped.subarray(0, len) as unknown as number[])
      const earlier = seen.get(key)
      if (earlier !== undefined) {
        ;(duplicates ??= []).push({ term: kept[j] as string, duplicateOf: originals[earlier] as string })
        continue
      }
      seen.set(key, originals.length)
      originals.push(kept[j] as string)
      symbolic.push(key)
      totalUnits += len
    }
    this.terms = originals
    this.report = rejected === undefined && duplicates === undefined ? NO_REPORT : { rejected: rejected ?? [], duplicates: duplicates ?? [] }
    const termCount = originals.length

    // ---- trie and double-array placement -------------------------------------------------------------
    const trie = buildTrie(symbolic, totalUnits)
    this.stateCount = trie.nodeCount
    const { slotOf, base, bfs, maxSlot } = place(trie, A)

    // ---- the flat array --------------------------------------------------------------------------------
    let maxBase = 0
    for (let p = 0; p <= maxSlot; p++) if ((base[p] as number) > maxBase) maxBase = base[p] as number
    const slots = Math.max(maxSlot, maxBase + A) + 1 // base + any symbol stays in bounds
    const outputsAt = slots * 4
    const lengthsAt = outputsAt + termCount * 2
    const rootGoAt = lengthsAt + termCount
    const keysAt = rootGoAt + A + 1
    const filterAt = keysAt + (compact ? A : 0)
    const da = new Int32Array(filterAt + (compact ? 32 : 0))
    for (let p = 0; p < slots; p++) {
      da[p * 4 + 1] = -1
      da[p * 4 + 3] = -1
    }
    for (let node = 0; node < trie.nodeCount; node++) {
      const p = slotOf[node] as number
      da[p * 4] = (p <= maxSlot ? (base[p] as number) : 0) << 2
    }
    for (let k = 0; k < termCount; k++) da[lengthsAt + k] = (symbolic[k] as string).length
    if (compact) {
      for (let k = 0; k < A; k++) {
        const u = units[k] as number
        da[keysAt + k] = u
        da[filterAt + ((u >> 5) & 31)] |= 1 << (u & 31)
      }
    }

    // ---- check, failure and output links, breadth first ------------------------------------------------
    const { firstChild, nextSibling, nodeSym, nodeTerm } = trie
    let records = 0
    for (let qi = 0; qi < trie.nodeCount; qi++) {
      const node = bfs[qi] as number
      const s = (slotOf[node] as number) << 2
      for (let ch = firstChild[node] as number; ch !== -1; ch = nextSibling[ch] as number) {
        const v = (slotOf[ch] as number) << 2
        da[v + 1] = s
      }
    }
    for (let qi = 0; qi < trie.nodeCount; qi++) {
      const node = bfs[qi] as number
      const s = (slotOf[node] as number) << 2
      for (let ch = firstChild[node] as number; ch !== -1; ch = nextSibling[ch] as number) {
        const v = (slotOf[ch] as number) << 2
        const c4 = (nodeSym[ch] as number) << 2
        let f = 0
        if (s !== 0) {
          let x = da[s + 2] as number
          for (;;) {
            const t = (da[x] as number) + c4
            if (da[t + 1] === x) { f = t; break }
            if (x === 0) break
            x = da[x + 2] as number
          }
        }
        da[v + 2] = f
        const term = nodeTerm[ch] as number
        if (term !== -1) {
          const r = outputsAt + 2 * records++
          da[r] = term
          da[r + 1] = da[f + 3] as number
          da[v + 3] = r
        } else {
          da[v + 3] = da[f + 3] as number
        }
      }
    }
    for (let c = 1; c <= A; c++) {
      const t = (da[0] as number) + (c << 2)
      da[rootGoAt + c] = da[t + 1] === 0 ? t : 0
    }
    this.da = da
    this.lengthsAt = lengthsAt
    this.rootGoAt = rootGoAt
    this.keysAt = keysAt
    this.filterAt = filterAt
  }

  /**
   * Appends every match in `text.units[0..length)` to `hits` (stopping once `max` hits were added) and
   * returns the number added. The allocation-free primitive behind `match`, `scanText` and TextMatcher.
   */
  collect(text: NormalizedText, hits: Hits, max = MAX_HITS): number {
    const before = hits.count
    const stopAt = max >= MAX_HITS ? MAX_HITS * 3 : before + max * 3
    if (this.dense !== undefined) this.collectDense(text.units, text.length, hits, stopAt, this.dense)
    else this.collectCompact(text.units, text.length, hits, stopAt)
    return (hits.count - before) / 3
  }

  /**
   * Normalizes `text` into `normalizer` (exactly as `normalizer.run(text)` would) and collects its matches
   * into `hits` in the same pass; returns the number of hits added. Afterwards `normalizer` is the full
   * normalized view, ready for further lists — also when `max` stopped the scan early, unless
   * `completeOnStop` is false. With `keepUnits` false only `offsets` (and `source`, `length`) are filled:
   * for a caller that needs no further pass over the normalized units.
   */
  scanText(text: string, normalizer: Normalizer, hits: Hits, max = MAX_HITS, completeOnStop = true, keepUnits = true): number {
    const alpha = this.dense
    const fused = this.fused
    if (alpha === undefined || fused === undefined) return this.collect(normalizer.run(text), hits, max)
    const before = hits.count
    const stopAt = max >= MAX_HITS ? MAX_HITS * 3 : before + max * 3
    const da = this.da
    const rootGo = this.rootGoAt
    normalizer.begin(text)
    let units = normalizer.units
    let offsets = normalizer.offsets
    const L = text.length
    let n = 0
    let s = 0
    for (let i = 0; i < L; i++) {
      const v = fused[text.charCodeAt(i)] as number
      if (v === 0) continue
      const c = v >>> 16
      if (c !== 0xffff) {
        if (keepUnits) units[n] = v & 0xffff
        offsets[n] = i
        n++
        // No `c === 0` test: symbol 0 is nobody's child and rootGo[0] is the root, so the step below
        // returns to the root by itself (through the failure chain when s does not fail to the root).
        const c4 = c << 2
        const t = (da[s] as number) + c4
        const f = da[s + 2] as number
        s = da[t + 1] === s ? t : f === 0 ? (da[rootGo + c] as number) : this.failTo(f, c4)
        const e = da[s + 3] as number
        if (e !== -1 && this.emit(e, n, hits, stopAt)) {
          normalizer.length = n
          if (completeOnStop) normalizer.run(text) // finish the view for the caller
          return (hits.count - before) / 3
        }
        continue
      }
      // Expansion or surrogate pair: let the normalizer append it, then step over what it produced.
      normalizer.length = n
      i = normalizer.appendSpecial(text, i, v & 0xffff)
      units = normalizer.units
      offsets = normalizer.offsets
      const produced = normalizer.length
      for (; n < produced; n++) {
        const c = alpha[units[n] as number] as number
        if (c === 0) {
          s = 0
          continue
        }
        const c4 = c << 2
        const t = (da[s] as number) + c4
        const f = da[s + 2] as number
        s = da[t + 1] === s ? t : f === 0 ? (da[rootGo + c] as number) : this.failTo(f, c4)
        const e = da[s + 3] as number
        if (e !== -1 && this.emit(e, n + 1, hits, stopAt)) {
          if (completeOnStop) normalizer.run(text)
          else normalizer.length = n + 1
          return (hits.count - before) / 3
        }
      }
    }
    normalizer.length = n
    return (hits.count - before) / 3
  }

  /** Runs the automaton over normalized text and calls `sink` for every match; returns the number reported. */
  match(text: NormalizedText, sink: MatchSink): number {
    const hits = new Hits()
    this.collect(text, hits)
    const d = hits.data
    let reported = 0
    for (let h = 0; h < hits.count; h += 3) {
      reported++
      if (sink(d[h] as number, d[h + 1] as number, d[h + 2] as number) === true) break
    }
    return reported
  }

  /** True if any term occurs (stops at the first match). */
  test(text: NormalizedText): boolean {
    return this.collect(text, new Hits(), 1) > 0
  }

  private collectDense(units: Uint16Array, n: number, hits: Hits, stopAt: number, alpha: Uint16Array): void {
    const da = this.da
    const rootGo = this.rootGoAt
    let s = 0
    for (let i = 0; i < n; i++) {
      // Symbol 0 (a unit in no term) needs no test: it is nobody's child and rootGo[0] is the root.
      const c = alpha[units[i] as number] as number
      const c4 = c << 2
      const t = (da[s] as number) + c4
      const f = da[s + 2] as number
      // Child if it exists, else (the usual case) the root's transition when s fails to the root.
      s = da[t + 1] === s ? t : f === 0 ? (da[rootGo + c] as number) : this.failTo(f, c4)
      const e = da[s + 3] as number
      if (e !== -1 && this.emit(e, i + 1, hits, stopAt)) return
    }
  }

  private collectCompact(units: Uint16Array, n: number, hits: Hits, stopAt: number): void {
    const da = this.da
    const rootGo = this.rootGoAt
    const keysAt = this.keysAt
    const keysEnd = keysAt + this.alphabetSize - 1
    const filterAt = this.filterAt
    let s = 0
    for (let i = 0; i < n; i++) {
      const u = units[i] as number
      let c = 0
      if (((da[filterAt + ((u >> 5) & 31)] as number) & (1 << (u & 31))) !== 0) {
        let lo = keysAt
        let hi = keysEnd
        while (lo <= hi) {
          const mid = (lo + hi) >> 1
          const k = da[mid] as number
          if (k < u) lo = mid + 1
          else if (k > u) hi = mid - 1
          else {
            c = mid - keysAt + 1
            break
          }
        }
      }
      if (c === 0) {
        s = 0
        continue
      }
      const c4 = c << 2
      const t = (da[s] as number) + c4
      const f = da[s + 2] as number
      s = da[t + 1] === s ? t : f === 0 ? (da[rootGo + c] as number) : this.failTo(f, c4)
      const e = da[s + 3] as number
      if (e !== -1 && this.emit(e, i + 1, hits, stopAt)) return
    }
  }

  /** The transition on symbol ×4 `c4` from failure state `f` onwards (the slow path of the scan loops). */
  private failTo(f: number, c4: number): number {
    const da = this.da
    for (;;) {
      const t = (da[f] as number) + c4
      if (da[t + 1] === f) return t
      if (f === 0) return 0
      f = da[f + 2] as number
    }
  }

  /**
   * Appends every term on the output chain starting at record `e`, all ending at `end`, to `hits`.
   * Returns true when `hits.count` reached `stopAt` (the caller stops scanning).
   */
  private emit(e: number, end: number, hits: Hits, stopAt: number): boolean {
    const da = this.da
    const lengthsAt = this.lengthsAt
    let d = hits.data
    let k = hits.count
    for (let r = e; r !== -1; r = da[r + 1] as number) {
      const term = da[r] as number
      if (k + 3 > d.length) {
        hits.count = k
        d = hits.grow()
      }
      d[k] = term
      d[k + 1] = end - (da[lengthsAt + term] as number)
      d[k + 2] = end
      k += 3
      if (k >= stopAt) {
        hits.count = k
        return true
      }
    }
    hits.count = k
    return false
  }

  /** Normalized length of term `termIndex`. */
  termLength(termIndex: number): number {
    return this.da[this.lengthsAt + termIndex] as number
  }

  /** Approximate bytes held by this automaton: typed arrays exactly, term strings estimated. */
  memoryBytes(): number {
    let bytes = this.da.byteLength + (this.dense?.byteLength ?? 0) + (this.fused?.byteLength ?? 0)
    bytes += 8 * this.terms.length
    for (const term of this.terms) bytes += stringBytes(term)
    return bytes + 400 // objects and typed-array headers
  }
}

/**
 * A named word list: an id and name (reported with every match) over a compiled, possibly shared Automaton.
 * Several WordLists may share one Automaton (same content under different ids): the heavy part is shared.
 */
export class WordList {
  /** Builds a list with its own new automaton; see WordListRegistry for shared, cached lists. */
  static build(id: string, name: string, terms: readonly string[]): { list: WordList; rejected: RejectedTerm[]; duplicates: DuplicateTerm[] } {
    const automaton = new Automaton(terms)
    return { list: new WordList(id, name, automaton), rejected: [...automaton.report.rejected], duplicates: [...automaton.report.duplicates] }
  }

  /** Wraps an existing (shared) automaton under a list id and name. */
  constructor(
    readonly id: string,
    readonly name: string,
    readonly automaton: Automaton,
  ) {}

  /** The distinct terms as given, indexed by term index. */
  get terms(): readonly string[] {
    return this.automaton.terms
  }

  /** Number of distinct terms. */
  get size(): number {
    return this.automaton.terms.length
  }

  /**
   * Runs the list over normalized text (a Normalizer view, or an already-normalized string whose offsets
   * are the identity) and calls `sink(termIndex, normalizedStart, normalizedEnd)` per match; returns the count.
   */
  match(normalized: NormalizedText | string, sink: MatchSink): number {
    return this.automaton.match(typeof normalized === 'string' ? viewOfString(normalized) : normalized, sink)
  }

  /** All matches in a normalized view, with original spans through its offsets. */
  matches(view: NormalizedText): MatchResult[] {
    const out: MatchResult[] = []
    this.automaton.match(view, (termIndex, ns, ne) => {
      out.push(toResult(this, termIndex, ns, ne, view))
    })
    return out
  }

  /** Approximate bytes of the (possibly shared) automaton. */
  memoryBytes(): number {
    return this.automaton.memoryBytes()
  }
}

/** Builds a MatchResult for term `termIndex` of `list` at normalized [ns, ne) in `view`. */
export function toResult(list: WordList, termIndex: number, ns: number, ne: number, view: NormalizedText): MatchResult {
  const offsets = view.offsets
  return {
    listId: list.id,
    term: list.automaton.terms[termIndex] as string,
    start: offsets[ns] as number,
    end: originalEnd(view.source, offsets[ne - 1] as number),
    normalizedStart: ns,
    normalizedEnd: ne,
  }
}
