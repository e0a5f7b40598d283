/**
 * Pipeline benchmark (see README.md): 200,000 generated group messages fed straight into Runtime.submit(),
 * full pipeline vs empty pipeline, embedded (SQLite + in-process) and/or MySQL + Redis.
 *
 *   npm run bench:pipeline                      # embedded: full + empty
 *   npm run bench:pipeline -- --mysql-redis     # MySQL + Redis: full + empty (also when QUNYUN_DB_URL and QUNYUN_REDIS_URL are set)
 *   npm run bench:pipeline -- --all --profile   # both storages, CPU profile of each full run
 *   options: --messages N (200000)  --concurrency N (256)  --profile
 *
 * Each (storage, pipeline) pair runs in its own child process, so every run starts with a fresh heap,
 * a fresh JIT and its own peak RSS. Ends with one line `BENCH {json}`; exits 1 when a check fails.
 */
import { fork } from 'node:child_process'
import { availableParallelism, loadavg } from 'node:os'
import { resolve } from 'node:path'
import type { ProfileEntry } from './profile'
import { DEFAULT_DB_URL, DEFAULT_REDIS_URL, type StorageMode } from './storage'
import type { PipelineMode, RunResult, RunSpec } from './worker'

/** The issue's goals. */
const GOALS = { embeddedMsgsPerSec: 50_000, mysqlRedisMsgsPerSec: 20_000, p99Ms: 5 }

interface Args {
  storages: StorageMode[]
  messages: number
  concurrency: number
  profile: boolean
}

function parseArgs(argv: string[]): Args {
  let messages = 200_000
  let concurrency = 256
  let profile = false
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
    else if (a === '--all') all = true
    else if (a === '--mysql-redis') { servers = true; embedded = false }
    else if (a === '--embedded') embedded = true
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench/pipeline/run.ts [--all | --mysql-redis | --embedded] [--messages N] [--concurrency N] [--profile]')
      process.exit(0)
    } else throw new Error(`unknown option ${a}`)
  }
  const storages: StorageMode[] = all ? ['embedded', 'mysql-redis'] : [...(embedded ? ['embedded' as const] : []), ...(servers ? ['mysql-redis' as const] : [])]
  return { storages, messages, concurrency, profile }
}

/** Runs one spec in a child process (fresh heap and RSS), with source maps for TS lines in the profile. */
function runChild(spec: RunSpec): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = fork(resolve(__dirname, 'worker.ts'), [JSON.stringify(spec)], {
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
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length))
const lpad = (s: string, n: number): string => (s.length >= n ? s : ' '.repeat(n - s.length) + s)

function table(results: RunResult[]): string {
  const head = ['storage', 'pipeline', 'msg/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'peak RSS MB', 'wall s', 'flushes (max ms)']
  const rows = results.map((r) => [
    r.storage, r.mode + (r.profiled ? ' (profiled)' : ''), fmt(r.msgsPerSec), r.p50Ms.toFixed(2), r.p90Ms.toFixed(2), r.p99Ms.toFixed(2), r.p999Ms.toFixed(2),
    r.maxMs.toFixed(1), r.peakRssMb.toFixed(0), (r.wallMs / 1000).toFixed(2), `${r.flushes.count} (${r.flushes.maxMs.toFixed(0)})`,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? pad(c, widths[i] as number) : lpad(c, widths[i] as number))).join('  ')
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function entries(title: string, list: ProfileEntry[]): string {
  const lines = list.map((e, i) => `  ${lpad(String(i + 1), 2)}. ${lpad(e.ms.toFixed(0), 6)} ms ${lpad(e.pct.toFixed(1), 5)}%  ${e.fn}${e.where ? `  ${e.where}` : ''}`)
  return [title, ...lines].join('\n')
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const dbUrl = process.env.QUNYUN_DB_URL || DEFAULT_DB_URL
  const redisUrl = process.env.QUNYUN_REDIS_URL || DEFAULT_REDIS_URL
  const profileDir = resolve(__dirname, 'profiles')
  console.log(`qunyun pipeline benchmark: ${fmt(args.messages)} messages, ${args.concurrency} in flight, storages: ${args.storages.join(', ')}${args.profile ? ', CPU profile of each full run' : ''}`)

  console.log(`machine: ${availableParallelism()} cores, load average before the run ${loadavg().map((l) => l.toFixed(2)).join(' / ')} (other processes share these cores)`)
  const results: RunResult[] = []
  for (const storage of args.storages) {
    for (const mode of ['empty', 'full'] as PipelineMode[]) {
      const spec: RunSpec = {
        storage, mode, messages: args.messages, concurrency: args.concurrency, profile: args.profile && mode === 'full', profileDir,
        ...(storage === 'mysql-redis' ? { dbUrl, redisUrl } : {}),
      }
      process.stdout.write(`- ${storage} / ${mode}${spec.profile ? ' (profiled)' : ''} … `)
      const r = await runChild(spec)
      results.push(r)
      console.log(`${fmt(r.msgsPerSec)} msg/s, p99 ${r.p99Ms.toFixed(2)} ms (setup: generate ${(r.setup.generateMs / 1000).toFixed(1)} s, start ${(r.setup.startMs / 1000).toFixed(1)} s, register groups ${(r.setup.registerMs / 1000).toFixed(1)} s)`)
    }
  }

  const first = results[0]
  if (first) {
    const s = first.stream
    console.log(`\nstream: ${fmt(first.messages)} messages, ${fmt(s.groups)} groups × ${s.membersPerGroup} members (Zipf s=1.07; busiest group ${(s.topGroupShare * 100).toFixed(1)}% of messages), `
      + `types ${Object.entries(s.types).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}, ${fmt(s.textChars)} UTF-16 units of text`)
  }
  console.log(`\n${table(results)}\n`)

  let failed = false
  for (const r of results) {
    for (const c of r.checks) {
      if (!c.ok) failed = true
      console.log(`check ${r.storage}/${r.mode}: ${c.name} = ${fmt(c.actual)} (expected ${fmt(c.expected)}) ${c.ok ? 'OK' : 'FAILED'}`)
    }
  }
  for (const r of results) {
    if (r.mode !== 'full') continue
    const durable = r.flushes.maxMs <= r.flushes.intervalMs
    console.log(`durability ${r.storage}: ${r.flushes.count} flushes during the run (interval ${r.flushes.intervalMs} ms), longest ${r.flushes.maxMs.toFixed(0)} ms, final ${r.finalFlushMs.toFixed(0)} ms, `
      + `total ${r.flushes.totalMs.toFixed(0)} ms = ${((r.flushes.totalMs / r.wallMs) * 100).toFixed(0)}% of the wall time → ${durable ? 'every write durable within the interval' : 'a flush took longer than the interval'}`)
  }

  for (const r of results) {
    if (!r.profile) continue
    const p = r.profile
    console.log(`\nCPU profile ${r.storage}/full: ${fmt(p.samples)} samples, ${fmt(Math.round(p.totalMs))} ms → ${p.file}`)
    console.log(entries('top 15 functions by self time:', p.self))
    console.log(entries('self time by area:', p.areas))
    console.log(entries('project functions by inclusive time:', p.inclusive))
  }

  const bench: Record<string, unknown> = { benchmark: 'pipeline', messages: args.messages, concurrency: args.concurrency, cores: availableParallelism(), node: process.version, loadAvg1m: Math.round((loadavg()[0] ?? 0) * 100) / 100 }
  for (const storage of args.storages) {
    const pick = (mode: PipelineMode): RunResult | undefined => results.find((r) => r.storage === storage && r.mode === mode)
    const full = pick('full')
    const empty = pick('empty')
    const figures = (r: RunResult | undefined): Record<string, unknown> | null => (r ? { msgsPerSec: r.msgsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, peakRssMb: r.peakRssMb, profiled: r.profiled } : null)
    const goal = storage === 'embedded' ? GOALS.embeddedMsgsPerSec : GOALS.mysqlRedisMsgsPerSec
    bench[storage] = {
      full: figures(full),
      empty: figures(empty),
      ratioFullToEmpty: full && empty ? Math.round((full.msgsPerSec / empty.msgsPerSec) * 1000) / 1000 : null,
      flushMaxMs: full?.flushes.maxMs ?? null,
      checksOk: [full, empty].every((r) => !r || r.checks.every((c) => c.ok)),
      goal: { msgsPerSec: goal, p99Ms: GOALS.p99Ms, met: full ? full.msgsPerSec >= goal && full.p99Ms <= GOALS.p99Ms : null },
    }
  }
  bench.goals = GOALS
  console.log(`\nBENCH ${JSON.stringify(bench)}`)
  if (failed) process.exitCode = 1
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error))
  process.exit(1)
})
