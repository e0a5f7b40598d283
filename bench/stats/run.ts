/**
 * Stats report benchmark (see README.md): loads a year of rollups worth ~10 million messages (300 groups ×
 * 365 days by default, Zipf group and member activity, a daily and weekly rhythm) straight into the stats
 * tables of a real Runtime, then times every report route through the real HTTP stack (bearer auth, scope
 * checks, zod validation) — p50/p95/p99 over repeated calls — and compares with the naive answer: the same
 * figures computed by scanning the raw message log, for a sample of groups whose messages are written there too.
 *
 *   npm run bench:stats
 *   npm run bench:stats -- --groups 300 --days 365 --messages 10000000 --reps 40 --raw-groups 3
 *   npm run bench:stats -- --mysql [url]   # MySQL (default mysql://root@127.0.0.1:3306/qunyun_bench_stats; recreated)
 *
 * Ends with one line `BENCH {json}`.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { createConnection } from 'mysql2/promise'
import { loadConfig } from '../../src/config/load'
import { silentLogger } from '../../src/kernel/logger'
import { Runtime } from '../../src/main'
import { seededRandom } from '../../src/ports/random'
import { GroupSynced, type MemberSnapshot } from '../../src/kernel/events'
import { addDays } from '../../src/kernel/time'
import type { DataSource } from 'typeorm'
import { generate, TABLES } from './generate'
import { FeatureStore } from '../../src/adapters/db/feature-store'
import { statsFeature } from '../../src/features/stats'
import { rebuildAllGroups } from '../../src/features/stats/stats.scope'
import { fillReachFromMemberDays } from '../../src/features/stats/stats.reach'
import { GROUP_RUNNING } from '../../src/features/stats/stats.running'
import { MEMBER_RUNNING } from '../../src/features/stats/stats.member-running'
import { rebuildRunning } from '../../src/features/stats/stats.running-core'
import { groupTable, groupTableFromDays, memberTotals, rankMembers, topMembersReport } from '../../src/features/stats/stats.queries'

const REPO = resolve(__dirname, '../..')
const DEFAULT_MYSQL = 'mysql://root@127.0.0.1:3306/qunyun_bench_stats'
/** The issue's goals. */
const GOAL_P95_MS = 50
const GOAL_SPEEDUP = 100

interface Args { groups: number; days: number; messages: number; members: number; reps: number; rawGroups: number | 'all'; verifyGroups: number; naiveReps: number | null; mysql: string | null; generateOnly: boolean }

function parseArgs(argv: string[]): Args {
  const args: Args = { groups: 1000, days: 90, messages: 10_000_000, members: 100_000, reps: 40, rawGroups: 3, verifyGroups: 3, naiveReps: null, mysql: null, generateOnly: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const int = (): number => { const v = Number(argv[++i]); if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`); return v }
    if (a === '--groups') args.groups = int()
    else if (a === '--days') args.days = int()
    else if (a === '--messages') args.messages = int()
    else if (a === '--members') args.members = int()
    else if (a === '--generate-only') args.generateOnly = true
    else if (a === '--reps') args.reps = int()
    // `all` (or --full-log): every group's messages go into the raw message log too.
    else if (a === '--raw-groups') args.rawGroups = argv[i + 1] === 'all' ? (i++, 'all') : int()
    else if (a === '--full-log') args.rawGroups = 'all'
    else if (a === '--verify-groups') args.verifyGroups = int()
    else if (a === '--naive-reps') args.naiveReps = int()
    else if (a === '--mysql') args.mysql = argv[i + 1] && !argv[i + 1]?.startsWith('--') ? (argv[++i] as string) : DEFAULT_MYSQL
    else throw new Error(`unknown option ${a}`)
  }
  return args
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
const r2 = (n: number): number => Math.round(n * 100) / 100

/** Rows and bytes (data + indexes) of every loaded table. */
async function tableSizes(db: DataSource, mysql: boolean): Promise<Record<string, { rows: number; bytes: number }>> {
  const out: Record<string, { rows: number; bytes: number }> = {}
  for (const { table } of Object.values(TABLES)) {
    const rows = Number(((await db.query(`SELECT COUNT(*) AS n FROM ${table}`)) as Array<{ n: number | string }>)[0]?.n ?? 0)
    let bytes = 0
    if (mysql) {
      const r: Array<{ b: number | string }> = await db.query('SELECT DATA_LENGTH + INDEX_LENGTH AS b FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table])
      bytes = Number(r[0]?.b ?? 0)
    } else {
      // SQLite's dbstat table: pages of the table and of its indexes.
      const r: Array<{ b: number | string }> = await db.query("SELECT SUM(pgsize) AS b FROM dbstat WHERE name = ? OR name IN (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?)", [table, table]).catch(() => [{ b: 0 }])
      bytes = Number(r[0]?.b ?? 0)
    }
    out[table] = { rows, bytes }
  }
  return out
}

async function recreateDatabase(url: string, drop: boolean): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  if (!/^[A-Za-z0-9_]+$/.test(name) || !/bench/i.test(name)) throw new Error(`refusing to touch database "${name}": only names containing "bench"`)
  const server = new URL(url)
  server.pathname = '/'
  const conn = await createConnection({ uri: server.toString() })
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${name}\``)
    if (!drop) await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
  } finally { await conn.end() }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const tmp = mkdtempSync(join(tmpdir(), 'qunyun-bench-stats-'))
  if (args.mysql) await recreateDatabase(args.mysql, false)
  const config = loadConfig({
    env: {}, configDir: join(REPO, 'config'),
    overrides: {
      server: { host: '127.0.0.1', port: 0 }, dataDir: tmp, log: { level: 'error' }, simulation: { mode: 'off' },
      api: { rateLimits: { perToken: { perMinute: 1_000_000, burst: 100_000 }, perIp: { perMinute: 1_000_000, burst: 100_000 } } },
      database: { url: args.mysql },
    },
  })
  const runtime = new Runtime(config, { log: silentLogger, http: true, scheduler: false, simulation: false, bots: [], random: seededRandom(7) })
  const storage = args.mysql ? 'mysql' : 'sqlite'
  try {
    await runtime.start()
    const port = runtime.address?.port
    if (!port) throw new Error('the runtime did not listen')
    const db = runtime.db
    const random = seededRandom(20_261_202)
    const lastDay = '2026-11-30'
    const firstDay = addDays(lastDay, -(args.days - 1))
    const now = Date.parse(`${lastDay}T12:00:00+08:00`)

    // ---- Groups: Zipf sizes and activity; synced into the directory as a channel would. ----
    const rawGroupCount = args.rawGroups === 'all' ? args.groups : Math.min(args.rawGroups, args.groups)
    const groupIds = Array.from({ length: args.groups }, (_, i) => `bench-g${String(i).padStart(4, '0')}@chatroom`)
    // Zipf-like group sizes (at least 30) scaled so they add up to --members.
    const shape = groupIds.map((_, i) => 1 / (i + 1) ** 0.35)
    const scale = args.members / shape.reduce((a, b) => a + b, 0)
    const sizes = shape.map((x) => Math.max(30, Math.round(x * scale)))
    const t0 = performance.now()
    for (const [i, groupId] of groupIds.entries()) {
      const members: MemberSnapshot[] = Array.from({ length: sizes[i] as number }, (_, k) => ({ id: `u${i}-${k}`, name: `成员${k}`, role: k === 0 ? 'owner' : 'member' }))
      await runtime.publish(GroupSynced.of({ id: `bench:sync:${groupId}`, botId: 'bench-bot', groupId, name: `基准群${i}`, ownerId: members[0]?.id, adminIds: [], members, at: now - args.days * 86_400_000 }))
    }
    const syncMs = performance.now() - t0

    // ---- Messages simulated and counted by the product's StatsBuffer; rollups bulk-loaded (generate.ts). ----
    const gen = await generate({ db, mysql: args.mysql, tmp, groupIds, sizes, days: args.days, messages: args.messages, firstDay, rawGroups: rawGroupCount, verifyGroups: args.verifyGroups, random, timezone: config.timezone, offsetHours: 8 })
    const written = { messages: gen.messages }
    const rawWritten = gen.rawRows
    // The all-group rollups and reach rows, recomputed from the group and member-day rows just loaded (what
    // every flush does for the days it touches).
    const tAll = performance.now()
    const statsStore = new FeatureStore(db, statsFeature.name, statsFeature.entities ?? [])
    await statsStore.transaction((tx) => rebuildAllGroups(tx, firstDay, lastDay))
    await statsStore.transaction((tx) => fillReachFromMemberDays(tx))
    await statsStore.transaction(async (tx) => { await rebuildRunning(tx, GROUP_RUNNING); await rebuildRunning(tx, MEMBER_RUNNING) })
    const allGroupsMs = performance.now() - tAll
    console.log(`all-group rollups, reach rows and group running totals recomputed from the group and member-day rows in ${(allGroupsMs / 1000).toFixed(1)} s`)
    const generateMs = gen.phases.totalMs + allGroupsMs
    // The running totals against the rows they are derived from (the reports that read them): the groups table
    // over 30 days and group 0's top members over 90 days must be the same as summed from the day rows.
    const runningCheck = { groupsTable: false, topMembers: false }
    {
      const from30 = addDays(lastDay, -29)
      const from90 = addDays(lastDay, -89)
      runningCheck.groupsTable = JSON.stringify(await groupTable(statsStore, { all: true }, from30, lastDay, 1000)) === JSON.stringify(await groupTableFromDays(statsStore, { all: true }, from30, lastDay, 1000))
      const fast = (await topMembersReport(statsStore, groupIds[0] as string, from90, lastDay, 'messages', 20)).members.map((m) => [m.memberId, m.messages, m.activeDays, m.checkins, m.bestStreak])
      const slow = rankMembers(await memberTotals(statsStore, groupIds[0] as string, from90, lastDay), 'messages', 20).map((m) => [m.memberId, m.messages, m.activeDays, m.checkins, m.bestStreak])
      runningCheck.topMembers = fast.length > 0 && JSON.stringify(fast) === JSON.stringify(slow)
      console.log(`running totals vs day rows: groups table 30d ${runningCheck.groupsTable ? 'equal' : 'DIFFERENT'}, top members 90d ${runningCheck.topMembers ? 'equal' : 'DIFFERENT'} (${fast.length} rows)`)
    }
    const ta = performance.now()
    if (!args.mysql) await db.query('ANALYZE')
    else for (const t of Object.values(TABLES).map((x) => x.table)) await db.query(`ANALYZE TABLE ${t}`)
    const analyzeMs = performance.now() - ta
    const sizesOf = await tableSizes(db, args.mysql !== null)
    const members = sizes.reduce((a, b) => a + b, 0)
    const generation = { messages: gen.messages, members, rows: gen.rows, rawLogRows: gen.rawRows, loader: gen.loader, phases: { ...gen.phases, analyzeMs: Math.round(analyzeMs) },
      messagesPerSec: Math.round(gen.messages / (gen.phases.totalMs / 1000)), rowsPerSec: Math.round(Object.values(gen.rows).reduce((a, b) => a + b, 0) / (gen.phases.totalMs / 1000)), cpuUsPerMessage: gen.cpuUsPerMessage,
      tables: sizesOf, verified: gen.verified, runningCheck, loadAvg: loadavg().map((x) => Math.round(x * 100) / 100) }
    console.log(`${storage}: ${gen.messages.toLocaleString()} messages, ${members.toLocaleString()} members, ${args.groups} groups × ${args.days} days generated and loaded in ${(gen.phases.totalMs / 1000).toFixed(1)} s (${generation.messagesPerSec.toLocaleString()} messages/s, ${generation.rowsPerSec.toLocaleString()} rows/s, ${gen.cpuUsPerMessage} CPU-µs/message in this process; ${gen.loader}); raw-log check ${gen.verified.equal ? 'equal' : 'DIFFERENT'} over ${gen.verified.groups} groups / ${gen.verified.days} days`)
    for (const [t, x] of Object.entries(sizesOf)) console.log(`  ${t.padEnd(24)} ${String(x.rows).padStart(12)} rows  ${(x.bytes / 1048576).toFixed(1).padStart(9)} MB`)
    if (!gen.verified.equal) console.log(gen.verified.mismatches.join('\n'))
    if (args.generateOnly) {
      console.log('BENCH ' + JSON.stringify({ bench: 'stats-generate', storage, groups: args.groups, days: args.days, generation }))
      return
    }

    // ---- Reports through the real HTTP stack. ----
    const { token: adminToken } = await runtime.access.createToken({ name: 'bench-admin', role: 'admin', groupIds: [], allGroups: true, createdBy: null })
    const ownerGroups = groupIds.slice(0, 10)
    const { token: ownerToken } = await runtime.access.createToken({ name: 'bench-owner', role: 'owner', groupIds: ownerGroups, allGroups: false, createdBy: null })
    const g = encodeURIComponent(groupIds[0] as string)
    const from = (days: number): string => `from=${addDays(lastDay, -(days - 1))}&to=${lastDay}`
    const routes: Array<{ name: string; path: string; token: string }> = [
      { name: 'group overview 30d', path: `/api/v1/groups/${g}/stats/overview?${from(30)}`, token: ownerToken },
      { name: 'group overview 365d', path: `/api/v1/groups/${g}/stats/overview?${from(365)}`, token: ownerToken },
      { name: 'group series daily 90d', path: `/api/v1/groups/${g}/stats/series?${from(90)}`, token: ownerToken },
      { name: 'group series hourly 7d', path: `/api/v1/groups/${g}/stats/series?${from(7)}&interval=hour`, token: ownerToken },
      { name: 'group heatmap 90d', path: `/api/v1/groups/${g}/stats/heatmap?${from(90)}`, token: ownerToken },
      { name: 'group top members 90d', path: `/api/v1/groups/${g}/stats/top-members?${from(90)}`, token: ownerToken },
      { name: 'group retention 12w', path: `/api/v1/groups/${g}/stats/retention?${from(84)}`, token: ownerToken },
      { name: 'group rules 90d', path: `/api/v1/groups/${g}/stats/rules?${from(90)}`, token: ownerToken },
      { name: 'group series CSV 365d', path: `/api/v1/groups/${g}/stats/series.csv?${from(365)}`, token: ownerToken },
      { name: 'owner overview 10 groups 30d', path: `/api/v1/stats/overview?${from(30)}`, token: ownerToken },
      { name: 'owner series 10 groups 90d', path: `/api/v1/stats/series?${from(90)}`, token: ownerToken },
      { name: 'admin overview all groups 7d', path: `/api/v1/stats/overview?${from(7)}`, token: adminToken },
      { name: 'admin overview all groups 30d', path: `/api/v1/stats/overview?${from(30)}`, token: adminToken },
      { name: 'admin groups table 30d', path: `/api/v1/stats/groups?${from(30)}`, token: adminToken },
      { name: 'admin series all groups 90d', path: `/api/v1/stats/series?${from(90)}`, token: adminToken },
      { name: 'admin heatmap all groups 30d', path: `/api/v1/stats/heatmap?${from(30)}`, token: adminToken },
    ]
    const base = `http://127.0.0.1:${port}`
    const results: Array<{ name: string; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; cpuUsPerRequest: number; bytes: number }> = []
    for (const route of routes) {
      const call = async (): Promise<number> => {
        const res = await fetch(base + route.path, { headers: { Authorization: `Bearer ${route.token}` } })
        const text = await res.text()
        if (res.status !== 200) throw new Error(`${route.name}: ${res.status} ${text.slice(0, 200)}`)
        return text.length
      }
      for (let i = 0; i < 3; i++) await call()
      const times: number[] = []
      let bytes = 0
      const cpu0 = process.cpuUsage()
      for (let i = 0; i < args.reps; i++) {
        const s = performance.now()
        bytes = await call()
        times.push(performance.now() - s)
      }
      const cpu = process.cpuUsage(cpu0)
      times.sort((a, b) => a - b)
      results.push({ name: route.name, p50Ms: r2(pct(times, 50)), p95Ms: r2(pct(times, 95)), p99Ms: r2(pct(times, 99)), maxMs: r2(times[times.length - 1] as number), cpuUsPerRequest: Math.round((cpu.user + cpu.system) / args.reps), bytes })
      console.log(`${route.name.padEnd(32)} p50 ${pct(times, 50).toFixed(2)} ms  p95 ${pct(times, 95).toFixed(2)} ms  p99 ${pct(times, 99).toFixed(2)} ms  (${Math.round((cpu.user + cpu.system) / args.reps)} CPU-µs/request, client included)`)
    }

    // ---- The naive answer: the same figures computed from the raw message log (indexed by group and time). ----
    // Per-group routes over that group's rows, owner routes over the owner's groups' rows, admin routes over
    // every row of the range. A route is compared only when the log holds all the rows it covers (the owner's
    // and admin routes need `--raw-groups all`); otherwise the naive figure is printed as a partial sample.
    const tzShift = 8 * 3600
    const dayExpr = args.mysql ? `DATE_FORMAT(FROM_UNIXTIME(FLOOR(at / 1000) + ${tzShift}), '%Y-%m-%d')` : `strftime('%Y-%m-%d', at / 1000 + ${tzShift}, 'unixepoch')`
    const hourExpr = args.mysql ? `HOUR(FROM_UNIXTIME(FLOOR(at / 1000) + ${tzShift}))` : `CAST(strftime('%H', at / 1000 + ${tzShift}, 'unixepoch') AS INTEGER)`
    // Monday of the message's local week (retention cohorts).
    const weekExpr = args.mysql ? `DATE_FORMAT(DATE_SUB(DATE(FROM_UNIXTIME(FLOOR(l.at / 1000) + ${tzShift})), INTERVAL WEEKDAY(FROM_UNIXTIME(FLOOR(l.at / 1000) + ${tzShift})) DAY), '%Y-%m-%d')` : `date(l.at / 1000 + ${tzShift}, 'unixepoch', '-6 days', 'weekday 1')`
    const pairs = args.mysql ? 'COUNT(DISTINCT group_id, sender_id)' : "COUNT(DISTINCT group_id || '|' || sender_id)"
    const dayPairs = args.mysql ? `COUNT(DISTINCT ${dayExpr}, sender_id)` : `COUNT(DISTINCT ${dayExpr} || '|' || sender_id)`
    const typeCounts = "SUM(CASE WHEN type = 'text' THEN 1 ELSE 0 END) AS text, SUM(CASE WHEN type IN ('image', 'video', 'voice', 'file') THEN 1 ELSE 0 END) AS media, SUM(CASE WHEN type = 'url' THEN 1 ELSE 0 END) AS card"
    if (args.mysql) await db.query("SET time_zone = '+00:00'")
    const ms = (day: string, end = false): number => Date.parse(`${end ? addDays(day, 1) : day}T00:00:00+08:00`)
    const lastDays = (days: number): [number, number] => [ms(addDays(lastDay, -(days - 1))), ms(lastDay, true)]
    type Groups = string[] | 'all'
    const where = (groups: Groups): { sql: string; params: string[] } => groups === 'all' ? { sql: '1 = 1', params: [] } : { sql: `group_id IN (${groups.map(() => '?').join(',')})`, params: groups }
    const rawSet = new Set(groupIds.slice(0, rawGroupCount))
    const naive: Array<{ name: string; p50Ms: number; p95Ms: number; vs: string; rows: number; complete: boolean }> = []
    const naiveReps = args.naiveReps ?? Math.max(3, Math.min(10, Math.floor(args.reps / 4)))
    const logRows = async (groups: Groups, from: number, to: number): Promise<number> => {
      const w = where(groups)
      return Number(((await db.query(`SELECT COUNT(*) AS n FROM qy_message_log WHERE ${w.sql} AND at >= ? AND at < ?`, [...w.params, from, to])) as Array<{ n: number | string }>)[0]?.n ?? 0)
    }
    const timeNaive = async (vs: string, groups: Groups, days: number, run: () => Promise<unknown>): Promise<void> => {
      const complete = groups === 'all' ? rawGroupCount === groupIds.length : groups.every((x) => rawSet.has(x))
      const present: Groups = groups === 'all' ? 'all' : groups.filter((x) => rawSet.has(x))
      if (present !== 'all' && present.length === 0) return
      const rows = await logRows(present, ...lastDays(days))
      await run()
      const times: number[] = []
      for (let i = 0; i < naiveReps; i++) { const s = performance.now(); await run(); times.push(performance.now() - s) }
      times.sort((a, b) => a - b)
      const name = `${vs} (raw log${complete ? '' : ', partial sample'})`
      naive.push({ name, p50Ms: r2(pct(times, 50)), p95Ms: r2(pct(times, 95)), vs, rows, complete })
      console.log(`naive: ${name.padEnd(56)} p50 ${pct(times, 50).toFixed(2)} ms  p95 ${pct(times, 95).toFixed(2)} ms  (${rows.toLocaleString()} log rows in range)`)
    }
    const overviewNaive = async (groups: Groups, days: number): Promise<void> => {
      const w = where(groups)
      for (const [a, b] of [[addDays(lastDay, -(days - 1)), lastDay], [addDays(lastDay, -(2 * days - 1)), addDays(lastDay, -days)]] as Array<[string, string]>) {
        await db.query(`SELECT COUNT(*) AS messages, ${typeCounts}, ${pairs} AS active FROM qy_message_log WHERE ${w.sql} AND at >= ? AND at < ?`, [...w.params, ms(a), ms(b, true)])
        await db.query(`SELECT ${dayExpr} AS day, ${pairs} AS dau FROM qy_message_log WHERE ${w.sql} AND at >= ? AND at < ? GROUP BY day`, [...w.params, ms(a), ms(b, true)])
        for (const window of [7, 30]) await db.query(`SELECT ${pairs} AS n FROM qy_message_log WHERE ${w.sql} AND at >= ? AND at < ?`, [...w.params, ms(addDays(b, -(window - 1))), ms(b, true)])
      }
    }
    const dailyNaive = (groups: Groups, days: number): Promise<unknown> => {
      const w = where(groups)
      return db.query(`SELECT ${dayExpr} AS day, COUNT(*) AS messages, ${typeCounts}, ${pairs} AS active FROM qy_message_log WHERE ${w.sql} AND at >= ? AND at < ? GROUP BY day`, [...w.params, ...lastDays(days)])
    }
    // Hourly series and the heatmap: messages and speakers per (day, hour); the heatmap folds days into weekdays.
    const hourlyNaive = (groups: Groups, days: number): Promise<unknown> => {
      const w = where(groups)
      return db.query(`SELECT ${dayExpr} AS day, ${hourExpr} AS hour, COUNT(*) AS messages, ${pairs} AS speakers FROM qy_message_log WHERE ${w.sql} AND at >= ? AND at < ? GROUP BY day, hour`, [...w.params, ...lastDays(days)])
    }
    const g0 = groupIds[0] as string
    const one = [g0]
    await timeNaive('group overview 30d', one, 60, () => overviewNaive(one, 30))
    await timeNaive('group overview 365d', one, 730, () => overviewNaive(one, 365))
    await timeNaive('group series daily 90d', one, 90, () => dailyNaive(one, 90))
    await timeNaive('group series hourly 7d', one, 7, () => hourlyNaive(one, 7))
    await timeNaive('group heatmap 90d', one, 90, () => hourlyNaive(one, 90))
    await timeNaive('group top members 90d', one, 90, () => db.query(`SELECT sender_id, COUNT(*) AS messages, COUNT(DISTINCT ${dayExpr}) AS days FROM qy_message_log WHERE group_id = ? AND at >= ? AND at < ? GROUP BY sender_id ORDER BY messages DESC LIMIT 20`, [g0, ...lastDays(90)]))
    // Cohorts from the member rows (joins are events, not messages); who spoke in which week from the log.
    const cohortFrom = addDays(lastDay, -83)
    await timeNaive('group retention 12w', one, 90, async () => {
      await db.query('SELECT joined_week, COUNT(*) AS n FROM qy_stats_member WHERE group_id = ? AND joined_week >= ? AND joined_week <= ? GROUP BY joined_week', [g0, cohortFrom, lastDay])
      await db.query(`SELECT m.joined_week AS cohort, ${weekExpr} AS week, COUNT(DISTINCT l.sender_id) AS n FROM qy_stats_member m JOIN qy_message_log l ON l.group_id = m.group_id AND l.sender_id = m.member_id
        WHERE m.group_id = ? AND m.joined_week >= ? AND m.joined_week <= ? AND l.at >= ? AND l.at < ? GROUP BY m.joined_week, ${weekExpr}`, [g0, addDays(cohortFrom, -6), lastDay, ms(addDays(cohortFrom, -6)), ms(lastDay, true)])
    })
    await timeNaive('group series CSV 365d', one, 365, () => dailyNaive(one, 365))
    await timeNaive('owner overview 10 groups 30d', ownerGroups, 60, () => overviewNaive(ownerGroups, 30))
    await timeNaive('owner series 10 groups 90d', ownerGroups, 90, () => dailyNaive(ownerGroups, 90))
    await timeNaive('admin overview all groups 7d', 'all', 14, () => overviewNaive('all', 7))
    await timeNaive('admin overview all groups 30d', 'all', 60, () => overviewNaive('all', 30))
    await timeNaive('admin groups table 30d', 'all', 30, () => db.query(`SELECT group_id, COUNT(*) AS messages, ${typeCounts}, ${dayPairs} AS active_days FROM qy_message_log WHERE at >= ? AND at < ? GROUP BY group_id ORDER BY messages DESC LIMIT 50`, lastDays(30)))
    await timeNaive('admin series all groups 90d', 'all', 90, () => dailyNaive('all', 90))
    await timeNaive('admin heatmap all groups 30d', 'all', 30, () => hourlyNaive('all', 30))

    const comparisons = naive.filter((n) => n.complete).map((n) => {
      const fast = results.find((r) => r.name === n.vs)
      return { report: n.vs, rollupP95Ms: fast?.p95Ms ?? null, rawLogP95Ms: n.p95Ms, rawLogRows: n.rows, speedup: fast ? r2(n.p95Ms / Math.max(fast.p95Ms, 0.01)) : null }
    })
    const notCompared = results.filter((r) => !comparisons.some((c) => c.report === r.name)).map((r) => r.name)
    if (comparisons.length > 0) {
      console.log('\nrollup p95 vs naive raw-log p95:')
      for (const c of comparisons) console.log(`  ${c.report.padEnd(32)} ${String(c.rollupP95Ms).padStart(9)} ms vs ${String(c.rawLogP95Ms).padStart(10)} ms  ${String(c.speedup).padStart(8)}×`)
    }
    if (notCompared.length > 0) console.log(`not compared (no raw-log equivalent, or the log holds only part of the rows): ${notCompared.join(', ')}`)
    const tableRows: Record<string, number> = {}
    for (const t of ['qy_stats_group_day', 'qy_stats_group_hour', 'qy_stats_member_day', 'qy_stats_member_month', 'qy_stats_member', 'qy_stats_rule_day', 'qy_stats_all_day', 'qy_stats_all_hour', 'qy_stats_group_reach', 'qy_stats_all_reach', 'qy_stats_pair_last', 'qy_stats_group_running', 'qy_stats_member_running', 'qy_message_log']) {
      tableRows[t] = Number(((await db.query(`SELECT COUNT(*) AS n FROM ${t}`)) as Array<{ n: number | string }>)[0]?.n ?? 0)
    }
    const dbBytes = args.mysql ? null : statSync(join(tmp, 'qunyun.sqlite')).size
    const worstP95 = Math.max(...results.map((r) => r.p95Ms))
    const minSpeedup = Math.min(...comparisons.map((c) => c.speedup ?? Infinity))
    console.log(`\n${storage}: ${written.messages.toLocaleString()} messages as rollups over ${args.groups} groups × ${args.days} days; generated in ${(generateMs / 1000).toFixed(1)} s (${Math.round(written.messages / (generateMs / 1000)).toLocaleString()} messages/s); raw log ${rawWritten.toLocaleString()} rows (${rawGroupCount === groupIds.length ? 'every group' : `${rawGroupCount} groups`})`)
    console.log(`worst report p95 ${worstP95} ms (goal ≤ ${GOAL_P95_MS}); smallest speedup over the raw log ${minSpeedup}× (goal ≥ ${GOAL_SPEEDUP}×)`)
    console.log('BENCH ' + JSON.stringify({
      bench: 'stats', storage, groups: args.groups, days: args.days, messages: written.messages, members: sizes.reduce((a, b) => a + b, 0), reps: args.reps,
      setup: { directorySyncMs: Math.round(syncMs), generateMs: Math.round(generateMs), messagesPerSecond: Math.round(written.messages / (generateMs / 1000)), tableRows, dbBytes },
      rawLog: { groups: rawGroupCount, rows: rawWritten, naiveReps }, routes: results, naive, comparisons, notCompared, worstP95Ms: worstP95, minSpeedup, goals: { p95Ms: GOAL_P95_MS, speedup: GOAL_SPEEDUP, met: worstP95 <= GOAL_P95_MS && minSpeedup >= GOAL_SPEEDUP },
    }))
  } finally {
    await runtime.stop().catch(() => undefined)
    // BENCH_KEEP=1 keeps the MySQL database too (EXPLAIN the report queries on it; drop it afterwards).
    if (args.mysql && process.env.BENCH_KEEP !== '1') await recreateDatabase(args.mysql, true).catch(() => undefined)
    // BENCH_KEEP=1 keeps the generated SQLite file (to inspect query plans); its path is printed.
    if (process.env.BENCH_KEEP === '1') console.log(`kept ${tmp}`)
    else rmSync(tmp, { recursive: true, force: true })
  }
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
