import { MoreThan } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import type { IncomingMessage } from '../../kernel/context'
import { errorText, type Logger } from '../../kernel/logger'
import type { Clock } from '../../ports/clock'
import type { ScheduleLift } from '../../contracts/scheduled-share'
import { ShareWindowEntity } from './scheduled-share.entity'

/** How long after a post (or the same moment on a day without one) messages are counted. */
export const WINDOW_MS = 30 * 60_000
/** How often a replica re-reads the open windows other replicas opened. */
const RELOAD_MS = 30_000

/** An open observation window of one group. */
interface OpenWindow { sendId: number; startAt: number; endAt: number }

/**
 * Engagement after posts: for each sent post, the messages and distinct members in its group during the
 * 30 minutes after it ("post" windows); for each run that posted nothing there (a calendar day, quiet
 * hours, nothing left to post), the same 30 minutes from its fire time ("baseline" windows). A schedule's
 * post lift compares the two. Counting is an observer on the message path (a Map lookup per message),
 * buffered and written on the flush interval.
 */
export class EngagementRecorder {
  private open = new Map<string, OpenWindow[]>()
  private loadedAt = Number.NEGATIVE_INFINITY
  private loading: Promise<void> | null = null
  private messages = new Map<number, number>()
  private members = new Map<number, Set<string>>()

  constructor(private readonly deps: { db: FeatureStore; clock: Clock; log: Logger }) {}

  /** Opens windows (idempotent per send) and starts counting them in this process at once. */
  async openWindows(windows: Array<{ sendId: number; scheduleId: number; groupId: string; kind: 'post' | 'baseline'; startAt: number }>): Promise<void> {
    if (windows.length === 0) return
    await this.deps.db.insertIgnore('qy_share_window', ['send_id', 'schedule_id', 'group_id', 'kind', 'start_at', 'end_at', 'messages'],
      windows.map((w) => [w.sendId, w.scheduleId, w.groupId, w.kind, w.startAt, w.startAt + WINDOW_MS, 0]))
    for (const w of windows) this.add(w.groupId, { sendId: w.sendId, startAt: w.startAt, endAt: w.startAt + WINDOW_MS })
  }

  private add(groupId: string, w: OpenWindow): void {
    const list = this.open.get(groupId) ?? []
    if (!list.some((x) => x.sendId === w.sendId)) list.push(w)
    this.open.set(groupId, list)
  }

  /** Re-reads windows still open (other replicas open them too); never blocks a message. */
  private reload(now: number): void {
    if (this.loading || now - this.loadedAt < RELOAD_MS) return
    this.loadedAt = now
    this.loading = this.deps.db.repo(ShareWindowEntity).find({ select: { sendId: true, groupId: true, startAt: true, endAt: true }, where: { endAt: MoreThan(now) } })
      .then((rows) => {
        const next = new Map<string, OpenWindow[]>()
        for (const r of rows) next.set(r.groupId, [...(next.get(r.groupId) ?? []), { sendId: r.sendId, startAt: r.startAt, endAt: r.endAt }])
        // Windows this process opened meanwhile stay.
        for (const [g, list] of this.open) for (const w of list) if (w.endAt > now && !next.get(g)?.some((x) => x.sendId === w.sendId)) next.set(g, [...(next.get(g) ?? []), w])
        this.open = next
      })
      .catch((error: unknown) => { this.deps.log.warn('share windows could not be read', { error: errorText(error) }) })
      .finally(() => { this.loading = null })
  }

  /** Counts one group message in every open window of its group (a Map lookup; no I/O). */
  observe(message: Pick<IncomingMessage, 'groupId' | 'senderId' | 'at'>): void {
    const at = message.at
    this.reload(this.deps.clock.now())
    const list = this.open.get(message.groupId)
    if (!list) return
    for (const w of list) {
      if (at < w.startAt || at >= w.endAt) continue
      this.messages.set(w.sendId, (this.messages.get(w.sendId) ?? 0) + 1)
      const set = this.members.get(w.sendId) ?? new Set<string>()
      set.add(message.senderId)
      this.members.set(w.sendId, set)
    }
    if (list.some((w) => w.endAt <= at)) this.open.set(message.groupId, list.filter((w) => w.endAt > at))
  }

  /** Writes buffered counts (distinct members as one row per member and window). */
  async flush(): Promise<void> {
    if (this.messages.size === 0) return
    const messages = this.messages
    const members = this.members
    this.messages = new Map()
    this.members = new Map()
    try {
      for (const [sendId, n] of messages) await this.deps.db.query('UPDATE qy_share_window SET messages = messages + ? WHERE send_id = ?', [n, sendId])
      const rows = [...members].flatMap(([sendId, set]) => [...set].map((m) => [sendId, m]))
      await this.deps.db.insertIgnore('qy_share_window_member', ['send_id', 'member_id'], rows)
    } catch (error) {
      // Put them back: the next flush tries again (counts may be lost only if the process dies meanwhile).
      for (const [id, n] of messages) this.messages.set(id, (this.messages.get(id) ?? 0) + n)
      for (const [id, set] of members) for (const m of set) this.members.set(id, (this.members.get(id) ?? new Set()).add(m))
      throw error
    }
  }

  /**
   * Post lift of a schedule over closed windows in `groupIds`: average messages and distinct members
   * after posts vs. on runs without a post, their ratio, and per post.
   */
  async report(scheduleId: number, visible: (groupId: string) => boolean): Promise<Record<string, unknown>> {
    const now = this.deps.clock.now()
    const rows = (await this.deps.db.repo(ShareWindowEntity).find({ where: { scheduleId }, order: { sendId: 'ASC' } }))
      .filter((w) => w.endAt <= now && visible(w.groupId))
    const counts = new Map<number, number>()
    if (rows.length > 0) {
      const ids = rows.map((r) => r.sendId)
      for (let i = 0; i < ids.length; i += 500) {
        const part = ids.slice(i, i + 500)
        const found: Array<{ send_id: number | string; n: number | string }> = await this.deps.db.query(
          `SELECT send_id, COUNT(*) AS n FROM qy_share_window_member WHERE send_id IN (${part.map(() => '?').join(',')}) GROUP BY send_id`, part)
        for (const f of found) counts.set(Number(f.send_id), Number(f.n))
      }
    }
    const postIds = await this.postIds(rows.filter((r) => r.kind === 'post').map((r) => r.sendId))
    const summary = (list: ShareWindowEntity[]) => ({
      windows: list.length,
      avgMessages: list.length ? round(list.reduce((n, w) => n + w.messages, 0) / list.length) : null,
      avgMembers: list.length ? round(list.reduce((n, w) => n + (counts.get(w.sendId) ?? 0), 0) / list.length) : null,
    })
    const posts = summary(rows.filter((r) => r.kind === 'post'))
    const baseline = summary(rows.filter((r) => r.kind === 'baseline'))
    const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : round(a / b))
    const byPost = new Map<number, ShareWindowEntity[]>()
    for (const r of rows) {
      const p = r.kind === 'post' ? postIds.get(r.sendId) : undefined
      if (p !== undefined) byPost.set(p, [...(byPost.get(p) ?? []), r])
    }
    return {
      scheduleId, windowMinutes: WINDOW_MS / 60_000, posts, baseline,
      lift: { messages: ratio(posts.avgMessages, baseline.avgMessages), members: ratio(posts.avgMembers, baseline.avgMembers) },
      perPost: [...byPost].map(([postId, list]) => ({ postId, ...summary(list) })),
    }
  }

  /** Post lift per schedule over windows closed in [fromMs, toMs) in the scope (see ShareLift). */
  async liftBetween(scope: { all: true } | { all: false; groupIds: readonly string[] }, fromMs: number, toMs: number, canSee: (ownerTokenId: number | null) => boolean): Promise<ScheduleLift[]> {
    if (!scope.all && scope.groupIds.length === 0) return []
    const end = Math.min(toMs, this.deps.clock.now() + 1)
    const inGroups = scope.all ? '' : ` AND group_id IN (${scope.groupIds.map(() => '?').join(',')})`
    const windows: Array<{ send_id: number | string; schedule_id: number | string; group_id: string; kind: string; messages: number | string }> = await this.deps.db.query(
      `SELECT send_id, schedule_id, group_id, kind, messages FROM qy_share_window WHERE end_at >= ? AND end_at < ?${inGroups}`, [fromMs, end, ...(scope.all ? [] : scope.groupIds)])
    if (windows.length === 0) return []
    const scheduleIds = [...new Set(windows.map((w) => Number(w.schedule_id)))]
    const schedules = new Map<number, { name: string; owner: number | null }>()
    for (let i = 0; i < scheduleIds.length; i += 500) {
      const part = scheduleIds.slice(i, i + 500)
      const rows: Array<{ id: number | string; name: string; owner_token_id: number | string | null }> = await this.deps.db.query(`SELECT id, name, owner_token_id FROM qy_share_schedule WHERE id IN (${part.map(() => '?').join(',')})`, part)
      for (const r of rows) schedules.set(Number(r.id), { name: r.name, owner: r.owner_token_id === null ? null : Number(r.owner_token_id) })
    }
    // Schedules the caller may not see are left out entirely (not even their ids).
    const visible = windows.filter((w) => { const s = schedules.get(Number(w.schedule_id)); return s !== undefined && canSee(s.owner) })
    const members = new Map<number, number>()
    const sendIds = visible.map((w) => Number(w.send_id))
    for (let i = 0; i < sendIds.length; i += 500) {
      const part = sendIds.slice(i, i + 500)
      const rows: Array<{ send_id: number | string; n: number | string }> = await this.deps.db.query(`SELECT send_id, COUNT(*) AS n FROM qy_share_window_member WHERE send_id IN (${part.map(() => '?').join(',')}) GROUP BY send_id`, part)
      for (const r of rows) members.set(Number(r.send_id), Number(r.n))
    }
    const bySchedule = new Map<number, typeof visible>()
    for (const w of visible) bySchedule.set(Number(w.schedule_id), [...(bySchedule.get(Number(w.schedule_id)) ?? []), w])
    const avg = (list: typeof visible, f: (w: (typeof visible)[number]) => number): number | null => (list.length ? round(list.reduce((n, w) => n + f(w), 0) / list.length) : null)
    const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : round(a / b))
    const out: ScheduleLift[] = []
    for (const [scheduleId, list] of bySchedule) {
      const posts = list.filter((w) => w.kind === 'post')
      const base = list.filter((w) => w.kind === 'baseline')
      const m = { post: avg(posts, (w) => Number(w.messages)), base: avg(base, (w) => Number(w.messages)) }
      const p = { post: avg(posts, (w) => members.get(Number(w.send_id)) ?? 0), base: avg(base, (w) => members.get(Number(w.send_id)) ?? 0) }
      out.push({
        scheduleId, name: schedules.get(scheduleId)?.name ?? '', groups: new Set(list.map((w) => w.group_id)).size, postWindows: posts.length, baselineWindows: base.length,
        avgMessagesAfterPost: m.post, avgMessagesBaseline: m.base, avgMembersAfterPost: p.post, avgMembersBaseline: p.base, liftMessages: ratio(m.post, m.base), liftMembers: ratio(p.post, p.base),
      })
    }
    return out.sort((a, b) => b.postWindows - a.postWindows || a.scheduleId - b.scheduleId)
  }

  private async postIds(sendIds: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>()
    for (let i = 0; i < sendIds.length; i += 500) {
      const rows: Array<{ id: number | string; post_id: number | string | null }> = await this.deps.db.query(
        `SELECT id, post_id FROM qy_share_send WHERE id IN (${sendIds.slice(i, i + 500).map(() => '?').join(',')})`, sendIds.slice(i, i + 500))
      for (const r of rows) if (r.post_id !== null) out.set(Number(r.id), Number(r.post_id))
    }
    return out
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
