/**
 * Daily recompute of member lifecycle, scores and tags (see README.md): one group of 100,000 members,
 * embedded (SQLite file) and, with --mysql, MySQL. Compares the incremental daily run (yesterday's
 * rollups folded in, silent members moved, tags re-evaluated for those whose facts changed) with a full
 * re-tag of every member (what a rules change triggers). Ends with one `BENCH {json}` line.
 *
 * After the recomputes it times the member list (GET /api/v1/groups/:id/tagging/members, the route's own
 * handler and query schema): first page, a deep page (offset and, when supported, cursor), each sort order
 * and a filter — p50 / p95 wall and CPU-µs per request. `--list-only` skips the two recompute runs.
 *
 *   npx ts-node --transpile-only bench/tagging/run.ts [--members N] [--active 0.3] [--mysql] [--list-only]
 *   (MySQL: QUNYUN_DB_URL, default mysql://root@127.0.0.1:3306/qunyun_bench_tagging — dropped and recreated)
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../src/adapters/db/data-source'
import { FeatureStore } from '../../src/adapters/db/feature-store'
import type { Row } from '../../src/adapters/db/sql'
import { loadConfig } from '../../src/config/load'
import { ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity } from '../../src/features/activity/activity.entity'
import { activityFacts } from '../../src/features/activity/activity.queries'
import { FEATURES } from '../../src/features'
import { TaggingGroupEntity, TaggingHistoryEntity, TaggingKeywordEntity, TaggingMemberEntity, TaggingTagEntity } from '../../src/features/tagging/tagging.entity'
import { TaggingRuleSchema, type TaggingRule } from '../../src/features/tagging/tagging.rules'
import { TaggingService } from '../../src/features/tagging/tagging.service'
import { taggingRoutes } from '../../src/features/tagging/tagging.routes'
import { MembersQuery } from '../../src/features/tagging/tagging.schema'
import type { GroupRecord } from '../../src/kernel/context'
import type { FeatureRules } from '../../src/kernel/feature'
import { silentLogger } from '../../src/kernel/logger'
import { outboundVerbs } from '../../src/kernel/outbound-service'
import { addDays } from '../../src/kernel/time'
import { seededRandom } from '../../src/ports/random'
import { recreateDatabase } from '../pipeline/storage'

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const MEMBERS = arg('--members', 100_000)
const ACTIVE_SHARE = arg('--active', 0.3)
const MYSQL = process.argv.includes('--mysql')
const LIST_ONLY = process.argv.includes('--list-only')
const LIST_REPEAT = arg('--repeat', 20)
const DAY_MS = 86_400_000
const GROUP = 'bench@chatroom'
const NOW = Date.parse('2026-11-23T02:05:00Z') // 10:05 Shanghai
const TODAY = '2026-11-23'

interface Figures { wallMs: number; cpuMs: number; membersPerSecond: number; cpuMicrosPerMember: number; changes: number; tagged: number; untagged: number; rolledRows: number }

async function measure<T>(work: () => Promise<T>): Promise<{ wallMs: number; cpuMs: number; value: T }> {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const value = await work()
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, value }
}

interface ListFigures { p50Ms: number; p95Ms: number; cpuMicrosPerRequest: number; items: number }

/** p50 / p95 wall and mean CPU-µs of `repeat` calls of one member-list request (after one warm-up call). */
async function timeRequests(call: () => Promise<{ items: unknown[] }>, repeat: number): Promise<ListFigures> {
  let items = (await call()).items.length
  const walls: number[] = []
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now()
    items = (await call()).items.length
    walls.push(performance.now() - t0)
  }
  const cpu = process.cpuUsage(cpu0)
  walls.sort((a, b) => a - b)
  const pick = (q: number): number => Math.round((walls[Math.min(walls.length - 1, Math.floor(q * walls.length))] ?? 0) * 10) / 10
  return { p50Ms: pick(0.5), p95Ms: pick(0.95), cpuMicrosPerRequest: Math.round((cpu.user + cpu.system) / repeat), items }
}

async function runOn(target: 'embedded' | 'mysql'): Promise<{ daily?: Figures; full?: Figures; seedMs: number; list: Record<string, ListFigures> }> {
  const dir = mkdtempSync(join(tmpdir(), 'qy-bench-tagging-'))
  const url = target === 'mysql' ? (process.env.QUNYUN_DB_URL || 'mysql://root@127.0.0.1:3306/qunyun_bench_tagging') : null
  if (url) await recreateDatabase(url)
  const config = loadConfig({ overrides: { database: { url } } })
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES), join(dir, 'bench.sqlite')))
  try {
    const activityStore = new FeatureStore(db, 'activity', [ActivityDailyEntity, ActivityHourlyEntity, MessageLogEntity])
    const store = new FeatureStore(db, 'tagging', [TaggingMemberEntity, TaggingGroupEntity, TaggingHistoryEntity, TaggingTagEntity, TaggingKeywordEntity])
    const rng = seededRandom(20261123)
    const random = (): number => rng.next()
    const rule: TaggingRule = TaggingRuleSchema.parse({
      tags: [
        { id: 'fans', tag: '铁粉', when: { lifecycle: ['active'], scoreMin: 30 } },
        { id: 'price', tag: '关注价格', when: { keyword: { words: ['价格'], days: 7 } } },
      ],
    })
    let version = 1
    const rules: FeatureRules<TaggingRule> = {
      of: () => rule, forGroup: async () => rule, latest: async () => version,
      validate: async () => ({ value: rule, before: rule }), write: async () => { throw new Error('not in the bench') },
      rollback: async () => null, versions: async () => [], diff: async () => ({ changes: [] }),
    }
    let emitted = 0
    let sent = 0
    const service = new TaggingService({
      store, clock: { now: () => NOW, sleep: async () => undefined }, log: silentLogger, events: { emit: () => { emitted++ } },
      outbound: outboundVerbs({ enqueue: () => { sent++ } }), rules,
      directory: { group: () => { throw new Error('unused') }, member: () => { throw new Error('unused') }, find: async () => null, activeGroups: async () => [], members: async () => [] },
      activity: activityFacts(activityStore),
      checkIns: { membersOn: async () => [], streaks: async () => new Map() },
    })

    // 100k members with 60 days of history already folded in: seen days spread over the last 60 days.
    const seed0 = performance.now()
    const memberRows: Row[] = []
    const daily: Row[] = []
    const yesterday = addDays(TODAY, -1)
    for (let i = 0; i < MEMBERS; i++) {
      const id = `m${String(i).padStart(6, '0')}`
      const silent = Math.floor(random() * 60) + 1
      const seen = addDays(TODAY, -silent)
      // States as of yesterday's run: today's run moves those whose silence crosses 14 or 30 days.
      const state = silent - 1 >= 30 ? 'churned' : silent - 1 >= 14 ? 'dormant' : 'active'
      memberRows.push([GROUP, id, state, NOW - silent * DAY_MS, seen, null, null, seen, seen, Math.floor(random() * 500), Math.floor(random() * 60), random() * 100, null])
      if (random() < ACTIVE_SHARE) daily.push([GROUP, id, yesterday, 1 + Math.floor(random() * 20), 20, 1, 0, 0, 0])
    }
    await store.insertIgnore('qy_tagging_member', ['group_id', 'member_id', 'state', 'state_at', 'state_day', 'joined_at', 'inviter_id', 'seen_day', 'last_active_day', 'messages', 'active_days', 'score', 'segment'], memberRows)
    await activityStore.upsertIncrement('qy_activity_daily', ['group_id', 'member_id', 'day'], ['messages', 'chars', 'text_count', 'media_count', 'card_count', 'other_count'], daily)
    // Watermark: history folded in up to three days ago; yesterday's run (below) folds the day before and tags everyone.
    await store.insertIgnore('qy_tagging_group', ['group_id', 'rolled_day', 'epoch', 'half_life', 'tag_version', 'updated_at'], [[GROUP, addDays(TODAY, -3), NOW - 30 * DAY_MS, rule.score.halfLifeDays, 0, NOW]])
    const group: GroupRecord = { id: GROUP, botId: 'bot', name: 'bench', timezone: 'Asia/Shanghai', ownerId: null, labels: [], memberCount: MEMBERS, active: true }
    // Yesterday's run tags everyone (rules version 0 → 1): the starting point of a normal day.
    const first = await service.recompute(group, NOW - DAY_MS)
    if (!first || first.tagged === 0) throw new Error('the set-up run did not tag the members')
    const seedMs = performance.now() - seed0

    const figures = (m: { wallMs: number; cpuMs: number; value: Awaited<ReturnType<TaggingService['recompute']>> }): Figures => ({
      wallMs: Math.round(m.wallMs), cpuMs: Math.round(m.cpuMs), membersPerSecond: Math.round(MEMBERS / (m.wallMs / 1000)),
      cpuMicrosPerMember: Math.round((m.cpuMs * 1000 / MEMBERS) * 100) / 100,
      changes: m.value?.changes ?? 0, tagged: m.value?.tagged ?? 0, untagged: m.value?.untagged ?? 0, rolledRows: m.value?.rolledRows ?? 0,
    })
    const list = await measureList(store, service, rules, group)
    for (const [name, f] of Object.entries(list)) console.log(`${target}: member list ${name.padEnd(22)} p50 ${f.p50Ms} ms, p95 ${f.p95Ms} ms, ${f.cpuMicrosPerRequest} CPU-µs/request (${f.items} items)`)
    if (LIST_ONLY) return { seedMs: Math.round(seedMs), list }
    const dailyRun = figures(await measure(() => service.recompute(group, NOW)))
    // The comparison: a full re-tag of every member (what a rules change triggers), same day folded again.
    version = 2
    await db.query('UPDATE qy_tagging_group SET rolled_day = ? WHERE group_id = ?', [addDays(TODAY, -2), GROUP])
    await db.query('DELETE FROM qy_activity_daily WHERE group_id = ?', [GROUP])
    const fullRun = figures(await measure(() => service.recompute(group, NOW)))
    console.log(`${target}: ${MEMBERS} members, ${daily.length} active yesterday; seeded and tagged in ${Math.round(seedMs)} ms; lifecycle events ${emitted}, outbound actions ${sent}`)
    console.log(`${target}: daily recompute ${dailyRun.wallMs} ms wall, ${dailyRun.cpuMs} ms CPU → ${dailyRun.membersPerSecond} members/s, ${dailyRun.cpuMicrosPerMember} CPU-µs/member (changes ${dailyRun.changes}, tagged ${dailyRun.tagged}, untagged ${dailyRun.untagged})`)
    console.log(`${target}: full re-tag       ${fullRun.wallMs} ms wall, ${fullRun.cpuMs} ms CPU → ${fullRun.membersPerSecond} members/s, ${fullRun.cpuMicrosPerMember} CPU-µs/member`)
    return { daily: dailyRun, full: fullRun, seedMs: Math.round(seedMs), list }
  } finally {
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The member list through the route's handler: first page, a deep page (offset 90 % down; with a cursor,
 * the page reached by walking cursors to the same depth is timed), each sort order, a state filter and a tag filter.
 */
async function measureList(store: FeatureStore, service: TaggingService, rules: FeatureRules<TaggingRule>, group: GroupRecord): Promise<Record<string, ListFigures>> {
  const routes = taggingRoutes({
    store, service, rules, clock: { now: () => NOW, sleep: async () => undefined },
    directory: { group: () => { throw new Error('unused') }, member: () => { throw new Error('unused') }, find: async () => group, activeGroups: async () => [], members: async () => [] },
    outbound: outboundVerbs({ enqueue: () => undefined }),
  })
  const route = routes.find((r) => r.method === 'GET' && r.path === '/api/v1/groups/:id/tagging/members')
  if (!route) throw new Error('no member-list route')
  const call = (query: Record<string, string>) => async (): Promise<{ items: unknown[]; nextCursor?: string | null }> =>
    await route.handler({ params: { id: GROUP }, query: MembersQuery.parse(query), body: undefined, requestId: 'bench', log: silentLogger, auth: null, audit: () => undefined }) as { items: unknown[]; nextCursor?: string | null }
  const deep = String(Math.floor(MEMBERS * 0.9))
  const out: Record<string, ListFigures> = {}
  out.firstPage = await timeRequests(call({ limit: '50' }), LIST_REPEAT)
  out.deepOffset = await timeRequests(call({ limit: '50', offset: deep }), LIST_REPEAT)
  for (const sort of ['score', 'lastActive', 'joined', 'stateSince']) {
    for (const order of ['desc', 'asc']) out[`${sort}.${order}.deepOffset`] = await timeRequests(call({ sort, order, limit: '50', offset: deep }), Math.max(3, LIST_REPEAT / 4))
  }
  out.stateFilter = await timeRequests(call({ state: 'active', sort: 'lastActive', limit: '50' }), LIST_REPEAT)
  const common = await store.query<{ tag: string }>('SELECT tag, COUNT(*) AS n FROM qy_tagging_tag WHERE group_id = ? GROUP BY tag ORDER BY n DESC LIMIT 1', [GROUP])
  out.tagFilter = await timeRequests(call({ tag: common[0]?.tag ?? '铁粉', limit: '50' }), LIST_REPEAT)
  // Keyset paging, when the route offers it: walk to the same depth with 200-item pages, then time the next pages by cursor.
  if ('cursor' in MembersQuery.shape) {
    for (const sort of ['score', 'lastActive', 'joined', 'stateSince']) {
      let cursor: string | null | undefined
      for (let seen = 0; seen < Number(deep); seen += 200) {
        cursor = (await call({ sort, limit: '200', ...(cursor ? { cursor } : {}) })()).nextCursor
        if (!cursor) break
      }
      if (cursor) out[`${sort}.desc.deepCursor`] = await timeRequests(call({ sort, limit: '50', cursor }), LIST_REPEAT)
    }
  }
  return out
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = { members: MEMBERS, activeShare: ACTIVE_SHARE }
  const embedded = await runOn('embedded')
  out.embedded = embedded
  if (MYSQL) out.mysql = await runOn('mysql')
  out.comparison = {
    ...(embedded.full && embedded.daily ? { embeddedDailyVsFullRetag: Math.round((embedded.full.wallMs / Math.max(1, embedded.daily.wallMs)) * 100) / 100 } : {}),
    embeddedListDeepOffsetVsFirstPage: Math.round(((embedded.list.deepOffset?.p50Ms ?? 0) / Math.max(0.1, embedded.list.firstPage?.p50Ms ?? 0)) * 100) / 100,
  }
  console.log(`BENCH ${JSON.stringify(out)}`)
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
