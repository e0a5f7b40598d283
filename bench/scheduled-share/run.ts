/**
 * Scheduled-share tick cost: one schedule targeting N groups (default 300, 1,000 and 5,000) fires; the
 * tick plans one send row per group (rule lookup, rotation pick over a 20-post tag, unique-key insert)
 * and then claims and queues every due row (stagger 0, so all of them in the same tick). Measured on the
 * embedded SQLite file store, in one process; the outbound queue is replaced by a counter (its own cost
 * is benchmarked elsewhere). The comparison: a tick must finish well inside its minute.
 * Ends with one `BENCH {json}` line.
 *
 *   npx ts-node --transpile-only bench/scheduled-share/run.ts [--groups 300,1000,5000]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load'
import { databaseSchema, dataSourceOptions, openDatabase } from '../../src/adapters/db/data-source'
import { FeatureStore } from '../../src/adapters/db/feature-store'
import { FEATURES } from '../../src/features'
import { scheduledShareFeature } from '../../src/features/scheduled-share'
import { ShareEngine } from '../../src/features/scheduled-share/scheduled-share.engine'
import { SharePostEntity, ShareScheduleEntity } from '../../src/features/scheduled-share/scheduled-share.entity'
import { ScheduledShareRuleSchema } from '../../src/features/scheduled-share/scheduled-share.rules'
import type { GroupRecord } from '../../src/kernel/context'
import type { GroupDirectory } from '../../src/kernel/directory'
import { silentLogger } from '../../src/kernel/logger'
import type { Outbound } from '../../src/kernel/outbound-service'
import { FakeClock } from '../../src/ports/clock'

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? String(process.argv[i + 1]) : fallback
}
const SIZES = arg('--groups', '300,1000,5000').split(',').map(Number)

async function measure(groupCount: number): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'qunyun-bench-share-'))
  const config = await loadConfig({ overrides: {} })
  const db = await openDatabase(dataSourceOptions(config, databaseSchema(FEATURES), join(dir, 'bench.sqlite')))
  try {
    const store = new FeatureStore(db, 'scheduled-share', scheduledShareFeature.entities ?? [])
    const fire = Date.parse('2026-11-23T09:00:00+08:00')
    const clock = new FakeClock(fire - 60_000)
    const groups: GroupRecord[] = Array.from({ length: groupCount }, (_, i) => ({
      id: `g${i}@chatroom`, botId: 'bot', name: `群${String(i).padStart(5, '0')}`, timezone: 'Asia/Shanghai', ownerId: null, labels: [], memberCount: 100, active: true,
    }))
    const byId = new Map(groups.map((g) => [g.id, g]))
    const directory: GroupDirectory = {
      group: () => { throw new Error('not used') }, member: () => { throw new Error('not used') },
      find: async (id) => byId.get(id) ?? null, activeGroups: async () => groups, members: async () => [],
    }
    let queued = 0
    const count = (): void => { queued++ }
    const outbound: Outbound = { say: count, card: count, image: count, direct: count, remove: count, add: count, tag: count, untag: count, acceptInvitation: count, stored: async () => undefined, has: async () => false, existing: async () => new Set<string>() }
    const rule = ScheduledShareRuleSchema.parse({})
    const engine = new ShareEngine({
      db: store, directory, rules: { forGroup: async () => rule }, scopes: async () => new Map(), checkIns: { membersOn: async () => [] },
      activity: { memberDays: async () => [] }, outbound, events: { emit: () => undefined }, clock, log: silentLogger, defaultTimezone: 'Asia/Shanghai',
      windows: { openWindows: async () => undefined },
    })
    for (let i = 0; i < 20; i++) await store.repo(SharePostEntity).insert({ ownerTokenId: null, title: `p${i}`, text: '早安 {group} {date} {weekday}', imageUrl: null, card: null, tags: ['早安'], expiresOn: null, createdAt: 0, updatedAt: 0 })
    await store.repo(ShareScheduleEntity).insert({
      ownerTokenId: null, name: 'bench', enabled: true, trigger: { type: 'cron', cron: '0 9 * * *' }, timezone: null, target: { type: 'all' },
      content: { type: 'tag', tag: '早安' }, noRepeatDays: 7, staggerSeconds: 0, graceMinutes: 10, cursorAt: fire - 60_000, version: 1, createdAt: 0, updatedAt: 0,
    })
    clock.set(fire)
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    await engine.tick(new Date(fire))
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
    const cpu = process.cpuUsage(cpu0)
    const cpuUs = cpu.user + cpu.system
    engine.stop()
    if (queued !== groupCount) throw new Error(`expected ${groupCount} sends, queued ${queued}`)
    return { groups: groupCount, sends: queued, tickMs: Math.round(wallMs), sendsPerSec: Math.round(queued / (wallMs / 1000)), cpuUsPerSend: Math.round(cpuUs / queued) }
  } finally {
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const results: Array<Record<string, number>> = []
  await measure(50) // warm-up (JIT, entity metadata), not reported
  for (const n of SIZES) {
    const r = await measure(n)
    results.push(r)
    console.log(`${String(r.groups).padStart(5)} groups: tick ${r.tickMs} ms (plan + claim + queue), ${r.sendsPerSec} sends/s, ${r.cpuUsPerSend} CPU-µs per send`)
  }
  const budgetMs = 60_000
  console.log(`BENCH ${JSON.stringify({ bench: 'scheduled-share-tick', store: 'sqlite', results, comparison: { tickBudgetMs: budgetMs, worstTickShareOfBudget: Number((Math.max(...results.map((r) => r.tickMs ?? 0)) / budgetMs).toFixed(4)) } })}`)
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
