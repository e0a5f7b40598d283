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
import { Automaton, WordList, toResult, type BuildReport, type MatchResult } from './automaton'
import { Normalizer, type NormalizedText } from './normalize'

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

/** Exact-deduplicated, sorted copy of `terms` and its SHA-1 (hex): the content key of a list. */
export function contentKey(terms: readonly string[]): { key: string; canonical: string[] } {
  const canonical = [...new Set(terms)].sort()
  const hash = createHash('sha1')
  for (const term of canonical) {
    hash.update(term)
    hash.update('\n')
  }
  return { key: hash.digest('hex'), canonical }
}

/** A value cache with weak references, cleaned up as values are collected. */
class WeakCache<V extends object> {
  private readonly map = new Map<string, WeakRef<V>>()
  private readonly finalizer = new FinalizationRegistry<string>((key) => {
    const ref = this.map.get(key)
    if (ref !== undefined && ref.deref() === undefined) this.map.delete(key)
  })

  /** The live value under `key`, or undefined. */
  get(key: string): V | undefined {
    return this.map.get(key)?.deref()
  }

  /** Stores `value` under `key`. */
  set(key: string, value: V): void {
    this.map.set(key, new WeakRef(value))
    this.finalizer.register(value, key)
  }

  /** Number of keys (live or not yet cleaned up). */
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

const EMPTY: MatchResult[] = []

/** Upper bound on exception occurrences tracked per message (more are ignored: extremely unlikely). */
const MAX_EXCEPTION_HITS = 256

/**
 * Scratch space shared by every TextMatcher (scans are synchronous and never nested), so a matcher object
 * costs a few hundred bytes, not kilobytes of buffers per group.
 */
const scratch = {
  normalizer: new Normalizer(1024),
  exceptionStarts: new Int32Array(MAX_EXCEPTION_HITS),
  exceptionEnds: new Int32Array(MAX_EXCEPTION_HITS),
}

/**
 * Matches text against a fixed set of word lists with optional exceptions. Immutable after construction and
 * cheap: it only references (shared) WordLists. `scan` is synchronous and not re-entrant per instance.
 */
export class TextMatcher {
  private exceptionCount = 0
  private found = false
  private out: MatchResult[] = EMPTY
  private view: NormalizedText = scratch.normalizer
  private currentList: WordList | undefined
  private readonly sink: (termIndex: number, ns: number, ne: number) => void
  private readonly exceptionSink: (termIndex: number, ns: number, ne: number) => void
  private readonly testSink: (termIndex: number, ns: number, ne: number) => boolean

  /** A matcher over `lists` (reported in this order), suppressing matches inside `exceptions` occurrences. */
  constructor(
    readonly lists: readonly WordList[],
    readonly exceptions: WordList | undefined = undefined,
  ) {
    this.sink = (termIndex, ns, ne) => {
      if (this.exceptionCount > 0 && this.suppressed(ns, ne)) return
      this.out.push(toResult(this.currentList as WordList, termIndex, ns, ne, this.view))
    }
    this.testSink = (_termIndex, ns, ne) => {
      if (this.exceptionCount > 0 && this.suppressed(ns, ne)) return false
      this.found = true
      return true
    }
    this.exceptionSink = (_termIndex, ns, ne) => {
      const k = this.exceptionCount
      if (k >= MAX_EXCEPTION_HITS) return
      scratch.exceptionStarts[k] = ns
      scratch.exceptionEnds[k] = ne
      this.exceptionCount = k + 1
    }
  }

  /**
   * All matches in `text` that no exception suppresses, ordered by end position, then list order, then
   * longer terms first (the automaton's natural order: no sorting unless several lists matched).
   */
  scan(text: string): MatchResult[] {
    const lists = this.lists
    if (this.exceptions !== undefined || lists.length === 0) return this.scanNormalized(scratch.normalizer.run(text))
    // No exceptions: the first list normalizes and matches in one pass; the others reuse the view.
    const normalizer = scratch.normalizer
    this.view = normalizer
    this.exceptionCount = 0
    const out: MatchResult[] = []
    this.out = out
    let list = lists[0] as WordList
    this.currentList = list
    list.automaton.scanText(text, normalizer, this.sink)
    let listsWithMatches = out.length > 0 ? 1 : 0
    for (let k = 1; k < lists.length; k++) {
      list = lists[k] as WordList
      this.currentList = list
      const before = out.length
      list.automaton.match(normalizer, this.sink)
      if (out.length > before) listsWithMatches++
    }
    this.currentList = undefined
    this.out = EMPTY
    if (listsWithMatches > 1) out.sort(byEnd)
    return out
  }

  /** Like `scan` on an already normalized view (e.g. one Normalizer shared by several matchers). */
  scanNormalized(view: NormalizedText): MatchResult[] {
    this.view = view
    this.exceptionCount = 0
    if (this.exceptions !== undefined) this.exceptions.automaton.match(view, this.exceptionSink)
    const out: MatchResult[] = []
    this.out = out
    const lists = this.lists
    let listsWithMatches = 0
    for (let k = 0; k < lists.length; k++) {
      const list = lists[k] as WordList
      this.currentList = list
      const before = out.length
      list.automaton.match(view, this.sink)
      if (out.length > before) listsWithMatches++
    }
    this.currentList = undefined
    this.out = EMPTY
    if (listsWithMatches > 1) out.sort(byEnd) // stable: keeps list order and longest-first within a list
    return out
  }

  /** True if `text` has at least one match that no exception suppresses (stops early). */
  test(text: string): boolean {
    const lists = this.lists
    const normalizer = scratch.normalizer
    this.view = normalizer
    this.exceptionCount = 0
    this.found = false
    let k = 0
    if (this.exceptions !== undefined || lists.length === 0) {
      normalizer.run(text)
      if (this.exceptions !== undefined) this.exceptions.automaton.match(normalizer, this.exceptionSink)
    } else {
      ;(lists[0] as WordList).automaton.scanText(text, normalizer, this.testSink, false)
      if (this.found) return true
      k = 1
    }
    for (; k < lists.length; k++) {
      ;(lists[k] as WordList).automaton.match(normalizer, this.testSink)
      if (this.found) return true
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

  private suppressed(ns: number, ne: number): boolean {
    const starts = scratch.exceptionStarts
    const ends = scratch.exceptionEnds
    for (let k = 0; k < this.exceptionCount; k++) {
      if ((starts[k] as number) <= ns && ne <= (ends[k] as number)) return true
    }
    return false
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
