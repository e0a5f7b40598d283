/**
 * Aho–Corasick over normalized UTF-16 code units, compiled into flat typed arrays.
 *
 * Build: terms are normalized (normalize.ts), empty ones rejected, duplicates (same normalized form)
 * dropped, the rest sorted and inserted into a temporary trie (parallel Int32Arrays, no per-node objects).
 * The trie is then laid out as a DOUBLE ARRAY: every state is a slot; the child of state s on symbol c is
 * slot base[s] + c, valid iff check[that slot] === s. Failure links and dictionary-suffix ("output")
 * links are computed breadth-first on that layout.
 *
 * Layout (one Int32Array `da`, four int32 per slot, state ids pre-multiplied by 4 = index of the slot):
 *   da[s]     base  (×4)     child of s on symbol c is t = da[s] + 4c, valid iff da[t + 1] === s
 *   da[s + 1] check          the parent state, -1 for a free slot
 *   da[s + 2] fail           failure state
 *   da[s + 3] emit           first state on the failure chain of s (s itself included) that ends a term, or -1
 * plus, per slot, termOf (term index ending exactly there, or -1) and next (the next emitting state on the
 * failure chain after a terminal state, or -1): following emit → next → … reports every term that ends at
 * the current position, overlapping ones included.
 *
 * Code units are first mapped to dense symbols 1..A (0 = the unit occurs in no term, which sends the
 * automaton straight back to the root). Large alphabets use a 65,536-entry table; small ones (per-group
 * lists) a 1,024-bit filter plus binary search, so a five-term list costs about a kilobyte, not 128 KB.
 */
import { normalizeTerm, originalEnd, type NormalizedText } from './normalize'

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

/**
 * A compiled, immutable multi-pattern automaton. Shared by every WordList (and so every group) built from
 * the same content; holds no per-scan state, so one instance can serve any number of concurrent scans.
 */
export class Automaton {
  /** Terms as given (first spelling of each distinct normalized form), indexed by term index. */
  readonly terms: readonly string[]
  /** Normalized length of each term, by term index. */
  readonly termLengths: Int32Array
  /** Terms refused and terms dropped as duplicates while building. */
  readonly report: BuildReport
  /** Number of automaton states (trie nodes, root included). */
  readonly stateCount: number
  /** Number of distinct code units in the normalized terms. */
  readonly alphabetSize: number
  /** Content key given by the builder (e.g. a hash of the term list), '' if none. */
  readonly contentKey: string

  private readonly da: Int32Array
  private readonly termOf: Int32Array
  private readonly next: Int32Array
  /** Dense symbol map (65,536 entries), or undefined when the compact map is used. */
  private readonly dense: Uint16Array | Uint32Array | undefined
  /** Compact symbol map: sorted code units (symbol = index + 1) and a 1,024-bit filter on unit & 1023. */
  private readonly compactKeys: Uint16Array
  private readonly compactFilter: Uint32Array

  /** Builds the automaton for `terms` (see the module comment); `contentKey` is stored as given. */
  constructor(terms: readonly string[], contentKey = '') {
    this.contentKey = contentKey
    const rejected: RejectedTerm[] = []
    const duplicates: DuplicateTerm[] = []
    const originals: string[] = []
    const normalized: string[] = []
    const seen = new Map<string, number>()
    for (const term of terms) {
      const norm = normalizeTerm(term)
      if (norm.length === 0) {
        rejected.push({
          term,
          reason: 'empty after normalization: only spaces, punctuation, symbols, emoji or invisible characters',
        })
        continue
      }
      const earlier = seen.get(norm)
      if (earlier !== undefined) {
        if (originals[earlier] !== term) duplicates.push({ term, duplicateOf: originals[earlier] as string })
        else duplicates.push({ term, duplicateOf: term })
        continue
      }
      seen.set(norm, originals.length)
      originals.push(term)
      normalized.push(norm)
    }
    this.terms = originals
    this.report = { rejected, duplicates }
    const termCount = originals.length
    this.termLengths = new Int32Array(termCount)
    let totalUnits = 0
    for (let k = 0; k < termCount; k++) {
      const len = (normalized[k] as string).length
      this.termLengths[k] = len
      totalUnits += len
    }

    // ---- alphabet: distinct code units; symbols 1..A -------------------------------------------------
    // Large alphabets number symbols by decreasing frequency in the terms: the children of a state then sit
    // at small offsets from its base, and lookups for common characters stay within a few cache lines.
    // Small (compact) alphabets number them in code-unit order, as the binary search needs.
    const freq = new Uint32Array(0x10000)
    for (const norm of normalized) for (let i = 0; i < norm.length; i++) freq[norm.charCodeAt(i)]++
    const units: number[] = []
    for (let u = 0; u < 0x10000; u++) if (freq[u] !== 0) units.push(u)
    const alphabetSize = units.length
    this.alphabetSize = alphabetSize
    const compact = alphabetSize <= COMPACT_ALPHABET_MAX
    if (!compact) units.sort((a, b) => (freq[b] as number) - (freq[a] as number) || a - b)
    const symbolOf = new Uint32Array(0x10000)
    units.forEach((u, k) => {
      symbolOf[u] = k + 1
    })
    if (!compact) {
      this.dense = alphabetSize < 0xffff ? Uint16Array.from(symbolOf) : symbolOf
      this.compactKeys = new Uint16Array(0)
      this.compactFilter = new Uint32Array(0)
    } else {
      this.dense = undefined
      this.compactKeys = Uint16Array.from(units)
      this.compactFilter = new Uint32Array(32)
      for (const u of units) this.compactFilter[(u >> 5) & 31] |= 1 << (u & 31)
    }

    // ---- trie from the terms sorted by symbol sequence (children are appended in increasing symbol order)
    const symbolic: string[] = new Array(termCount)
    for (let k = 0; k < termCount; k++) {
      const norm = normalized[k] as string
      let mapped = ''
      for (let i = 0; i < norm.length; i++) mapped += String.fromCharCode(symbolOf[norm.charCodeAt(i)] as number)
      symbolic[k] = mapped
    }
    const order = Array.from({ length: termCount }, (_, k) => k)
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
    let nodeCount = 1 // node 0 = root
    let maxLen = 0
    for (const norm of normalized) if (norm.length > maxLen) maxLen = norm.length
    const path = new Int32Array(maxLen + 1) // path[d] = node at depth d of the previous term
    let prev = ''
    for (const k of order) {
      const norm = symbolic[k] as string
      let lcp = 0
      const limit = Math.min(prev.length, norm.length)
      while (lcp < limit && prev.charCodeAt(lcp) === norm.charCodeAt(lcp)) lcp++
      for (let d = lcp; d < norm.length; d++) {
        const parent = path[d] as number
        const node = nodeCount++
        nodeSym[node] = norm.charCodeAt(d)
        if (firstChild[parent] === -1) firstChild[parent] = node
        else nextSibling[lastChild[parent] as number] = node
        lastChild[parent] = node
        childCount[parent]++
        path[d + 1] = node
      }
      nodeTerm[path[norm.length] as number] = k
      prev = norm
    }
    this.stateCount = nodeCount

    // ---- double-array placement, breadth first ------------------------------------------------------
    let capacity = Math.max(64, nodeCount + alphabetSize + 2)
    let check = new Int32Array(capacity).fill(-1)
    let base = new Int32Array(capacity)
    // Union–find "next free slot ≥ p": free[p] === p for a free slot; used slots point further right.
    let free = new Int32Array(capacity)
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
        const up = free[r] as number
        ensure(up + 1)
        r = up
      }
      // path compression
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
    slotOf[0] = 0
    occupy(0)
    check[0] = -2 // the root is nobody's child
    let maxSlot = 0
    const queue = new Int32Array(nodeCount)
    let head = 0
    let tail = 0
    queue[tail++] = 0
    const childSyms: number[] = []
    while (head < tail) {
      const node = queue[head++] as number
      const slot = slotOf[node] as number
      if (childCount[node] === 0) {
        base[slot] = 0 // leaf: any lookup lands on a slot whose check is not `slot`
        continue
      }
      childSyms.length = 0
      for (let ch = firstChild[node] as number; ch !== -1; ch = nextSibling[ch] as number) childSyms.push(nodeSym[ch] as number)
      const c0 = childSyms[0] as number
      let pos = findFree(c0 + 1) // base = pos - c0 ≥ 1
      let b = 0
      for (;;) {
        b = pos - c0
        let ok = true
        for (let j = 1; j < childSyms.length; j++) {
          const q = b + (childSyms[j] as number)
          ensure(q + 1)
          if (check[q] !== -1) { ok = false; break }
        }
        if (ok) break
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
        queue[tail++] = ch
      }
    }

    // ---- final arrays: pad so that base + any symbol stays in bounds --------------------------------
    let maxBase = 0
    for (let p = 0; p <= maxSlot; p++) if ((base[p] as number) > maxBase) maxBase = base[p] as number
    const slots = Math.max(maxSlot, maxBase + alphabetSize) + 1
    const da = new Int32Array(slots * 4)
    for (let p = 0; p < slots; p++) {
      const s = p << 2
      if (p <= maxSlot) {
        da[s] = (base[p] as number) << 2
        const c = check[p] as number
        da[s + 1] = c >= 0 ? c << 2 : -1
      } else {
        da[s + 1] = -1
      }
      da[s + 3] = -1
    }
    da[1] = -1
    const termOf = new Int32Array(slots).fill(-1)
    const next = new Int32Array(slots).fill(-1)
    for (let node = 0; node < nodeCount; node++) {
      const t = nodeTerm[node] as number
      if (t !== -1) termOf[slotOf[node] as number] = t
    }

    // ---- failure and output links, breadth first over the trie (queue already holds BFS order) --------
    for (let qi = 0; qi < nodeCount; qi++) {
      const node = queue[qi] as number
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
        const vTerm = termOf[v >> 2] as number
        const fEmit = da[f + 3] as number
        if (vTerm !== -1) {
          da[v + 3] = v
          next[v >> 2] = fEmit
        } else {
          da[v + 3] = fEmit
        }
      }
    }
    this.da = da
    this.termOf = termOf
    this.next = next
  }

  /** Runs the automaton over `text.units[0..length)` and calls `sink` for every match; returns the count. */
  match(text: NormalizedText, sink: MatchSink): number {
    return this.dense !== undefined ? this.matchDense(text, sink, this.dense) : this.matchCompact(text, sink)
  }

  /** True if any term occurs (stops at the first match). */
  test(text: NormalizedText): boolean {
    let found = false
    this.match(text, () => {
      found = true
      return true
    })
    return found
  }

  private matchDense(text: NormalizedText, sink: MatchSink, alpha: Uint16Array | Uint32Array): number {
    const da = this.da
    const units = text.units
    const n = text.length
    let count = 0
    let s = 0
    for (let i = 0; i < n; i++) {
      const c = alpha[units[i] as number] as number
      if (c === 0) {
        s = 0
        continue
      }
      const c4 = c << 2
      for (;;) {
        const t = (da[s] as number) + c4
        if (da[t + 1] === s) {
          s = t
          break
        }
        if (s === 0) break
        s = da[s + 2] as number
      }
      const e = da[s + 3] as number
      if (e !== -1) {
        const r = this.emit(e, i + 1, sink)
        if (r < 0) return count + ~r
        count += r
      }
    }
    return count
  }

  private matchCompact(text: NormalizedText, sink: MatchSink): number {
    const da = this.da
    const keys = this.compactKeys
    const filter = this.compactFilter
    const units = text.units
    const n = text.length
    let count = 0
    let s = 0
    for (let i = 0; i < n; i++) {
      const u = units[i] as number
      let c = 0
      if (((filter[(u >> 5) & 31] as number) & (1 << (u & 31))) !== 0) {
        let lo = 0
        let hi = keys.length - 1
        while (lo <= hi) {
          const mid = (lo + hi) >> 1
          const k = keys[mid] as number
          if (k < u) lo = mid + 1
          else if (k > u) hi = mid - 1
          else {
            c = mid + 1
            break
          }
        }
      }
      if (c === 0) {
        s = 0
        continue
      }
      const c4 = c << 2
      for (;;) {
        const t = (da[s] as number) + c4
        if (da[t + 1] === s) {
          s = t
          break
        }
        if (s === 0) break
        s = da[s + 2] as number
      }
      const e = da[s + 3] as number
      if (e !== -1) {
        const r = this.emit(e, i + 1, sink)
        if (r < 0) return count + ~r
        count += r
      }
    }
    return count
  }

  /**
   * Reports every term on the output chain starting at emitting state `e`, all ending at `end`.
   * Returns the number reported, or its bitwise complement (negative) when the sink asked to stop.
   */
  private emit(e: number, end: number, sink: MatchSink): number {
    let count = 0
    for (let t = e; t !== -1; t = this.next[t >> 2] as number) {
      const term = this.termOf[t >> 2] as number
      count++
      if (sink(term, end - (this.termLengths[term] as number), end) === true) return ~count
    }
    return count
  }

  /** Approximate bytes held by this automaton: typed arrays exactly, term strings estimated. */
  memoryBytes(): number {
    let bytes = this.da.byteLength + this.termOf.byteLength + this.next.byteLength + this.termLengths.byteLength
    bytes += (this.dense?.byteLength ?? 0) + this.compactKeys.byteLength + this.compactFilter.byteLength
    bytes += 8 * this.terms.length
    for (const term of this.terms) bytes += stringBytes(term)
    return bytes + 256 // object headers and fields
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
    return { list: new WordList(id, name, automaton), ...automaton.report }
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
