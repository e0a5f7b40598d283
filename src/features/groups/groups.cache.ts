import { RawJson } from '../../kernel/routes'

/**
 * Group details cached for at most one activity flush interval: the 7-day activity cannot be fresher
 * than the last flush anyway, and dashboards poll. Changes through the API drop the entry at once.
 */
export class DetailCache {
  private readonly entries = new Map<string, { value: RawJson; until: number }>()
  private readonly loading = new Map<string, Promise<RawJson | null>>()
  constructor(private readonly now: () => number, private readonly ttlMs: number) {}

  /** The cached value, or one shared load for every concurrent caller (no stampede when an entry expires). */
  async through(id: string, load: () => Promise<Record<string, unknown> | null>): Promise<RawJson | null> {
    const hit = this.get(id)
    if (hit) return hit
    let pending = this.loading.get(id)
    if (!pending) {
      // Stored serialised: a hit is sent as it is, without JSON.stringify.
      pending = load().then((value) => {
        if (!value) return null
        const raw = new RawJson(JSON.stringify(value))
        this.set(id, raw)
        return raw
      }).finally(() => this.loading.delete(id))
      this.loading.set(id, pending)
    }
    return pending
  }
  get(id: string): RawJson | undefined {
    const e = this.entries.get(id)
    if (!e) return undefined
    if (e.until <= this.now()) { this.entries.delete(id); return undefined }
    return e.value
  }
  set(id: string, value: RawJson): void {
    if (this.entries.size > 10_000) this.entries.clear()
    this.entries.set(id, { value, until: this.now() + this.ttlMs })
  }
  drop(id: string): void { this.entries.delete(id) }
  /**
   * Erasure: drops cached details whose JSON names `needle` (a member); returns how many. With `groupIds`
   * (an owner's erasure or preview) only entries of those groups are looked at (entries are keyed by group id).
   */
  dropMentioning(needle: string, dryRun: boolean, groupIds?: readonly string[]): number {
    const only = groupIds ? new Set(groupIds) : null
    let n = 0
    for (const [id, e] of this.entries) {
      if (only && !only.has(id)) continue
      if (!e.value.json.includes(needle)) continue
      n++
      if (!dryRun) this.entries.delete(id)
    }
    return n
  }
}
