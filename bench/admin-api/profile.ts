/**
 * CPU profile of the admin API server process (node:inspector, in-process) and its summary: self time by
 * function + file:line, self time by area (project file, npm package, node internals, GC), and inclusive
 * time of the project's own functions. Positions are TypeScript lines when the module has a source map
 * (the server runs with --enable-source-maps under ts-node).
 */
import { Session } from 'node:inspector/promises'
import type { HeapProfiler, Profiler } from 'node:inspector'
import { CpuProfiler, frameLocation, nativeArea, npmPackage } from '../lib/profiler'

export { CpuProfiler }

/** One aggregated row. */
export interface ProfileEntry {
  fn: string
  /** file:line ('' for V8 pseudo-frames and native code). */
  where: string
  ms: number
  /** Share of the busy (non-idle) time. */
  pct: number
}

/** What a CPU profile says about where the time went. */
export interface ProfileSummary {
  samples: number
  wallMs: number
  /** Time not idle (everything but the (idle) pseudo-frame). */
  busyMs: number
  idleMs: number
  /** Top functions by self time (idle excluded). */
  self: ProfileEntry[]
  /** Self time by area: project file, npm package, node internals, GC; native code counts for its JS caller. */
  areas: ProfileEntry[]
  /** Every area (for comparing two profiles). */
  allAreas: ProfileEntry[]
  /** Project functions (src/) by inclusive time. */
  inclusive: ProfileEntry[]
  /** Sampled allocations over the same run (`ms` = bytes), when taken. */
  allocations?: { totalBytes: number; sites: ProfileEntry[] }
}


function area(file: string, fn: string): string {
  if (file === '') return nativeArea(fn)
  const pkg = npmPackage(file)
  if (pkg) return pkg
  if (file.startsWith('node:')) {
    // node:_http_server, node:internal/streams/… → the module, which says which layer it is.
    return `node:${file.slice('node:'.length).replace(/^internal\//, '').split('/')[0] ?? ''}`
  }
  return file
}

const NATIVE = ' → native'

/** Aggregates a profile (idle time reported apart; percentages are of the busy time). */
export function summarize(profile: Profiler.Profile, top = 15): ProfileSummary {
  const byId = new Map<number, Profiler.ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  const meanUs = samples.length > 0 ? (profile.endTime - profile.startTime) / samples.length : 0
  const selfUs = new Map<number, number>()
  for (let i = 0; i < samples.length; i++) {
    // A sample stands for the time until the next one.
    const us = i + 1 < deltas.length ? Math.max(0, deltas[i + 1] as number) : meanUs
    const id = samples[i] as number
    selfUs.set(id, (selfUs.get(id) ?? 0) + us)
  }

  interface Described { key: string; fn: string; where: string; area: string; project: boolean; idle: boolean }
  const cache = new Map<number, Described>()
  const describe = (id: number): Described => {
    let d = cache.get(id)
    if (d) return d
    const frame = (byId.get(id) as Profiler.ProfileNode).callFrame
    const pseudo = frame.functionName.startsWith('(')
    const fn = frame.functionName ? (frame.url || pseudo ? frame.functionName : `${frame.functionName} (native)`) : frame.url ? '(anonymous)' : '(native)'
    const { file, line } = frame.url ? frameLocation(frame, false) : { file: '', line: 0 }
    const up = parent.get(id)
    // Native code (crypto hashing, JSON.stringify, socket writes) counts for the JS area that called it.
    const inherited = !frame.url && !pseudo && up !== undefined ? describe(up).area.replace(NATIVE, '') : undefined
    d = {
      key: `${fn}\u0000${file}:${line}`, fn, where: file ? `${file}:${line}` : '',
      area: inherited && inherited !== '(root)' ? inherited + NATIVE : area(file, fn),
      project: file.startsWith('src/'), idle: fn === '(idle)',
    }
    cache.set(id, d)
    return d
  }

  let idleUs = 0
  let busyUs = 0
  const selfAgg = new Map<string, ProfileEntry>()
  const areaAgg = new Map<string, ProfileEntry>()
  const inclAgg = new Map<string, ProfileEntry>()
  for (const [id, us] of selfUs) {
    const d = describe(id)
    if (d.idle) { idleUs += us; continue }
    busyUs += us
    const s = selfAgg.get(d.key) ?? { fn: d.fn, where: d.where, ms: 0, pct: 0 }
    s.ms += us / 1000
    selfAgg.set(d.key, s)
    const a = areaAgg.get(d.area) ?? { fn: d.area, where: '', ms: 0, pct: 0 }
    a.ms += us / 1000
    areaAgg.set(d.area, a)
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
  const finish = (m: Map<string, ProfileEntry>, n: number): ProfileEntry[] => [...m.values()]
    .sort((a, b) => b.ms - a.ms).slice(0, n)
    .map((e) => ({ ...e, ms: Math.round(e.ms * 10) / 10, pct: busyUs > 0 ? Math.round((e.ms * 1000 / busyUs) * 1000) / 10 : 0 }))
  return {
    samples: samples.length,
    wallMs: Math.round((profile.endTime - profile.startTime) / 100) / 10,
    busyMs: Math.round(busyUs / 100) / 10,
    idleMs: Math.round(idleUs / 100) / 10,
    self: finish(selfAgg, top),
    areas: finish(areaAgg, top),
    allAreas: finish(areaAgg, Number.MAX_SAFE_INTEGER),
    inclusive: finish(inclAgg, top),
  }
}

/** Allocation sampling (every ~`intervalBytes` allocated, freed objects included): which code allocates. */
export class AllocationProfiler {
  private readonly session = new Session()

  async start(intervalBytes = 16_384): Promise<void> {
    this.session.connect()
    await this.session.post('HeapProfiler.enable')
    await this.session.post('HeapProfiler.startSampling', {
      samplingInterval: intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true,
    } as HeapProfiler.StartSamplingParameterType)
  }

  async stop(): Promise<HeapProfiler.SamplingHeapProfile> {
    const { profile } = await this.session.post('HeapProfiler.stopSampling')
    await this.session.post('HeapProfiler.disable')
    this.session.disconnect()
    return profile
  }
}

/** Allocated bytes by function + file:line (self), biggest first; `ms` holds bytes here, pct of all sampled bytes. */
export function summarizeAllocations(profile: HeapProfiler.SamplingHeapProfile, top = 10): { totalBytes: number; sites: ProfileEntry[] } {
  const agg = new Map<string, ProfileEntry>()
  let total = 0
  const walk = (node: HeapProfiler.SamplingHeapProfileNode): void => {
    if (node.selfSize > 0) {
      const frame = node.callFrame
      const { file, line } = frame.url ? frameLocation(frame, false) : { file: '', line: 0 }
      const fn = frame.functionName || (frame.url ? '(anonymous)' : '(native)')
      const key = `${fn}\u0000${file}:${line}`
      const e = agg.get(key) ?? { fn, where: file ? `${file}:${line}` : '', ms: 0, pct: 0 }
      e.ms += node.selfSize
      agg.set(key, e)
      total += node.selfSize
    }
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  const sites = [...agg.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((e) => ({ ...e, pct: total > 0 ? Math.round((e.ms / total) * 1000) / 10 : 0 }))
  return { totalBytes: total, sites }
}
