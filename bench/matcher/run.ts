/**
 * Sensitive-word matcher benchmark (see README.md): our normalizing flat-array Aho–Corasick vs mint-filter and
 * modern-ahocorasick, on the public lexicon (../shared/data/lexicon/all.txt) and 100,000 generated Chinese
 * messages, ~2% of which carry a lexicon term disguised with evasions.
 *
 *   npx ts-node --transpile-only bench/matcher/run.ts [--messages N] [--rounds N] [--chunk N] [--sample N] [--seed N] [--quick]
 *
 * Re-runs itself under `node --expose-gc` (for heap measurements). Timing is robust to a shared, busy machine:
 * the messages are cut into chunks (20,000 by default); every engine runs every chunk `rounds` times,
 * interleaved with the other engines, and its time is the sum over chunks of its fastest run of that chunk (wall clock; process CPU time is
 * measured the same way and printed too). `--quick` skips the slow
 * modern-ahocorasick runs and most of the brute-force sample, for optimization loops.
 * Ends with one line `BENCH {json}`; exits 1 when a correctness check fails.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { resolve } from 'node:path'
import type { MatchResult } from '../../src/text/automaton'
import { MatcherFactory, parseTermLines, type TextMatcher } from '../../src/text/matcher'
import { normalize, normalizeTerm, originalEnd, warmUpNormalizer } from '../../src/text/normalize'
import { T2S_BMP_PAIRS } from '../../src/text/t2s-data'
import { seededRandom, type Random } from '../../src/ports/random'
import { GROUP_THEMES, messageText } from '../../src/simulation/chatter'

const LEXICON = resolve(__dirname, '../../../shared/data/lexicon/all.txt')
/** The issue's goals. */
const GOALS = { throughputRatio: 10, buildMs: 1000, automatonBytes: 32 * 1024 * 1024 }

interface Args { messages: number; rounds: number; chunk: number; sample: number; seed: number; quick: boolean }

function parseArgs(argv: string[]): Args {
  const args: Args = { messages: 100_000, rounds: 5, chunk: 20_000, sample: 2_000, seed: 20240601, quick: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = Number(argv[i + 1])
    const need = (): number => {
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`)
      i++
      return v
    }
    if (a === '--messages') args.messages = need()
    else if (a === '--rounds') args.rounds = need()
    else if (a === '--sample') args.sample = need()
    else if (a === '--chunk') args.chunk = need()
    else if (a === '--quick') args.quick = true
    else if (a === '--seed') args.seed = need()
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench/matcher/run.ts [--messages N] [--rounds N] [--chunk N] [--sample N] [--seed N] [--quick]')
      process.exit(0)
    } else throw new Error(`unknown option ${a}`)
  }
  return args
}

// ---------------------------------------------------------------------------------------------
// Competitors (installed with --no-save; APIs per their READMEs)
// ---------------------------------------------------------------------------------------------

/** mint-filter 4.x: `new Mint(words)`, `filter(text, { replace })` → { words, text }, `verify(text)` → clean? */
interface MintFilter {
  filter(text: string, options?: { replace?: boolean }): { words: string[]; text: string }
  verify(text: string): boolean
}
/** modern-ahocorasick 3.x: `new AhoCorasick(patterns)`, `search(text)` → all matches with UTF-16 ranges. */
interface ModernAhoCorasick {
  search(text: string): Array<{ pattern: string; start: number; end: number }>
  match(text: string): boolean
}

function loadCompetitors(): { Mint: new (words: string[]) => MintFilter; AhoCorasick: new (patterns: string[]) => ModernAhoCorasick } {
  try {
    const mint = require('mint-filter') as { Mint: new (words: string[]) => MintFilter }
    const AhoCorasick = require('modern-ahocorasick') as new (patterns: string[]) => ModernAhoCorasick
    return { Mint: mint.Mint, AhoCorasick }
  } catch {
    console.error('bench/matcher: competitors missing. Run: npm install --no-save mint-filter@4.0.3 modern-ahocorasick@3.3.0')
    process.exit(1)
  }
}

// ---------------------------------------------------------------------------------------------
// Messages and evasions
// ---------------------------------------------------------------------------------------------

/** Simplified character → traditional spellings, from our own t2s table (reverse direction). */
function simplifiedToTraditional(): Map<string, string[]> {
  const map = new Map<string, string[]>()
  for (let i = 0; i + 1 < T2S_BMP_PAIRS.length; i += 2) {
    const t = T2S_BMP_PAIRS[i] as string
    const s = T2S_BMP_PAIRS[i + 1] as string
    const list = map.get(s)
    if (list) list.push(t)
    else map.set(s, [t])
  }
  return map
}

const NOISE = ['.', ' ', '*', '-', '_', '·', '|', '~', '✨', '。', '、', '/', '😊', '　']
const ZERO_WIDTH = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad']
type Evasion = 'noise' | 'zero-width' | 'full-width' | 'upper' | 'traditional' | 'circled' | 'math' 
const EVASIONS: Evasion[] = ['noise', 'zero-width', 'full-width', 'upper', 'traditional', 'circled', 'math']

/** `term` disguised with 1–3 evasions (character folds first, then insertions between characters). */
function evade(term: string, random: Random, t2: Map<string, string[]>): { text: string; used: Evasion[] } {
  const used = new Set<Evasion>()
  const n = random.int(1, 3)
  while (used.size < n) used.add(random.pick(EVASIONS))
  let chars = Array.from(term)
  const mapChars = (f: (c: string) => string): void => {
    chars = chars.map(f)
  }
  if (used.has('traditional')) mapChars((c) => (t2.has(c) && random.next() < 0.8 ? random.pick(t2.get(c) as string[]) : c))
  if (used.has('upper')) mapChars((c) => c.toUpperCase())
  if (used.has('circled')) mapChars((c) => (c >= '1' && c <= '9' ? String.fromCharCode(0x2460 + c.charCodeAt(0) - 0x31) : c === '0' ? '⓪' : c))
  if (used.has('math')) {
    mapChars((c) => {
      const u = c.charCodeAt(0)
      if (u >= 0x61 && u <= 0x7a) return String.fromCodePoint(0x1d41a + u - 0x61)
      if (u >= 0x41 && u <= 0x5a) return String.fromCodePoint(0x1d400 + u - 0x41)
      if (u >= 0x30 && u <= 0x39) return String.fromCodePoint(0x1d7ce + u - 0x30)
      return c
    })
  }
  if (used.has('full-width')) mapChars((c) => (c.length === 1 && c >= '!' && c <= '~' ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c))
  const between: string[][] = []
  if (used.has('noise')) between.push(NOISE)
  if (used.has('zero-width')) between.push(ZERO_WIDTH)
  let out = chars[0] as string
  for (let i = 1; i < chars.length; i++) {
    for (const pool of between) if (random.next() < 0.6) out += random.pick(pool)
    out += chars[i] as string
  }
  return { text: out, used: [...used] }
}

interface Injection { index: number; term: string; disguised: string }

/** Deterministic messages; ~2% get a lexicon term (CJK, 2–8 normalized units) with evasions inserted. */
function generate(args: Args, terms: string[]): { messages: string[]; injections: Injection[] } {
  const random = seededRandom(args.seed)
  const t2 = simplifiedToTraditional()
  const candidates = terms.filter((t) => /[\u4e00-\u9fff]/.test(t) && normalizeTerm(t).length >= 2 && normalizeTerm(t).length <= 8)
  const messages: string[] = []
  const injections: Injection[] = []
  for (let i = 0; i < args.messages; i++) {
    let text = messageText(random, 5, 60, random.pick(GROUP_THEMES))
    if (random.next() < 0.02) {
      const term = random.pick(candidates)
      const { text: disguised } = evade(term, random, t2)
      let at = random.int(0, text.length)
      const c = text.charCodeAt(at)
      if (c >= 0xdc00 && c <= 0xdfff) at-- // do not split a surrogate pair
      text = text.slice(0, at) + disguised + text.slice(at)
      injections.push({ index: i, term, disguised })
    }
    messages.push(text)
  }
  // Generated strings are concatenation ropes; real messages arrive flat (JSON-decoded). Flatten them all.
  return { messages: JSON.parse(JSON.stringify(messages)) as string[], injections }
}

// ---------------------------------------------------------------------------------------------
// Measurement helpers
// ---------------------------------------------------------------------------------------------

/** Heap + array-buffer bytes after full GCs (needs --expose-gc). */
function usedBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) { gc(); gc() }
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

/** An engine under test: `run(texts)` processes a batch and returns its match count. */
interface Engine {
  name: string
  run: (texts: readonly string[]) => number
  /** Per chunk: fastest wall time (ms) and fastest process CPU time (ms) over the rounds. */
  bestWall: number[]
  bestCpu: number[]
  /** Per round: total wall time over all chunks (for the median). */
  roundWall: number[]
  matches: number
}

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1)
const rate = (n: number, ms: number): number => Math.round((n / ms) * 1000)
const fmt = (n: number): string => n.toLocaleString('en-US')

function main(): void {
  if (!(globalThis as { gc?: unknown }).gc && process.env.MATCHER_BENCH_CHILD !== '1') {
    const child = spawnSync(process.execPath, ['--expose-gc', '-r', 'ts-node/register/transpile-only', __filename, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, MATCHER_BENCH_CHILD: '1' },
    })
    process.exit(child.status ?? 1)
  }
  const args = parseArgs(process.argv.slice(2))
  if (!existsSync(LEXICON)) {
    console.error(`bench/matcher: lexicon not found at ${LEXICON} (expected ../shared/data/lexicon/all.txt next to the project). Nothing to benchmark.`)
    process.exit(1)
  }
  const { Mint, AhoCorasick } = loadCompetitors()
  const terms = parseTermLines(readFileSync(LEXICON, 'utf8'))
  console.log(`lexicon: ${fmt(terms.length)} terms from ${LEXICON}`)

  // ---- build ------------------------------------------------------------------------------------------
  /** CPU milliseconds of this process since `from`. */
  const cpuMs = (from: NodeJS.CpuUsage): number => {
    const d = process.cpuUsage(from)
    return (d.user + d.system) / 1000
  }
  let t0 = performance.now()
  let c0 = process.cpuUsage()
  warmUpNormalizer()
  const tablesMs = performance.now() - t0
  const tablesCpuMs = cpuMs(c0)
  const factory = new MatcherFactory()
  let before = usedBytes()
  t0 = performance.now()
  c0 = process.cpuUsage()
  const built = factory.registry.getWithReport(terms, { id: 'lexicon', name: 'public lexicon' })
  const oursBuildMs = performance.now() - t0
  const oursBuildCpuMs = cpuMs(c0)
  const list = built.list
  const ours: TextMatcher = factory.matcherFor({ lists: [list] })
  const oursHeap = usedBytes() - before
  const oursBytes = list.memoryBytes()

  before = usedBytes()
  t0 = performance.now()
  c0 = process.cpuUsage()
  const mint = new Mint(terms)
  const mintBuildMs = performance.now() - t0
  const mintBuildCpuMs = cpuMs(c0)
  const mintHeap = usedBytes() - before

  before = usedBytes()
  t0 = performance.now()
  c0 = process.cpuUsage()
  const mac = new AhoCorasick(terms)
  const macBuildMs = performance.now() - t0
  const macBuildCpuMs = cpuMs(c0)
  const macHeap = usedBytes() - before
  console.log(`ours: ${fmt(list.size)} distinct terms (${built.rejected.length} rejected as empty, ${fmt(built.duplicates.length)} duplicates after normalization), ${fmt(list.automaton.stateCount)} states, alphabet ${fmt(list.automaton.alphabetSize)}`)

  // ---- messages -----------------------------------------------------------------------------------------
  const { messages, injections } = generate(args, terms)
  const prenormalized = messages.map((m) => normalize(m).text)
  let units = 0
  for (const m of messages) units += m.length
  console.log(`messages: ${fmt(messages.length)} (${fmt(units)} UTF-16 units, avg ${(units / messages.length).toFixed(1)}), ${fmt(injections.length)} with an evaded lexicon term`)

  // ---- throughput, interleaved rounds -------------------------------------------------------------------
  const engine = (name: string, run: (texts: readonly string[]) => number): Engine => ({ name, run, bestWall: [], bestCpu: [], roundWall: [], matches: 0 })
  const engines: Engine[] = [
    engine('ours scan (normalize + all matches)', (texts) => { let n = 0; for (const m of texts) n += ours.scan(m).length; return n }),
    engine('ours test (normalize + any match)', (texts) => { let n = 0; for (const m of texts) if (ours.test(m)) n++; return n }),
    engine('mint-filter filter, raw text', (texts) => { let n = 0; for (const m of texts) n += mint.filter(m, { replace: false }).words.length; return n }),
    engine('mint-filter verify, raw text', (texts) => { let n = 0; for (const m of texts) if (!mint.verify(m)) n++; return n }),
    engine('modern-ahocorasick search, raw text', (texts) => { let n = 0; for (const m of texts) n += mac.search(m).length; return n }),
    engine('mint-filter filter, our normalized text', (texts) => { let n = 0; for (const m of texts) n += mint.filter(m, { replace: false }).words.length; return n }),
    engine('modern-ahocorasick search, our normalized text', (texts) => { let n = 0; for (const m of texts) n += mac.search(m).length; return n }),
  ].filter((e) => !args.quick || !e.name.startsWith('modern'))
  const inputOf = (e: Engine): readonly string[] => (e.name.endsWith('our normalized text') ? prenormalized : messages)
  for (const e of engines) e.matches = e.run(inputOf(e)) // warm-up (JIT) and match counts
  const chunks: Array<[number, number]> = []
  for (let i = 0; i < messages.length; i += args.chunk) chunks.push([i, Math.min(messages.length, i + args.chunk)])
  for (let round = 0; round < args.rounds; round++) {
    for (const e of engines) e.roundWall.push(0)
    chunks.forEach(([from, to], ci) => {
      for (const e of engines) {
        const texts = inputOf(e).slice(from, to)
        const cpu0 = process.cpuUsage()
        const t = performance.now()
        e.run(texts)
        const wall = performance.now() - t
        const cpuUsed = process.cpuUsage(cpu0)
        const cpu = (cpuUsed.user + cpuUsed.system) / 1000
        e.bestWall[ci] = Math.min(e.bestWall[ci] ?? Infinity, wall)
        e.bestCpu[ci] = Math.min(e.bestCpu[ci] ?? Infinity, cpu)
        e.roundWall[round] = (e.roundWall[round] as number) + wall
      }
    })
  }
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
  const best = (e: Engine): number => sum(e.bestWall)
  const bestCpu = (e: Engine): number => sum(e.bestCpu)
  const median = (e: Engine): number => [...e.roundWall].sort((a, b) => a - b)[Math.floor(e.roundWall.length / 2)] as number
  const byName = (prefix: string): Engine | undefined => engines.find((e) => e.name.startsWith(prefix))
  const oursScan = byName('ours scan') as Engine
  const oursTest = byName('ours test') as Engine
  const mintFilter = byName('mint-filter filter, raw') as Engine
  const mintVerify = byName('mint-filter verify') as Engine
  const macSearch = byName('modern-ahocorasick search, raw')
  const macRate = macSearch ? rate(messages.length, best(macSearch)) : 0
  const fastestAll = Math.max(rate(messages.length, best(mintFilter)), macRate)
  const fastestAny = Math.max(rate(messages.length, best(mintVerify)), macRate)
  const fastestAllCpu = Math.max(rate(messages.length, bestCpu(mintFilter)), macSearch ? rate(messages.length, bestCpu(macSearch)) : 0)
  const scanRateCpu = rate(messages.length, bestCpu(oursScan))
  const scanRate = rate(messages.length, best(oursScan))
  const testRate = rate(messages.length, best(oursTest))

  // ---- correctness: brute force on a sample ------------------------------------------------------------
  t0 = performance.now()
  const normTerms = list.terms.map((t) => normalizeTerm(t))
  const termIndex = new Map<string, number>()
  list.terms.forEach((t, k) => termIndex.set(t, k))
  const sampleSize = args.quick ? Math.min(args.sample, 200) : args.sample
  const step = Math.max(1, Math.floor(messages.length / sampleSize))
  let sampled = 0
  let mismatches = 0
  let spanErrors = 0
  const examples: string[] = []
  for (let i = 0; i < messages.length && sampled < sampleSize; i += step, sampled++) {
    const text = messages[i] as string
    const { text: norm, offsets } = normalize(text)
    const expected = new Set<string>()
    for (let k = 0; k < normTerms.length; k++) {
      const t = normTerms[k] as string
      for (let p = norm.indexOf(t); p !== -1; p = norm.indexOf(t, p + 1)) expected.add(`${k}@${p}`)
    }
    const got = new Set<string>()
    for (const m of ours.scan(text)) {
      got.add(`${termIndex.get(m.term)}@${m.normalizedStart}`)
      const k = termIndex.get(m.term) as number
      const okSpan = m.start === offsets[m.normalizedStart] && m.end === originalEnd(text, offsets[m.normalizedEnd - 1] as number) &&
        m.normalizedEnd - m.normalizedStart === (normTerms[k] as string).length && normalize(text.slice(m.start, m.end)).text.includes(normTerms[k] as string)
      if (!okSpan) spanErrors++
    }
    const same = got.size === expected.size && [...got].every((x) => expected.has(x))
    if (!same) {
      mismatches++
      if (examples.length < 3) examples.push(`#${i}: expected ${expected.size}, got ${got.size}: ${JSON.stringify(text)}`)
    }
  }
  const bruteMs = performance.now() - t0

  // ---- recall of the evaded injections -------------------------------------------------------------------
  let oursFound = 0
  let mintFound = 0
  let macFound = 0
  for (const inj of injections) {
    const text = messages[inj.index] as string
    const want = normalizeTerm(inj.term)
    if (ours.scan(text).some((m: MatchResult) => normalizeTerm(m.term) === want)) oursFound++
    if (mint.filter(text, { replace: false }).words.some((w) => w.toLowerCase() === inj.term.toLowerCase())) mintFound++
    if (!args.quick && mac.search(text).some((m) => m.pattern === inj.term)) macFound++
  }

  // ---- 1,000 groups: shared global list + 5 own terms + 2 exceptions each --------------------------------
  const groupRandom = seededRandom(args.seed + 1)
  const matchers: TextMatcher[] = []
  const ownWord = (): string => { let w = ''; for (let k = 0; k < 3; k++) w += String.fromCharCode(0x4e00 + groupRandom.int(0, 20000)); return w }
  const groupConfig = (): { lists: typeof list[]; additions: string[]; exceptions: string[] } =>
    ({ lists: [list], additions: Array.from({ length: 5 }, ownWord), exceptions: [ownWord() + ownWord(), ownWord()] })
  matchers.push(factory.matcherFor(groupConfig()))
  const oneGroup = usedBytes()
  for (let g = 1; g < 1000; g++) matchers.push(factory.matcherFor(groupConfig()))
  const thousandGroups = usedBytes()
  let groupOwnBytes = 0
  for (const m of matchers) for (const l of [...m.lists.slice(1), ...(m.exceptions ? [m.exceptions] : [])]) groupOwnBytes += l.memoryBytes()
  const groupsHeap = thousandGroups - oneGroup
  const sharedGlobal = matchers.every((m) => m.lists[0] === list)

  // ---- report ------------------------------------------------------------------------------------------
  const rows = engines.map((e) => ({
    engine: e.name,
    best: rate(messages.length, best(e)),
    cpu: rate(messages.length, bestCpu(e)),
    median: rate(messages.length, median(e)),
    matches: e.matches,
    vsOurs: (scanRate / rate(messages.length, best(e))),
  }))
  const pad = (s: string, n: number): string => s.padEnd(n)
  const lpad = (s: string, n: number): string => s.padStart(n)
  console.log('')
  console.log(`${pad('engine', 48)}${lpad('msgs/s', 12)}${lpad('by CPU time', 13)}${lpad('median run', 12)}${lpad('matches', 10)}${lpad('ours scan ÷', 13)}`)
  for (const r of rows) console.log(`${pad(r.engine, 48)}${lpad(fmt(r.best), 12)}${lpad(fmt(r.cpu), 13)}${lpad(fmt(r.median), 12)}${lpad(fmt(r.matches), 10)}${lpad(r.vsOurs.toFixed(1) + '×', 13)}`)
  console.log(`(msgs/s: sum over ${chunks.length} chunks of ${fmt(args.chunk)} messages of each chunk's fastest of ${args.rounds} interleaved runs; "by CPU time" the same with process CPU time; "median run" = median whole pass)`)
  console.log('')
  console.log(`${pad('build / memory', 48)}${lpad('build ms', 12)}${lpad('CPU ms', 9)}${lpad('automaton MB', 14)}${lpad('heap Δ MB', 12)}`)
  console.log(`${pad('ours (normalize terms + compile)', 48)}${lpad(oursBuildMs.toFixed(0), 12)}${lpad(oursBuildCpuMs.toFixed(0), 9)}${lpad(mb(oursBytes), 14)}${lpad(mb(oursHeap), 12)}`)
  console.log(`${pad('  + one-time normalization tables', 48)}${lpad(tablesMs.toFixed(0), 12)}${lpad(tablesCpuMs.toFixed(0), 9)}${lpad('0.2', 14)}${lpad('', 12)}`)
  console.log(`${pad('mint-filter', 48)}${lpad(mintBuildMs.toFixed(0), 12)}${lpad(mintBuildCpuMs.toFixed(0), 9)}${lpad('—', 14)}${lpad(mb(mintHeap), 12)}`)
  console.log(`${pad('modern-ahocorasick', 48)}${lpad(macBuildMs.toFixed(0), 12)}${lpad(macBuildCpuMs.toFixed(0), 9)}${lpad('—', 14)}${lpad(mb(macHeap), 12)}`)
  console.log('')
  console.log(`brute-force check: ${sampled} messages × ${fmt(normTerms.length)} terms (indexOf on the same normalization): ${mismatches === 0 ? 'match sets EQUAL' : `${mismatches} MISMATCHES`}, span errors ${spanErrors} (${(bruteMs / 1000).toFixed(1)} s)`)
  for (const e of examples) console.log(`  ${e}`)
  console.log(`evaded injections found: ours ${oursFound}/${injections.length}, mint-filter ${mintFound}/${injections.length}, modern-ahocorasick ${args.quick ? 'skipped (--quick)' : `${macFound}/${injections.length}`} (raw text)`)
  console.log(`1,000 groups (global list shared: ${sharedGlobal}; 5 own terms + 2 exceptions each): own automata ${mb(groupOwnBytes)} MB (memoryBytes), heap Δ beyond one group ${mb(groupsHeap)} MB, cached matchers ${factory.matcherCount}`)
  // Goals are judged on wall time and on CPU time separately: on a shared machine wall time also measures the
  // other tenants (see the load average), CPU time only this process.
  const goals = {
    throughputWall: scanRate >= GOALS.throughputRatio * fastestAll,
    throughputCpu: scanRateCpu >= GOALS.throughputRatio * fastestAllCpu,
    buildWall: oursBuildMs + tablesMs <= GOALS.buildMs,
    buildCpu: oursBuildCpuMs + tablesCpuMs <= GOALS.buildMs,
    automaton: oursBytes <= GOALS.automatonBytes,
  }
  const verdict = (wall: boolean, cpu: boolean): string => (wall && cpu ? 'met' : wall || cpu ? `met by ${wall ? 'wall' : 'CPU'} time only` : 'NOT met')
  console.log(`goals: scan ${(scanRate / fastestAll).toFixed(1)}× the fastest all-matches competitor, ${(scanRateCpu / fastestAllCpu).toFixed(1)}× by CPU time (≥ ${GOALS.throughputRatio}×: ${verdict(goals.throughputWall, goals.throughputCpu)}); ` +
    `test ${(testRate / fastestAny).toFixed(1)}× the fastest any-match competitor; build ${(oursBuildMs + tablesMs).toFixed(0)} ms incl. tables, ${(oursBuildCpuMs + tablesCpuMs).toFixed(0)} ms CPU (≤ 1 s: ${verdict(goals.buildWall, goals.buildCpu)}); ` +
    `automaton ${mb(oursBytes)} MB (≤ 32 MB: ${goals.automaton ? 'met' : 'NOT met'}); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  const ok = mismatches === 0 && spanErrors === 0 && oursFound === injections.length && sharedGlobal
  const bench = {
    bench: 'matcher',
    messages: messages.length,
    terms: terms.length,
    distinctTerms: list.size,
    rounds: args.rounds,
    chunk: args.chunk,
    quick: args.quick,
    msgsPerSec: Object.fromEntries(rows.map((r) => [r.engine, r.best])),
    medianMsgsPerSec: Object.fromEntries(rows.map((r) => [r.engine, r.median])),
    msgsPerSecByCpuTime: Object.fromEntries(rows.map((r) => [r.engine, r.cpu])),
    ratio: {
      scanVsFastestAllMatches: +(scanRate / fastestAll).toFixed(2),
      scanVsFastestAllMatchesByCpuTime: +(scanRateCpu / fastestAllCpu).toFixed(2),
      testVsFastestAnyMatch: +(testRate / fastestAny).toFixed(2),
    },
    buildMs: { ours: Math.round(oursBuildMs), oursNormalizationTables: Math.round(tablesMs), mintFilter: Math.round(mintBuildMs), modernAhocorasick: Math.round(macBuildMs) },
    buildCpuMs: { ours: Math.round(oursBuildCpuMs), oursNormalizationTables: Math.round(tablesCpuMs), mintFilter: Math.round(mintBuildCpuMs), modernAhocorasick: Math.round(macBuildCpuMs) },
    memoryBytes: { oursAutomaton: oursBytes, oursHeapDelta: oursHeap, mintFilterHeapDelta: mintHeap, modernAhocorasickHeapDelta: macHeap },
    groups1000: { ownAutomataBytes: groupOwnBytes, heapDeltaBeyondOne: groupsHeap, globalShared: sharedGlobal },
    bruteForce: { sample: sampled, mismatches, spanErrors },
    evadedFound: { injected: injections.length, ours: oursFound, mintFilter: mintFound, modernAhocorasick: macFound },
    goals,
    loadavg: loadavg().map((x) => +x.toFixed(2)),
    ok,
  }
  console.log(`BENCH ${JSON.stringify(bench)}`)
  process.exit(ok ? 0 : 1)
}

main()
