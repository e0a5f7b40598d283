/**
 * Group-level sensitive-word matching: shared global word lists + per-group additions + per-group exceptions.
 *
 * Sharing. A compiled Automaton is cached by the CONTENT of its term list (a SHA-1 of the exact-deduplicated,
 * sorted terms), so every list with the same content — whatever its id — uses one automaton; a WordList (id +
 * name + automaton) is cached by (id, name, content), so `registry.get(sameTerms, sameIdentity)` returns the
 * same instance. `matcherFor(config)` caches TextMatchers by the combination (global lists, additions,
 * exceptions): 1,000 groups on the same global lists share the global automata, and each group costs only its
 * own small automata (about a kilobyte each) plus a TextMatcher object. Caches hold WeakRefs: what no group
 * uses any more can be collected.
 *
 * Exceptions (per group). An exception is a term, normalized like list terms. A match (from any list, global
 * or the group's own) is SUPPRESSED when its normalized span lies inside an occurrence of an exception in the
 * same message: exceptionStart ≤ matchStart and matchEnd ≤ exceptionEnd. So the exception `加微信群公告`
 * suppresses `加微信` inside `请看加微信群公告`, but not a second, separate `加微信` in the same message; and an
 * exception equal to a term (after normalization) whitelists that term for the group. Exceptions never create
 * matches and do not hide partly overlapping matches.
 */
import { createHash } from 'node:crypto'
import { Automaton, Hits, WordList, type BuildReport, type MatchResult } from './automaton'
import { Normalizer, type NormalizedText } from './normalize'

/** One match: list id, term as given, original and normalized spans (see automaton.ts). */
export type { MatchResult } from './automaton'

/** Identity given to a list fetched from the registry. */
export interface ListIdentity {
  /** Id reported in matches; defaults to `list:<content hash prefix>`. */
  id?: string
  /** Human-readable name; defaults to the id. */
  name?: string
}

/** What decides a group's matcher. */
export interface GroupWordConfig {
  /** Global (shared) lists in force for the group, e.g. from rules/ files or uploaded through the API. */
  lists: readonly WordList[]
  /** The group's own extra terms. */
  additions?: readonly string[]
  /** The group's exceptions (see the module comment for the semantics). */
  exceptions?: readonly string[]
}

/** Id and name under which a group's own additions are reported. */
export const GROUP_ADDITIONS_ID = 'group'
/** Id of a group's exception list (never reported: exceptions do not match). */
export const GROUP_EXCEPTIONS_ID = 'group-exceptions'

/** Exact-deduplicated, sorted copy of `terms` and its SHA-1 (base64url): the content key of a list. */
export function contentKey(terms: readonly string[]): { key: string; canonical: string[] } {
  const canonical = [...new Set(terms)].sort()
  const hash = createHash('sha1')
  for (const term of canonical) {
    hash.update(term)
    hash.update('\n')
  }
  return { key: hash.digest('base64url'), canonical }
}

/**
 * A value cache with weak references: values no one else holds can be collected. Entries whose value was
 * collected are swept when the map has doubled since the last sweep (cheaper than a finalizer per entry).
 */
class WeakCache<V extends object> {
  private readonly map = new Map<string, WeakRef<V>>()
  private sweepAt = 64

  /** The live value under `key`, or undefined. */
  get(key: string): V | undefined {
    return this.map.get(key)?.deref()
  }

  /** Stores `value` under `key`. */
  set(key: string, value: V): void {
    this.map.set(key, new WeakRef(value))
    if (this.map.size >= this.sweepAt) {
      for (const [k, ref] of this.map) if (ref.deref() === undefined) this.map.delete(k)
      this.sweepAt = Math.max(64, this.map.size * 2)
    }
  }

  /** Number of keys (live, or collected and not yet swept). */
  get size(): number {
    return this.map.size
  }
}

/** Builds and caches automata by content and word lists by (identity, content). */
export class WordListRegistry {
  private readonly automata = new WeakCache<Automaton>()
  private readonly lists = new WeakCache<WordList>()

  /** The shared WordList for `terms` under `identity`: the same instance for the same content and identity. */
  get(terms: readonly string[], identity: ListIdentity = {}): WordList {
    return this.getWithReport(terms, identity).list
  }

  /** Like `get`, also returning the build report (rejected and duplicate terms) of the shared automaton. */
  getWithReport(terms: readonly string[], identity: ListIdentity = {}): { list: WordList } & BuildReport {
    const { key, canonical } = contentKey(terms)
    const id = identity.id ?? `list:${key.slice(0, 12)}`
    const name = identity.name ?? id
    const listKey = `${id}\u0000${name}\u0000${key}`
    let list = this.lists.get(listKey)
    if (list === undefined) {
      let automaton = this.automata.get(key)
      if (automaton === undefined) {
        automaton = new Automaton(canonical, key)
        this.automata.set(key, automaton)
      }
      list = new WordList(id, name, automaton)
      this.lists.set(listKey, list)
    }
    return { list, ...list.automaton.report }
  }

  /** Number of cached automata (including ones about to be collected). */
  get automatonCount(): number {
    return this.automata.size
  }
}

/** Upper bound on exception occurrences tracked per message (more are ignored: extremely unlikely). */
const MAX_EXCEPTION_HITS = 256

/**
 * Scratch space shared by every TextMatcher (scans are synchronous and never nested), so a matcher object
 * costs a few dozen bytes, not kilobytes of buffers per group.
 */
const scratch = {
  normalizer: new Normalizer(1024),
  hits: new Hits(64),
  exceptionHits: new Hits(16),
}

/** True if normalized [ns, ne) lies inside one of the first `count` exception hits in scratch. */
function suppressed(ns: number, ne: number, count: number): boolean {
  const d = scratch.exceptionHits.data
  for (let h = 0, end = count * 3; h < end; h += 3) {
    if ((d[h + 1] as number) <= ns && ne <= (d[h + 2] as number)) return true
  }
  return false
}

/**
 * Turns the scratch hits from index `from` on (found by `list` in `view`) into MatchResults appended to
 * `out`, skipping hits inside one of the first `exceptions` exception hits; returns how many were added.
 */
function appendResults(out: MatchResult[], list: WordList, from: number, view: NormalizedText, exceptions: number): number {
  const hits = scratch.hits
  const d = hits.data
  const to = hits.count
  const offsets = view.offsets
  const source = view.source
  const terms = list.automaton.terms
  const listId = list.id
  let added = 0
  for (let h = from; h < to; h += 3) {
    const ns = d[h + 1] as number
    const ne = d[h + 2] as number
    if (exceptions > 0 && suppressed(ns, ne, exceptions)) continue
    const last = offsets[ne - 1] as number
    const c = source.charCodeAt(last)
    // Normalized units only ever point at a BMP character or at the high half of a valid surrogate pair.
    out.push({
      listId,
      term: terms[d[h] as number] as string,
      start: offsets[ns] as number,
      end: c >= 0xd800 && c <= 0xdbff ? last + 2 : last + 1,
      normalizedStart: ns,
      normalizedEnd: ne,
    })
    added++
  }
  return added
}

/**
 * Matches text against a fixed set of word lists with optional exceptions. Immutable after construction and
 * cheap (it only references shared WordLists); scans use module-level scratch buffers and are synchronous.
 */
export class TextMatcher {
  /** A matcher over `lists` (reported in this order), suppressing matches inside `exceptions` occurrences. */
  constructor(
    readonly lists: readonly WordList[],
    readonly exceptions: WordList | undefined = undefined,
  ) {}

  /**
   * All matches in `text` that no exception suppresses, ordered by end position, then list order, then
   * longer terms first (the automaton's natural order: no sorting unless several lists matched).
   */
  scan(text: string): MatchResult[] {
    const lists = this.lists
    const normalizer = scratch.normalizer
    const hits = scratch.hits
    hits.count = 0
    const out: MatchResult[] = []
    let exceptions = 0
    let k = 0
    if (this.exceptions === undefined && lists.length > 0) {
      // The first list normalizes and matches in one pass; the others reuse the normalized view.
      const first = lists[0] as WordList
      first.automaton.scanText(text, normalizer, hits, undefined, true, lists.length > 1)
      appendResults(out, first, 0, normalizer, 0)
      k = 1
    } else {
      normalizer.run(text)
      if (this.exceptions !== undefined) {
        scratch.exceptionHits.count = 0
        exceptions = this.exceptions.automaton.collect(normalizer, scratch.exceptionHits, MAX_EXCEPTION_HITS)
      }
    }
    let listsWithMatches = out.length > 0 ? 1 : 0
    for (; k < lists.length; k++) {
      const list = lists[k] as WordList
      const from = hits.count
      list.automaton.collect(normalizer, hits)
      if (appendResults(out, list, from, normalizer, exceptions) > 0) listsWithMatches++
    }
    if (listsWithMatches > 1) out.sort(byEnd) // stable: keeps list order and longest-first within a list
    return out
  }

  /** Like `scan` on an already normalized view (e.g. one Normalizer shared by several matchers). */
  scanNormalized(view: NormalizedText): MatchResult[] {
    const hits = scratch.hits
    hits.count = 0
    let exceptions = 0
    if (this.exceptions !== undefined) {
      scratch.exceptionHits.count = 0
      exceptions = this.exceptions.automaton.collect(view, scratch.exceptionHits, MAX_EXCEPTION_HITS)
    }
    const out: MatchResult[] = []
    let listsWithMatches = 0
    for (const list of this.lists) {
      const from = hits.count
      list.automaton.collect(view, hits)
      if (appendResults(out, list, from, view, exceptions) > 0) listsWithMatches++
    }
    if (listsWithMatches > 1) out.sort(byEnd)
    return out
  }

  /** True if `text` has at least one match that no exception suppresses (stops as early as it can). */
  test(text: string): boolean {
    const lists = this.lists
    if (lists.length === 0) return false
    const normalizer = scratch.normalizer
    const hits = scratch.hits
    hits.count = 0
    if (this.exceptions === undefined) {
      if ((lists[0] as WordList).automaton.scanText(text, normalizer, hits, 1, false) > 0) return true
      for (let k = 1; k < lists.length; k++) if ((lists[k] as WordList).automaton.collect(normalizer, hits, 1) > 0) return true
      return false
    }
    normalizer.run(text)
    scratch.exceptionHits.count = 0
    const exceptions = this.exceptions.automaton.collect(normalizer, scratch.exceptionHits, MAX_EXCEPTION_HITS)
    for (const list of lists) {
      hits.count = 0
      list.automaton.collect(normalizer, hits)
      const d = hits.data
      for (let h = 0; h < hits.count; h += 3) {
        if (!suppressed(d[h + 1] as number, d[h + 2] as number, exceptions)) return true
      }
    }
    return false
  }

  /** Bytes of the lists this matcher references (shared ones counted in full). */
  memoryBytes(): number {
    let bytes = 0
    const seen = new Set<Automaton>()
    for (const list of [...this.lists, ...(this.exceptions ? [this.exceptions] : [])]) {
      if (seen.has(list.automaton)) continue
      seen.add(list.automaton)
      bytes += list.memoryBytes()
    }
    return bytes
  }
}

/** Sort order of scan results across lists (a stable sort keeps each list's own order for equal ends). */
function byEnd(a: MatchResult, b: MatchResult): number {
  return a.normalizedEnd - b.normalizedEnd
}

/** Builds group matchers from a registry and caches them by their configuration. */
export class MatcherFactory {
  private readonly matchers = new WeakCache<TextMatcher>()

  /** A factory over `registry` (a private one by default). */
  constructor(readonly registry: WordListRegistry = new WordListRegistry()) {}

  /** The (cached, shared) matcher for a group's configuration. */
  matcherFor(config: GroupWordConfig): TextMatcher {
    const additions = config.additions ?? []
    const exceptions = config.exceptions ?? []
    const addKey = additions.length > 0 ? contentKey(additions).key : ''
    const excKey = exceptions.length > 0 ? contentKey(exceptions).key : ''
    const listKey = config.lists.map((l) => `${l.id}\u0001${l.name}\u0001${l.automaton.contentKey || identityKey(l)}`).join('\u0002')
    const key = `${listKey}\u0003${addKey}\u0003${excKey}`
    let matcher = this.matchers.get(key)
    if (matcher === undefined) {
      const lists = [...config.lists]
      if (additions.length > 0) {
        const own = this.registry.get(additions, { id: GROUP_ADDITIONS_ID, name: 'group additions' })
        if (own.size > 0) lists.push(own)
      }
      let exceptionList: WordList | undefined
      if (exceptions.length > 0) {
        exceptionList = this.registry.get(exceptions, { id: GROUP_EXCEPTIONS_ID, name: 'group exceptions' })
        if (exceptionList.size === 0) exceptionList = undefined
      }
      matcher = new TextMatcher(lists, exceptionList)
      this.matchers.set(key, matcher)
    }
    return matcher
  }

  /** Number of cached matchers (including ones about to be collected). */
  get matcherCount(): number {
    return this.matchers.size
  }
}

/** Stable per-object key for lists built outside a registry (no content key). */
const identityKeys = new WeakMap<WordList, string>()
let identitySeq = 0
function identityKey(list: WordList): string {
  let key = identityKeys.get(list)
  if (key === undefined) {
    key = `#${++identitySeq}`
    identityKeys.set(list, key)
  }
  return key
}

/** The process-wide factory (and registry) used by `matcherFor`. */
export const defaultMatcherFactory = new MatcherFactory()

/** The cached matcher for a group's configuration, from the process-wide factory. */
export function matcherFor(config: GroupWordConfig): TextMatcher {
  return defaultMatcherFactory.matcherFor(config)
}

/** Splits a word-list file into terms: one per line, trimmed, blank lines skipped. */
export function parseTermLines(text: string): string[] {
  const out: string[] = []
  for (const line of text.split(/\r?\n/)) {
    const term = line.trim()
    if (term.length > 0) out.push(term)
  }
  return out
}
