/**
 * Cost of the stats feature's content work (hot-topic terms and question resolution) on the message
 * path and its flush, side by side with the counting the step did before it, in one command:
 *
 *   npm run bench:stats-content                       # 100,000 messages of the pipeline bench's stream (1,000 groups), SQLite
 *   npm run bench:stats-content -- --messages 200000 --flush-every 1000
 *
 * Each mode runs the same generated messages (Chinese chat text, adverts, FAQ questions) through a real
 * StatsBuffer on a fresh SQLite file, flushing every `--flush-every` messages with the clock at the
 * message's time (as the 2-second flush does at ~500 messages a second): `counts` = record() only (the
 * step before this work), `content` = record() + observeText() (terms segmented at the flush, term rows
 * written once a minute; questions tracked). CPU-µs per message include the flushes. Each mode runs twice
 * and the second run is reported (the first warms the JIT and loads jieba's dictionary).
 * Ends with one line `BENCH {json}`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { loadConfig } from '../../src/config/load'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../src/adapters/db/data-source'
import { FeatureStore } from '../../src/adapters/db/feature-store'
import { statsFeature } from '../../src/features/stats'
import { StatsBuffer } from '../../src/features/stats/stats.buffer'
import { warmUpTerms } from '../../src/features/stats/stats.terms'
import { DEFAULT_STREAM, generateStream } from '../pipeline/stream'

const REPO = resolve(__dirname, '../..')

interface Args { messages: number; flushEvery: number }

function parseArgs(argv: string[]): Args {
  const args: Args = { messages: 100_000, flushEvery: 1_000 }
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1])
    if (argv[i] === '--messages' && Number.isInteger(value) && value > 0) { args.messages = value; i++ } else if (argv[i] === '--flush-every' && Number.isInteger(value) && value > 0) { args.flushEvery = value; i++ } else throw new Error(`unknown or bad option ${String(argv[i])}`)
  }
  return args
}

type Mode = 'counts' | 'content'

async function run(mode: Mode, args: Args, messages: ReturnType<typeof generateStream>['messages']): Promise<{ cpuUsPerMsg: number; msgsPerSec: number; pathCpuUsPerMsg: number; termRows: number; questions: number }> {
  const tmp = mkdtempSync(join(tmpdir(), 'qunyun-bench-stats-content-'))
  const config = loadConfig({ env: {}, configDir: join(REPO, 'config'), overrides: { dataDir: tmp, log: { level: 'error' }, simulation: { mode: 'off' } } })
  const db = await openDatabase(dataSourceOptions(config, databaseSchema([statsFeature])))
  try {
    const store = new FeatureStore(db, statsFeature.name, statsFeature.entities ?? [])
    let now = messages[0]?.at ?? 0
    const buffer = new StatsBuffer(store, () => now)
    const options = { content: true, topics: true, answerWithinMs: 30 * 60_000 }
    let pathUs = 0
    const start = process.cpuUsage()
    const t0 = performance.now()
    for (const [i, m] of messages.entries()) {
      const p = process.cpuUsage()
      buffer.record(m, 'Asia/Shanghai')
      if (mode === 'content') buffer.observeText(m, 'Asia/Shanghai', options)
      const d = process.cpuUsage(p)
      pathUs += d.user + d.system
      if ((i + 1) % args.flushEvery === 0) {
        now = m.at
        await buffer.flush()
      }
    }
    await buffer.flushTerms()
    const used = process.cpuUsage(start)
    const seconds = (performance.now() - t0) / 1000
    const termRows = Number((await store.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM qy_stats_term_day'))[0]?.n)
    const questions = Number((await store.query<{ n: unknown }>('SELECT COALESCE(SUM(questions), 0) AS n FROM qy_stats_question_hour'))[0]?.n)
    return { cpuUsPerMsg: round((used.user + used.system) / messages.length), msgsPerSec: Math.round(messages.length / seconds), pathCpuUsPerMsg: round(pathUs / messages.length), termRows, questions }
  } finally {
    await db.destroy()
    rmSync(tmp, { recursive: true, force: true })
  }
}

const round = (x: number): number => Math.round(x * 10) / 10

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const stream = generateStream({ ...DEFAULT_STREAM, messages: args.messages })
  // Messages of a day spread over the stream (the generator's times), in order.
  const messages = stream.messages
  warmUpTerms()
  process.stdout.write(`stats content cost: ${messages.length.toLocaleString('en')} messages, ${stream.groups.length} groups, flush every ${args.flushEvery} messages, SQLite\n`)
  const results: Partial<Record<Mode, Awaited<ReturnType<typeof run>>>> = {}
  for (const round of [1, 2]) {
    for (const mode of ['counts', 'content'] as const) {
      const r = await run(mode, args, messages)
      if (round === 2) {
        results[mode] = r
        process.stdout.write(`- ${mode}: ${r.cpuUsPerMsg} CPU-µs/msg (message path ${r.pathCpuUsPerMsg}), ${r.msgsPerSec.toLocaleString('en')} msg/s, term rows ${r.termRows}, questions ${r.questions}\n`)
      }
    }
  }
  const counts = results.counts as Awaited<ReturnType<typeof run>>
  const content = results.content as Awaited<ReturnType<typeof run>>
  const added = round(content.cpuUsPerMsg - counts.cpuUsPerMsg)
  process.stdout.write(`content adds ${added} CPU-µs per message (${round(content.cpuUsPerMsg / counts.cpuUsPerMsg)}× the counting alone); on the message path ${round(content.pathCpuUsPerMsg - counts.pathCpuUsPerMsg)} µs\n`)
  process.stdout.write(`BENCH ${JSON.stringify({ benchmark: 'stats-content', messages: messages.length, groups: stream.groups.length, flushEvery: args.flushEvery, counts, content, addedCpuUsPerMsg: added, ratio: round(content.cpuUsPerMsg / counts.cpuUsPerMsg) })}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
