/**
 * Shared by the benchmarks' CPU profiles: an in-process V8 profiler, call-frame positions mapped back to
 * TypeScript, and the "area" (project file, npm package, node internals, V8 pseudo-frame) of a frame.
 */
import { Session } from 'node:inspector/promises'
import type { Profiler, Runtime } from 'node:inspector'
import { findSourceMap } from 'node:module'
import { relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** A running V8 CPU profiler (node:inspector, in this process). */
export class CpuProfiler {
  private readonly session = new Session()

  async start(samplingIntervalUs = 500): Promise<void> {
    this.session.connect()
    await this.session.post('Profiler.enable')
    await this.session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs })
    await this.session.post('Profiler.start')
  }

  async stop(): Promise<Profiler.Profile> {
    const { profile } = await this.session.post('Profiler.stop')
    await this.session.post('Profiler.disable')
    this.session.disconnect()
    return profile
  }
}

const root = process.cwd()

/**
 * Where a call frame points, in TypeScript terms when the module has a source map. `mapFile: false` maps
 * only the line (for loaders that run the transpiled code under the .ts file's own name).
 */
export function frameLocation(frame: Runtime.CallFrame, mapFile = true): { file: string; line: number } {
  let url = frame.url
  let line = frame.lineNumber + 1
  if (url.startsWith('file://')) url = fileURLToPath(url)
  // Project files only: npm packages' own maps point at sources that are not installed.
  if (url.startsWith('/') && !url.includes(`${sep}node_modules${sep}`) && frame.lineNumber >= 0) {
    try {
      const entry = findSourceMap(url)?.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number } | undefined
      if (entry?.originalLine !== undefined) {
        line = entry.originalLine + 1
        if (mapFile && entry.originalSource !== undefined) url = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource
      }
    } catch { /* no map: keep the generated position */ }
  }
  if (url.startsWith(root + sep)) url = relative(root, url)
  return { file: url, line }
}

/** The npm package a file belongs to (`npm:name` or `npm:@scope/name`), or null. */
export function npmPackage(file: string): string | null {
  const nm = file.lastIndexOf('node_modules/')
  if (nm < 0) return null
  const parts = file.slice(nm + 'node_modules/'.length).split('/')
  return `npm:${parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? '?')}`
}

/** The area of a frame without a file: V8 pseudo-frames keep their name, the rest is native code. */
export function nativeArea(fn: string): string {
  return fn.startsWith('(') ? fn : '(native: C++ bindings, V8 builtins)'
}
