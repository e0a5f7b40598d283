/**
 * Pipeline benchmark (see README.md): 200,000 generated group messages fed straight into Runtime.submit(),
 * full pipeline vs empty pipeline, embedded (SQLite + in-process) and/or MySQL + Redis.
 *
 *   npm run bench:pipeline                      # embedded: full + empty
 *   npm run bench:pipeline -- --mysql-redis     # MySQL + Redis: full + empty (also when QUNYUN_DB_URL and QUNYUN_REDIS_URL are set)
 *   npm run bench:pipeline -- --all --profile   # both storages, CPU profile of each full run
 *   options: --messages N (200000)  --concurrency N (256 in flight)  --repeat N (1; median reported)
 *            --rate N (open-loop offered load; default the storage's goal, 0 skips that phase)
 *            --logger silent|winston (silent; winston = the production logger into a null stream)  --profile
 *
 * Each (storage, pipeline) pair runs in its own child process, so every run starts with a fresh heap,
 * a fresh JIT and its own peak RSS. Ends with one line `BENCH {json}`; exits 1 when a check fails.
 */
import { execFileSync, fork } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { ProfileEntry } from './profile'
import { DEFAULT_DB_URL, DEFAULT_REDIS_URL, type StorageMode } from './storage'
import type { PipelineMode, RunResult, RunSpec } from './worker'

/** The issue's goals. */
const GOALS = { embeddedMsgsPerSec: 50_000, mysqlRedisMsgsPerSec: 30_000, p99Ms: 5, embeddedCpuUsPerMsg: 18, fullToEmpty: 0.5, loopStallMs: 20, durableLagMs: 2_500, peakRssMb: 400 }

interface Args {
  storages: StorageMode[]
  messages: number
  concurrency: number
  profile: boolean
  repeat: number
  logger: 'silent' | 'winston'
  /** Offered load of the open-loop phase; undefined = 80 % of the run's closed-loop max, 0 = skip. */
  rate: number | undefined
  groups: number
  members: number
  violationRate: number
  shape: 'realistic' | 'legacy'
  /** Embedded: SQLite flush writes through the writer thread (`database.writerThread`; off by default in the product). */
  writerThread: boolean
  days: number
  /** Group counts of the cost sweep (full pipeline, closed loop only), empty = no sweep. */
  sweep: number[]
  /** Where to read the "before" figures the BENCH line compares with. */
  beforeFile: string | null
  /** A git ref whose own bench runs the full pipeline side by side with this tree's (interleaved), or null. */
  beforeRef: string | null
}

function parseArgs(argv: string[]): Args {
  let messages = 200_000
  let concurrency = 256
  let profile = false
  let repeat = 1
  let rate: number | undefined
  let logger: Args['logger'] = 'silent'
  let groups = 1_000
  let members = 300
  let violationRate = 0.01
  let shape: Args['shape'] = 'realistic'
  let days = 1
  let writerThread = false
  let sweep: number[] = []
  let beforeFile: string | null = resolve(__dirname, 'before.json')
  let beforeRef: string | null = null
  let all = false
  let servers = Boolean(process.env.QUNYUN_DB_URL && process.env.QUNYUN_REDIS_URL)
  let embedded = !servers
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = (): number => {
      const v = Number(argv[++i])
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`)
      return v
    }
    if (a === '--messages') messages = value()
    else if (a === '--concurrency') concurrency = value()
    else if (a === '--profile') profile = true
    else if (a === '--repeat') repeat = value()
    else if (a === '--rate') {
      rate = Number(argv[++i])
      if (!Number.isInteger(rate) || rate < 0) throw new Error('--rate needs an integer ≥ 0 (0 skips the open-loop phase)')
    }
    else if (a === '--logger') {
      const v = argv[++i]
      if (v !== 'silent' && v !== 'winston') throw new Error('--logger takes silent or winston')
      logger = v
    }
    else if (a === '--groups') groups = value()
    else if (a === '--members') members = value()
    else if (a === '--violation-rate') {
      violationRate = Number(argv[++i])
      if (!(violationRate >= 0 && violationRate <= 1)) throw new Error('--violation-rate needs a share between 0 and 1')
    }
    else if (a === '--stream') {
      const v = argv[++i]
      if (v !== 'realistic' && v !== 'legacy') throw new Error('--stream takes realistic or legacy')
      shape = v
    }
    else if (a === '--days') days = value()
    else if (a === '--writer-thread') writerThread = true
    else if (a === '--sweep-groups') sweep = (argv[++i] ?? '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0)
    else if (a === '--before') beforeFile = argv[++i] ?? null
    else if (a === '--no-before') beforeFile = null
    else if (a === '--before-ref') beforeRef = argv[++i] ?? null
    else if (a === '--all') all = true
    else if (a === '--mysql-redis') { servers = true; embedded = false }
    else if (a === '--embedded') embedded = true
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench/pipeline/run.ts [--all | --mysql-redis | --embedded] [--messages N] [--concurrency N] [--rate N] [--repeat N] [--groups N] [--members N] [--violation-rate X] [--stream realistic|legacy] [--days N] [--writer-thread] [--sweep-groups 100,1000,10000] [--before FILE | --before-ref REF | --no-before] [--logger silent|winston] [--profile]')
      process.exit(0)
    } else throw new Error(`unknown option ${a}`)
  }
  const storages: StorageMode[] = all ? ['embedded', 'mysql-redis'] : [...(embedded ? ['embedded' as const] : []), ...(servers ? ['mysql-redis' as const] : [])]
  // A ref measured now replaces the saved figures.
  if (beforeRef) beforeFile = null
  return { storages, messages, concurrency, profile, repeat, logger, rate, groups, members, violationRate, shape, days, writerThread, sweep, beforeFile, beforeRef }
}

/**
 * The tree of `ref` (git archive, no worktree) in a temporary folder sharing this checkout's node_modules,
 * so its own bench worker measures its own code; removed at exit.
 */
function checkoutRef(ref: string): { dir: string; commit: string } {
  const root = resolve(__dirname, '..', '..')
  const commit = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim()
  const dir = mkdtempSync(join(tmpdir(), `qunyun-before-${commit}-`))
  execFileSync('sh', ['-c', 'git archive --format=tar "$1" | tar -x -C "$2"', 'sh', commit, dir], { cwd: root })
  symlinkSync(resolve(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  return { dir, commit }
}

/** Runs one spec in a child process (fresh heap and RSS), with source maps for TS lines in the profile; `root`: another tree's bench. */
function runChild(spec: RunSpec, root?: string): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = fork(root ? join(root, 'bench', 'pipeline', 'worker.ts') : resolve(__dirname, 'worker.ts'), [JSON.stringify(spec)], {
      ...(root ? { cwd: root } : {}),
      execArgv: ['--expose-gc', '--enable-source-maps', '-r', 'ts-node/register/transpile-only'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let settled = false
    child.on('message', (m: { ok: boolean; result?: RunResult; error?: string }) => {
      settled = true
      if (m.ok && m.result) resolveRun(m.result)
      else reject(new Error(`${spec.storage}/${spec.mode} failed:\n${m.error ?? 'no result'}`))
    })
    child.on('exit', (code) => { if (!settled) reject(new Error(`${spec.storage}/${spec.mode} exited with code ${code} without a result`)) })
  })
}

const fmt = (n: number): string => n.toLocaleString('en-US')
const pct = (part: number, whole: number): string => `${whole > 0 ? ((part / whole) * 100).toFixed(1) : '0.0'}%`
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length))
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s)

/** Timer ticks that found a flush write still running (the final flush() call excluded). */
function periodicJoins(r: RunResult): number { return r.flushes.joined - (r.durability.finalFlushJoinedInFlight ? 1 : 0) }

/** The flush keeps up: every write ends before the next tick, so a message is durable within interval + one write. */
function keepsUp(r: RunResult): boolean { return periodicJoins(r) === 0 && r.flushes.maxMs < r.flushes.intervalMs }

function closedTable(results: RunResult[]): string {
  const head = ['storage', 'pipeline', 'msg/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'loop blocked max ms', 'loop delay p99/max ms', 'loop held CPU ms', 'peak RSS MB', 'wall s', 'flush writes (max ms)', 'CPU µs/msg', 'CPU share', 'servers µs/msg']
  return grid(head, results.map((r) => [
    r.storage, r.mode + (r.profiled ? ' (profiled)' : ''), fmt(r.msgsPerSec), r.p50Ms.toFixed(2), r.p90Ms.toFixed(2), r.p99Ms.toFixed(2), r.p999Ms.toFixed(2),
    r.maxMs.toFixed(1), r.eventLoop.maxMs.toFixed(0), `${r.eventLoop.delayP99Ms.toFixed(1)}/${r.eventLoop.delayMaxMs.toFixed(0)}`, r.eventLoop.cpuMaxMs.toFixed(0), r.peakRssMb.toFixed(0), (r.wallMs / 1000).toFixed(2), `${r.flushes.count} (${r.flushes.maxMs.toFixed(0)})`,
    r.cpu.processUsPerMsg.toFixed(1), `${r.cpu.processSharePct}%`, r.storage === 'mysql-redis' ? r.cpu.serversUsPerMsg.toFixed(1) : '-',
  ]))
}

function openTable(results: RunResult[]): string {
  const head = ['storage', 'pipeline', 'offered msg/s', 'achieved msg/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'loop blocked max ms', 'loop delay p99/max ms', 'loop held CPU ms', 'late sends (max ms)', 'flush writes (max ms)']
  return grid(head, results.flatMap((r) => (r.open ? [[
    r.storage, r.mode, fmt(r.open.rate), fmt(r.open.achievedPerSec), r.open.p50Ms.toFixed(2), r.open.p90Ms.toFixed(2), r.open.p99Ms.toFixed(2), r.open.p999Ms.toFixed(2),
    r.open.maxMs.toFixed(1), r.open.eventLoop.maxMs.toFixed(0), `${r.open.eventLoop.delayP99Ms.toFixed(1)}/${r.open.eventLoop.delayMaxMs.toFixed(0)}`, r.open.eventLoop.cpuMaxMs.toFixed(0), `${fmt(r.open.lateSends)} (${r.open.lateMaxMs.toFixed(0)})`, `${r.open.flushes.count} (${r.open.flushes.maxMs.toFixed(0)})`,
  ]] : [])))
}

function grid(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? pad(c, widths[i] as number) : lpad(c, widths[i] as number))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function entries(title: string, list: ProfileEntry[]): string {
  const lines = list.map((e, i) => `  ${lpad(String(i + 1), 2)}. ${lpad(e.ms.toFixed(0), 6)} ms ${lpad(e.pct.toFixed(1), 5)}%  ${e.fn}${e.where ? `  ${e.where}` : ''}`)
  return [title, ...lines].join('\n')
}

async function main(): Promise<void> {
  // Replicas mode (1, 2, 3 processes on MySQL + Redis): its own options and report, see replicas.ts.
  if (process.argv.includes('--replicas')) return (await import('./replicas')).replicasBench(process.argv.slice(2))
  const args = parseArgs(process.argv.slice(2))
  const dbUrl = process.env.QUNYUN_DB_URL || DEFAULT_DB_URL
  const redisUrl = process.env.QUNYUN_REDIS_URL || DEFAULT_REDIS_URL
  const profileDir = resolve(__dirname, 'profiles')
  console.log(`qunyun pipeline benchmark: ${fmt(args.messages)} messages, ${args.concurrency} in flight, storages: ${args.storages.join(', ')}${args.profile ? ', CPU profile of each full run' : ''}`)

  console.log(`machine: ${availableParallelism()} cores, load average before the run ${loadavg().map((l) => l.toFixed(2)).join(' / ')} (other processes share these cores)`)
  // Every (storage, pipeline) pair `repeat` times, interleaved so a noisy neighbour hits all pairs alike;
  // each pair is reported by its median run (by msg/s). Only the first full run of a storage is profiled.
  const all: RunResult[] = []
  const beforeRuns: RunResult[] = []
  const ref = args.beforeRef ? checkoutRef(args.beforeRef) : null
  if (ref) console.log(`before: ${args.beforeRef} (${ref.commit}), its own bench and code, full pipeline, interleaved with this tree's runs`)
  if (ref && args.shape !== 'legacy') console.log('  note: the before tree generates its own stream (a tree older than the realistic stream generates the legacy one): compare with --stream legacy for the same messages')
  for (let rep = 0; rep < args.repeat; rep++) {
    for (const storage of args.storages) {
      if (ref) {
        const spec: RunSpec = {
          storage, mode: 'full', messages: args.messages, concurrency: args.concurrency, profile: false, profileDir: resolve(__dirname, 'profiles'), logger: args.logger,
          rate: args.rate ?? -1, groups: args.groups, members: args.members, violationRate: args.violationRate, shape: args.shape, days: args.days, writerThread: args.writerThread,
          ...(storage === 'mysql-redis' ? { dbUrl, redisUrl } : {}),
        }
        process.stdout.write(`- ${storage} / full, before (${ref.commit})${args.repeat > 1 ? ` #${rep + 1}` : ''} … `)
        const r = await runChild(spec, ref.dir)
        beforeRuns.push(r)
        console.log(`${fmt(r.msgsPerSec)} msg/s, ${r.cpu.processUsPerMsg.toFixed(1)} CPU µs/msg, p99 ${r.p99Ms.toFixed(2)} ms${r.open ? `; at ${fmt(r.open.rate)} msg/s offered: p99 ${r.open.p99Ms.toFixed(2)} ms` : ''}`)
      }
      for (const mode of ['empty', 'full'] as PipelineMode[]) {
        const spec: RunSpec = {
          storage, mode, messages: args.messages, concurrency: args.concurrency, profile: args.profile && mode === 'full' && rep === 0, profileDir, logger: args.logger,
          rate: args.rate ?? -1, groups: args.groups, members: args.members, violationRate: args.violationRate, shape: args.shape, days: args.days, writerThread: args.writerThread,
          ...(storage === 'mysql-redis' ? { dbUrl, redisUrl } : {}),
        }
        process.stdout.write(`- ${storage} / ${mode}${spec.profile ? ' (profiled)' : ''}${args.repeat > 1 ? ` #${rep + 1}` : ''} … `)
        const r = await runChild(spec)
        all.push(r)
        console.log(`${fmt(r.msgsPerSec)} msg/s, p99 ${r.p99Ms.toFixed(2)} ms${r.open ? `; at ${fmt(r.open.rate)} msg/s offered: p99 ${r.open.p99Ms.toFixed(2)} ms` : ''} (setup: generate ${(r.setup.generateMs / 1000).toFixed(1)} s, start ${(r.setup.startMs / 1000).toFixed(1)} s, register groups ${(r.setup.registerMs / 1000).toFixed(1)} s)`)
      }
    }
  }
  const results: RunResult[] = []
  const spread = new Map<RunResult, number[]>()
  for (const storage of args.storages) {
    for (const mode of ['empty', 'full'] as PipelineMode[]) {
      const runs = all.filter((r) => r.storage === storage && r.mode === mode).sort((a, b) => a.msgsPerSec - b.msgsPerSec)
      const median = runs[Math.floor((runs.length - 1) / 2)] as RunResult
      results.push(median)
      spread.set(median, runs.map((r) => r.msgsPerSec))
    }
  }

  // The before runs are shown as rows of their own ("full, before …"), the median per storage by msg/s.
  const beforeResults: RunResult[] = []
  for (const storage of args.storages) {
    const runs = beforeRuns.filter((r) => r.storage === storage).sort((a, b) => a.msgsPerSec - b.msgsPerSec)
    const median = runs[Math.floor((runs.length - 1) / 2)]
    if (median) { beforeResults.push(median); spread.set(median, runs.map((r) => r.msgsPerSec)) }
  }
  const labelled = (r: RunResult): RunResult => (beforeResults.includes(r) ? { ...r, mode: `full, before ${ref?.commit ?? ''}` as PipelineMode } : r)
  const shown = [...results, ...beforeResults].sort((a, b) => args.storages.indexOf(a.storage) - args.storages.indexOf(b.storage)).map(labelled)
  if (beforeResults[0]) console.log(`before pipeline features (${ref?.commit ?? ''}): ${beforeResults[0].features.join(' → ')}`)
  for (const mode of ['full', 'empty'] as PipelineMode[]) {
    const r = results.find((x) => x.mode === mode)
    if (r) console.log(`${mode} pipeline features: ${r.features.join(' → ')}`)
  }
  const first = results[0]
  if (first) {
    const s = first.stream
    console.log(`\nstream: ${fmt(first.messages)} messages, ${fmt(s.groups)} groups × ${s.membersPerGroup} members (Zipf s=1.07; busiest group ${(s.topGroupShare * 100).toFixed(1)}% of messages), `
      + `types ${Object.entries(s.types).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}, ${fmt(s.textChars)} UTF-16 units of text; `
      + `${fmt(s.violating)} (${((s.violating / first.messages) * 100).toFixed(2)}%) carry an advert term of the shared lexicon, ${fmt(s.faq)} (${((s.faq / first.messages) * 100).toFixed(2)}%) ask an FAQ`
      + (s.shape ? `; shape ${s.shape}${s.shape === 'realistic' ? ` (${s.days ?? 1} local day(s) by an hourly profile, speakers Zipf s=${s.speakerSkew ?? '?'})` : ' (one afternoon, 2 messages per group per minute)'}, spanning ${((s.spanMs ?? 0) / 3_600_000).toFixed(1)} h; `
        + `${fmt(s.checkIns ?? 0)} (${pct(s.checkIns ?? 0, first.messages)}) check-ins, ${fmt(s.commands ?? 0)} (${pct(s.commands ?? 0, first.messages)}) leaderboard commands, `
        + `${fmt(s.firstOfDay ?? 0)} (${pct(s.firstOfDay ?? 0, first.messages)}) are their sender's first message of the day in that group` : ''))
    for (const r of results) {
      if (r.mode !== 'full') continue
      const total = r.messages + (r.open?.messages ?? 0)
      const mod = Object.entries(r.effects.moderationByDetector)
      const violations = mod.reduce((a, [, v]) => a + v, 0)
      console.log(`effects ${r.storage}/full over ${fmt(total)} messages: ${fmt(violations)} moderation events (${((violations / total) * 100).toFixed(2)}%: ${mod.map(([k, v]) => `${k} ${fmt(v)}`).join(', ') || 'none'}), ${fmt(r.effects.outbound)} outbound actions stored`)
    }
  }
  console.log(`\nclosed loop: ${args.concurrency} messages kept in flight; latency = submit() → resolved; throughput includes the final flush; `
    + `CPU share = this process's CPU time / wall time (well below 100% = other processes took the cores)\n${closedTable(shown)}\n`)
  if (shown.some((r) => r.open)) {
    console.log(`open loop: messages arrive at a fixed rate in ~1 ms ticks; latency = scheduled arrival → resolved (includes time the event loop was blocked)\n${openTable(shown)}\n`)
  }
  if (args.repeat > 1) for (const r of [...results, ...beforeResults]) console.log(`runs ${r.storage}/${r.mode}: ${(spread.get(r) ?? []).map(fmt).join(', ')} msg/s (median shown)`)
  for (const r of results) {
    const f = r.latencyVsFlush
    console.log(f.duringCount === 0
      ? `latency ${r.storage}/${r.mode}: no message was in flight during a flush write (the write held the event loop: up to ${r.eventLoop.maxMs.toFixed(0)} ms)`
      : `latency ${r.storage}/${r.mode}: p99 ${f.outsideP99Ms.toFixed(2)} ms for the ${fmt(f.outsideCount)} messages not overlapping a flush write, `
        + `p99 ${f.duringP99Ms.toFixed(2)} ms for the ${fmt(f.duringCount)} in flight while one ran`)
  }

  let failed = false
  for (const r of [...all, ...beforeRuns]) {
    for (const c of r.checks) {
      if (!c.ok) failed = true
      console.log(`check ${r.storage}/${r.mode}: ${c.name} = ${fmt(c.actual)} (expected ${fmt(c.expected)}) ${c.ok ? 'OK' : 'FAILED'}`)
    }
  }
  for (const r of results) {
    if (r.mode !== 'full') continue
    const d = r.durability
    const skipped = periodicJoins(r)
    const bound = r.flushes.intervalMs + r.flushes.maxMs
    console.log(`durability ${r.storage}: ${r.flushes.count} flush writes (interval ${r.flushes.intervalMs} ms), longest ${r.flushes.maxMs.toFixed(0)} ms, writing ${((r.flushes.totalMs / r.wallMs) * 100).toFixed(0)}% of the wall time, `
      + `${skipped} timer tick(s) found the previous write still running → ${keepsUp(r) ? 'the flush keeps up' : 'the flush does NOT keep up'}; `
      + `message → durable: p50 ${d.lagP50Ms.toFixed(0)} ms, p99 ${d.lagP99Ms.toFixed(0)} ms, max ${d.lagMaxMs.toFixed(0)} ms (${d.lagMaxMs <= bound + 5 ? '≤' : '>'} interval + longest write = ${bound.toFixed(0)} ms); `
      + `flush time by part: ${Object.entries(r.flushes.byPartMs).map(([k, v]) => `${k} ${fmt(v)} ms`).join(', ') || '-'}`)
    if (d.loggedAfterFirstFlush !== r.messages) {
      console.log(`  ! the first flush() after the last message ${d.finalFlushJoinedInFlight ? 'joined a periodic flush already running and ' : ''}returned with only ${fmt(d.loggedAfterFirstFlush)} of ${fmt(r.messages)} messages in qy_message_log; `
        + 'a second flush() wrote the rest (wall time includes both)')
    }
  }

  for (const r of all) {
    if (!r.profile) continue
    const p = r.profile
    console.log(`\nCPU profile ${r.storage}/full: ${fmt(p.samples)} samples, ${fmt(Math.round(p.totalMs))} ms → ${p.file}`)
    console.log(entries('top 15 functions by self time:', p.self))
    console.log(entries('self time by part of the pipeline (native code counted for its JS caller):', p.stages))
    console.log(entries('self time by area:', p.areas))
    console.log(entries('project functions by inclusive time:', p.inclusive))
  }

  const bench: Record<string, unknown> = { benchmark: 'pipeline', features: results.find((r) => r.mode === 'full')?.features ?? null, messages: args.messages, concurrency: args.concurrency, repeat: args.repeat, logger: args.logger, cores: availableParallelism(), node: process.version, loadAvg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100 }
  for (const storage of args.storages) {
    const pick = (mode: PipelineMode): RunResult | undefined => results.find((r) => r.storage === storage && r.mode === mode)
    const full = pick('full')
    const empty = pick('empty')
    const figures = (r: RunResult | undefined): Record<string, unknown> | null => (r ? {
      msgsPerSec: r.msgsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, peakRssMb: r.peakRssMb, loopBlockedMaxMs: r.eventLoop.maxMs, loopDelayMaxMs: r.eventLoop.delayMaxMs, loopHeldCpuMaxMs: r.eventLoop.cpuMaxMs,
      cpuUsPerMsg: r.cpu.processUsPerMsg, cpuSharePct: r.cpu.processSharePct, ...(r.storage === 'mysql-redis' ? { serversCpuUsPerMsg: r.cpu.serversUsPerMsg } : {}), profiled: r.profiled,
      ...(args.repeat > 1 ? { msgsPerSecRuns: spread.get(r) } : {}),
      ...(r.open ? { open: { offered: r.open.rate, achieved: r.open.achievedPerSec, p50Ms: r.open.p50Ms, p99Ms: r.open.p99Ms, maxMs: r.open.maxMs, loopBlockedMaxMs: r.open.eventLoop.maxMs, loopDelayMaxMs: r.open.eventLoop.delayMaxMs, loopHeldCpuMaxMs: r.open.eventLoop.cpuMaxMs, lateSends: r.open.lateSends, flushMaxMs: r.open.flushes.maxMs } } : {}),
      ...(r.mode === 'full' ? { effects: r.effects } : {}),
    } : null)
    const goal = storage === 'embedded' ? GOALS.embeddedMsgsPerSec : GOALS.mysqlRedisMsgsPerSec
    bench[storage] = {
      full: figures(full),
      empty: figures(empty),
      ratioFullToEmpty: full && empty ? Math.round((full.msgsPerSec / empty.msgsPerSec) * 1000) / 1000 : null,
      flushMaxMs: full?.flushes.maxMs ?? null,
      durableLagMaxMs: full?.durability.lagMaxMs ?? null,
      flushKeepsUp: full ? keepsUp(full) : null,
      firstFlushDurable: full ? full.durability.loggedAfterFirstFlush === full.messages : null,
      p99OutsideFlushMs: full?.latencyVsFlush.outsideP99Ms ?? null,
      checksOk: all.filter((r) => r.storage === storage).every((r) => r.checks.every((c) => c.ok)),
      goal: {
        msgsPerSec: goal, p99Ms: GOALS.p99Ms,
        throughputMet: full ? full.msgsPerSec >= goal : null,
        closedP99Met: full ? full.p99Ms <= GOALS.p99Ms : null,
        // p99 at 80 % of the measured max (open loop), when measured.
        openP99Met: full?.open ? full.open.p99Ms <= GOALS.p99Ms : null,
        cpuMet: full && storage === 'embedded' ? full.cpu.processUsPerMsg <= GOALS.embeddedCpuUsPerMsg : null,
        fullToEmptyMet: full && empty ? full.msgsPerSec / empty.msgsPerSec >= GOALS.fullToEmpty : null,
        noStallMet: full ? Math.max(full.eventLoop.maxMs, full.open?.eventLoop.maxMs ?? 0) <= GOALS.loopStallMs : null,
        // The same judged on CPU time (robust when other processes take the cores; see LoopFigures.cpuMaxMs).
        noStallCpuMet: full ? Math.max(full.eventLoop.cpuMaxMs, full.open?.eventLoop.cpuMaxMs ?? 0) <= GOALS.loopStallMs : null,
        durableLagMet: full ? full.durability.lagMaxMs <= GOALS.durableLagMs : null,
        flushShorterThanInterval: full ? full.flushes.maxMs < full.flushes.intervalMs : null,
        peakRssMet: full ? full.peakRssMb <= GOALS.peakRssMb : null,
      },
    }
  }
  bench.goals = GOALS
  const st = first?.stream
  bench.stream = {
    groups: args.groups, members: args.members, violationRate: args.violationRate, faqRate: 0.005, openLoopRate: args.rate ?? '80% of closed-loop msg/s', shape: args.shape,
    ...(args.shape === 'realistic' ? { days: args.days, checkInRate: 0.02, commandRate: 0.002, speakerSkew: st?.speakerSkew ?? null } : {}),
    firstOfDayShare: st && first ? Math.round(((st.firstOfDay ?? 0) / first.messages) * 1000) / 1000 : null,
  }
  if (args.sweep.length > 0) bench.sweep = await groupSweep(args)
  const before = ref ? { label: `${args.beforeRef} (${ref.commit}), measured in this run`, bench: benchOf(beforeResults) } : readBefore(args.beforeFile)
  if (before) bench.before = compareWithBefore(before, bench, args.storages)
  console.log(`\nBENCH ${JSON.stringify(bench)}`)
  if (failed) process.exitCode = 1
}

/** A BENCH-shaped object of full-pipeline runs (the before runs of --before-ref), as pickFull reads it. */
function benchOf(runs: RunResult[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const r of runs) {
    out[r.storage] = {
      full: {
        msgsPerSec: r.msgsPerSec, cpuUsPerMsg: r.cpu.processUsPerMsg, p99Ms: r.p99Ms, peakRssMb: r.peakRssMb, loopBlockedMaxMs: r.eventLoop.maxMs, loopDelayMaxMs: r.eventLoop.delayMaxMs, loopHeldCpuMaxMs: r.eventLoop.cpuMaxMs,
        ...(r.storage === 'mysql-redis' ? { serversCpuUsPerMsg: r.cpu.serversUsPerMsg } : {}),
        ...(r.open ? { open: { offered: r.open.rate, p99Ms: r.open.p99Ms, loopBlockedMaxMs: r.open.eventLoop.maxMs, loopDelayMaxMs: r.open.eventLoop.delayMaxMs } } : {}),
      },
      flushMaxMs: r.flushes.maxMs, durableLagMaxMs: r.durability.lagMaxMs,
    }
  }
  return out
}

/** The figures compared with an earlier run: the full pipeline's key numbers per storage. */
const KEYS = ['msgsPerSec', 'cpuUsPerMsg', 'p99Ms', 'peakRssMb', 'loopBlockedMaxMs', 'loopDelayMaxMs', 'loopHeldCpuMaxMs'] as const

function pickFull(bench: Record<string, unknown>, storage: string): Record<string, unknown> | null {
  const s = bench[storage] as { full?: Record<string, unknown> | null; flushMaxMs?: number; durableLagMaxMs?: number } | undefined
  if (!s?.full) return null
  const open = s.full.open as Record<string, unknown> | undefined
  const out: Record<string, unknown> = {}
  for (const k of KEYS) out[k] = s.full[k] ?? null
  out.openOffered = open?.offered ?? null
  out.openP99Ms = open?.p99Ms ?? null
  out.openLoopBlockedMaxMs = open?.loopBlockedMaxMs ?? null
  out.openLoopDelayMaxMs = open?.loopDelayMaxMs ?? null
  out.flushMaxMs = s.flushMaxMs ?? null
  out.durableLagMaxMs = s.durableLagMaxMs ?? null
  return out
}

/** The "before" BENCH json (saved from a run of the code before the change), if the file exists. */
function readBefore(file: string | null): { label?: string; bench: Record<string, unknown> } | null {
  if (!file || !existsSync(file)) return null
  return JSON.parse(readFileSync(file, 'utf8')) as { label?: string; bench: Record<string, unknown> }
}

function compareWithBefore(before: { label?: string; bench: Record<string, unknown> }, now: Record<string, unknown>, storages: StorageMode[]): Record<string, unknown> {
  const out: Record<string, unknown> = { label: before.label ?? null }
  for (const storage of storages) {
    const b = pickFull(before.bench, storage)
    const a = pickFull(now, storage)
    if (!b || !a) continue
    out[storage] = { before: b, after: a }
    console.log(`before → after (${storage}/full, ${before.label ?? 'before'}): ${Object.keys(b).map((k) => `${k} ${String(b[k])} → ${String(a[k])}`).join('; ')}`)
  }
  return out
}

/** Cost per message of the full pipeline for several group counts (embedded, closed loop only). */
async function groupSweep(args: Args): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = []
  console.log(`\ngroup sweep (embedded, full, closed loop, ${fmt(args.messages)} messages, ${args.members} members per group):`)
  for (const groups of args.sweep) {
    const r = await runChild({ storage: 'embedded', mode: 'full', messages: args.messages, concurrency: args.concurrency, profile: false, profileDir: resolve(__dirname, 'profiles'), logger: args.logger, rate: 0, groups, members: args.members, violationRate: args.violationRate, shape: args.shape, days: args.days, writerThread: args.writerThread })
    rows.push({ groups, msgsPerSec: r.msgsPerSec, cpuUsPerMsg: r.cpu.processUsPerMsg, p99Ms: r.p99Ms, peakRssMb: r.peakRssMb })
    console.log(`  ${lpad(fmt(groups), 6)} groups: ${fmt(r.msgsPerSec)} msg/s, ${r.cpu.processUsPerMsg.toFixed(1)} CPU µs/msg, p99 ${r.p99Ms.toFixed(2)} ms, peak RSS ${r.peakRssMb.toFixed(0)} MB`)
  }
  return rows
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
