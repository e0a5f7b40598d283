import { Between, In, LessThanOrEqual } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import type { Row } from '../../adapters/db/sql'
import { servesGroup, type TokenScopes } from '../../contracts/access'
import type { ActivityFacts } from '../../contracts/activity'
import type { CheckInFacts } from '../../contracts/check-in'
import { SharePosted } from '../../contracts/scheduled-share'
import type { GroupRecord } from '../../kernel/context'
import type { GroupDirectory } from '../../kernel/directory'
import type { EventOfKind, OutboundFinished } from '../../kernel/events'
import { defineEvent } from '../../kernel/events'
import type { EventEmitter, FeatureRules } from '../../kernel/feature'
import { errorText, type Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import { renderTemplate } from '../../kernel/template'
import { addDays, localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import { endOfWindow, fireTimes, inWindow, localKey, matcherOf, nextFireTimes, weekdayOf, type Trigger } from './scheduled-share.cron'
import { SharePostEntity, ShareScheduleEntity, ShareSendEntity } from './scheduled-share.entity'
import type { EngagementRecorder } from './scheduled-share.engagement'
import { imageRef } from './scheduled-share.images'
import type { ScheduledShareRule } from './scheduled-share.rules'
import type { ScheduleInput } from './scheduled-share.schema'

const MINUTE = 60_000
const DAY = 86_400_000
/** A tick never looks further back than this (a long outage is not replayed minute by minute). */
const MAX_LOOKBACK_MS = 2 * DAY
/** Rows claimed per dispatch pass. */
const DISPATCH_BATCH = 200
/**
 * The sweep looks at sends claimed at least this long ago (a live replica stores its actions within
 * milliseconds; the keys make an overlap harmless anyway) and at most SWEEP_LOOKBACK_MS ago.
 */
export const SWEEP_AFTER_MS = 30_000
const SWEEP_LOOKBACK_MS = DAY
const WEEKDAYS_ZH = ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六']

/**
 * A stagger slot of planned sends came due on this replica: its dispatch runs in the processor's order
 * (so the runtime's idle state covers it). Internal to the feature.
 */
export const ShareSlotDue = defineEvent<{ slotAt: number }>()('share.slotDue')

/** A schedule with its JSON parts typed. */
export interface Schedule {
  id: number
  ownerTokenId: number | null
  name: string
  enabled: boolean
  trigger: Trigger
  timezone: string | null
  target: ScheduleInput['target']
  content: ScheduleInput['content']
  noRepeatDays: number
  staggerSeconds: number
  graceMinutes: number
  cursorAt: number
}

/** The typed view of a schedule row. */
export function scheduleOf(row: ShareScheduleEntity): Schedule {
  return {
    id: row.id, ownerTokenId: row.ownerTokenId, name: row.name, enabled: row.enabled, trigger: row.trigger as Trigger, timezone: row.timezone,
    target: row.target as Schedule['target'], content: row.content as Schedule['content'], noRepeatDays: row.noRepeatDays,
    staggerSeconds: row.staggerSeconds, graceMinutes: row.graceMinutes, cursorAt: row.cursorAt,
  }
}

/** A target group of one schedule, or the reason it cannot be posted to. */
interface Target {
  groupId: string
  group: GroupRecord | null
  timezone: string
  /** Why every run there is skipped (group gone, bot left, owner lost the group). */
  blocked?: string
}

/** The actions of one share send. */
type SharePart = 'text' | 'image' | 'card'

/** What a run posts in one group: a post, or why nothing. */
type Choice = { postId: number } | { reason: string }

const SEND_COLUMNS = ['schedule_id', 'group_id', 'bot_id', 'fire_key', 'timezone', 'fire_at', 'slot_at', 'post_id', 'status', 'reason', 'created_at']

export interface EngineDeps {
  db: FeatureStore
  directory: GroupDirectory
  rules: Pick<FeatureRules<ScheduledShareRule>, 'forGroup'>
  scopes: () => Promise<TokenScopes>
  checkIns: Pick<CheckInFacts, 'membersOn'>
  activity: Pick<ActivityFacts, 'memberDays'>
  outbound: Outbound
  events: EventEmitter
  clock: Clock
  log: Logger
  /** Timezone of groups the directory no longer knows (the deployment's). */
  defaultTimezone: string
  /** Where engagement windows open: after a sent post, and on runs that posted nothing (the baseline). */
  windows: Pick<EngagementRecorder, 'openWindows'>
}

/** Skip reasons that say nothing about the group's usual activity (no baseline window for them). */
const NO_BASELINE = new Set(['group_gone', 'bot_not_in_group', 'owner_lost_group'])

/**
 * Scheduled shares: every minute's tick (fenced: one replica per tick) turns each schedule's fire times
 * since its cursor into send rows — unique per (schedule, group, local fire minute), so replicas, retries
 * and restarts never post twice — each with its stagger slot, or skipped / missed with the reason. Due rows
 * are claimed one by one (planned → queued, a conditional update only one caller wins) and handed to the
 * outbound queue; its outcome events finish them (sent / failed) and `share.posted` follows.
 */
export class ShareEngine {
  private timerAt: number | null = null
  private stopped = false

  constructor(private readonly deps: EngineDeps) {}

  private get sends() { return this.deps.db.repo(ShareSendEntity) }

  // ---- planning ----

  /** The tick job: plans every enabled schedule's fire times up to `fireTime`, then queues what is due. */
  async tick(fireTime: Date): Promise<void> {
    const tickEnd = Math.floor(fireTime.getTime() / MINUTE) * MINUTE
    const rows = await this.deps.db.repo(ShareScheduleEntity).find({ where: { enabled: true }, order: { id: 'ASC' } })
    if (rows.length > 0) {
      const [groups, scopes] = await Promise.all([this.deps.directory.activeGroups(), this.deps.scopes()])
      for (const row of rows) {
        try {
          await this.planSchedule(scheduleOf(row), tickEnd, groups, scopes)
        } catch (error) {
          this.deps.log.error('share schedule planning failed', { schedule: row.id, error: errorText(error) })
        }
      }
    }
    await this.dispatchDue()
    try {
      await this.sweep()
    } catch (error) {
      this.deps.log.error('share sweep failed (the next tick retries)', { error: errorText(error) })
    }
  }

  /** The groups a schedule posts to now, in its order. */
  async targets(s: Schedule, groups: readonly GroupRecord[], scopes: TokenScopes): Promise<Target[]> {
    const tz = (g: GroupRecord | null): string => s.timezone ?? g?.timezone ?? this.deps.defaultTimezone
    if (s.target.type === 'groups') {
      const out: Target[] = []
      const active = new Map(groups.map((g) => [g.id, g]))
      for (const id of s.target.groupIds) {
        const g = active.get(id) ?? await this.deps.directory.find(id)
        const blocked = !g ? 'group_gone' : !g.active ? 'bot_not_in_group' : !servesGroup(scopes, s.ownerTokenId, id) ? 'owner_lost_group' : undefined
        out.push({ groupId: id, group: g, timezone: tz(g), blocked })
      }
      return out
    }
    const label = s.target.type === 'label' ? s.target.label : null
    return groups
      .filter((g) => g.active && servesGroup(scopes, s.ownerTokenId, g.id) && (label === null || g.labels.includes(label)))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((g) => ({ groupId: g.id, group: g, timezone: tz(g) }))
  }

  private async planSchedule(s: Schedule, tickEnd: number, groups: readonly GroupRecord[], scopes: TokenScopes): Promise<void> {
    const from = Math.max(s.cursorAt, tickEnd - MAX_LOOKBACK_MS)
    if (from >= tickEnd) return
    const match = matcherOf(s.trigger)
    const targets = await this.targets(s, groups, scopes)
    // Fire times per timezone (targets in one timezone share them), then the runs in time order.
    const byTz = new Map<string, Array<{ at: number; key: string }>>()
    for (const t of targets) if (!byTz.has(t.timezone)) byTz.set(t.timezone, fireTimes(match, t.timezone, from, tickEnd))
    const runs = new Map<number, Array<{ target: Target; key: string }>>()
    for (const t of targets) {
      for (const f of byTz.get(t.timezone) ?? []) {
        const list = runs.get(f.at) ?? []
        list.push({ target: t, key: f.key })
        runs.set(f.at, list)
      }
    }
    for (const at of [...runs.keys()].sort((a, b) => a - b)) await this.planRun(s, at, runs.get(at) ?? [])
    // Monotonic: a slower replica's older tick never moves the cursor back.
    await this.deps.db.query('UPDATE qy_share_schedule SET cursor_at = ? WHERE id = ? AND cursor_at < ?', [tickEnd, s.id, tickEnd])
  }

  /** One fire time of a schedule: a row per target group (planned with its slot, skipped, or missed). */
  private async planRun(s: Schedule, fireAt: number, due: Array<{ target: Target; key: string }>): Promise<void> {
    const now = this.deps.clock.now()
    const late = now - fireAt > s.graceMinutes * MINUTE
    const rows: Row[] = []
    const row = (t: Target, key: string, slotAt: number, postId: number | null, status: string, reason: string | null): Row =>
      [s.id, t.groupId, t.group?.botId ?? null, key, t.timezone, fireAt, slotAt, postId, status, reason, now]
    if (late) {
      for (const { target, key } of due) rows.push(row(target, key, fireAt, null, 'missed', `down at fire time (${Math.round((now - fireAt) / MINUTE)} min late, grace ${s.graceMinutes} min)`))
      await this.deps.db.insertIgnore('qy_share_send', SEND_COLUMNS, rows)
      this.deps.log.warn('share run missed (older than its grace window)', { schedule: s.id, fireAt: new Date(fireAt).toISOString(), groups: due.length })
      return
    }
    const posts = await this.postsFor(s)
    const used = await this.usage(due.map((d) => d.target.groupId), [...posts.keys()])
    const window = s.staggerSeconds * 1000
    // Only postable groups take stagger slots, in the schedule's order.
    const open = new Map(due.filter((d) => !d.target.blocked).map((d, i) => [d.target, i]))
    for (const { target, key } of due) {
      if (target.blocked) { rows.push(row(target, key, fireAt, null, 'skipped', target.blocked)); continue }
      const position = open.get(target) ?? 0
      let slotAt = fireAt + (open.size > 1 ? Math.floor((position * window) / open.size) : 0)
      const local = localTime(fireAt, target.timezone)
      const rule = await this.deps.rules.forGroup(target.groupId)
      if (!rule.enabled) { rows.push(row(target, key, fireAt, null, 'skipped', 'shares_disabled_in_group')); continue }
      if (rule.skipDates.includes(local.day)) { rows.push(row(target, key, fireAt, null, 'skipped', `calendar ${local.day}`)); continue }
      let reason: string | null = null
      if (rule.quietHours && inWindow(local.hour * 60 + local.minute, rule.quietHours.from, rule.quietHours.to)) {
        const span = `quiet_hours ${rule.quietHours.from}-${rule.quietHours.to}`
        if (rule.onQuiet === 'skip') { rows.push(row(target, key, fireAt, null, 'skipped', span)); continue }
        slotAt = endOfWindow(fireAt, target.timezone, rule.quietHours.from, rule.quietHours.to) + (slotAt - fireAt)
        reason = `deferred: ${span}, slot ${localKey(slotAt, target.timezone)}`
      }
      const pick = this.pick(s, posts, used.get(target.groupId) ?? new Map(), fireAt, local.day)
      if ('reason' in pick) { rows.push(row(target, key, fireAt, null, 'skipped', pick.reason)); continue }
      rows.push(row(target, key, slotAt, pick.postId, 'planned', reason))
    }
    await this.deps.db.insertIgnore('qy_share_send', SEND_COLUMNS, rows)
    // Runs that posted nothing in a group are its baseline: the same moment on a day without a post.
    const skipped = await this.sends.find({ select: { id: true, groupId: true, reason: true }, where: { scheduleId: s.id, fireAt, status: 'skipped' } })
    await this.deps.windows.openWindows(skipped.filter((r) => !NO_BASELINE.has(r.reason ?? '')).map((r) => ({ sendId: r.id, scheduleId: s.id, groupId: r.groupId, kind: 'baseline' as const, startAt: fireAt })))
  }

  /** The posts a schedule may use (its owner's; admins' schedules: any), by id. */
  private async postsFor(s: Schedule): Promise<Map<number, SharePostEntity>> {
    const ids = s.content.type === 'post' ? [s.content.postId] : s.content.type === 'list' ? s.content.postIds : null
    const where = s.ownerTokenId === null ? {} : { ownerTokenId: s.ownerTokenId }
    const rows = await this.deps.db.repo(SharePostEntity).find({ where: ids ? { ...where, id: In(ids) } : where, order: { id: 'ASC' } })
    return new Map(rows.map((p) => [p.id, p]))
  }

  /** When each post was last sent (or is planned) in each group: group → post → fire time. */
  private async usage(groupIds: string[], postIds: number[]): Promise<Map<string, Map<number, number>>> {
    const out = new Map<string, Map<number, number>>()
    if (groupIds.length === 0 || postIds.length === 0) return out
    for (let i = 0; i < groupIds.length; i += 500) {
      const part = groupIds.slice(i, i + 500)
      const rows: Array<{ group_id: string; post_id: number | string; last: number | string }> = await this.deps.db.query(
        `SELECT group_id, post_id, MAX(fire_at) AS last FROM qy_share_send WHERE group_id IN (${part.map(() => '?').join(',')}) AND post_id IS NOT NULL AND status IN ('planned', 'queued', 'sent') GROUP BY group_id, post_id`,
        part)
      for (const r of rows) {
        const m = out.get(r.group_id) ?? new Map<number, number>()
        m.set(Number(r.post_id), Number(r.last))
        out.set(r.group_id, m)
      }
    }
    return out
  }

  /** The post a run sends in one group: rotation rules, expiry and the no-repeat window applied. */
  pick(s: Schedule, posts: ReadonlyMap<number, SharePostEntity>, used: ReadonlyMap<number, number>, fireAt: number, day: string): Choice {
    const usable = (p: SharePostEntity | undefined): p is SharePostEntity => p !== undefined && (p.expiresOn === null || p.expiresOn >= day)
    const fresh = (p: SharePostEntity): boolean => {
      const last = used.get(p.id)
      return s.noRepeatDays === 0 || last === undefined || fireAt - last >= s.noRepeatDays * DAY
    }
    const c = s.content
    if (c.type === 'post') {
      const p = posts.get(c.postId)
      if (!usable(p)) return { reason: 'post_unavailable (deleted or expired)' }
      return fresh(p) ? { postId: p.id } : { reason: `no_repeat (post ${p.id} within ${s.noRepeatDays} days)` }
    }
    if (c.type === 'list') {
      // In list order, continuing after the post used most recently.
      const lastIndex = c.postIds.reduce((best, id, i) => ((used.get(id) ?? -1) > (used.get(c.postIds[best] as number) ?? -1) ? i : best), -1)
      const start = lastIndex >= 0 && used.has(c.postIds[lastIndex] as number) ? lastIndex + 1 : 0
      for (let k = 0; k < c.postIds.length; k++) {
        const p = posts.get(c.postIds[(start + k) % c.postIds.length] as number)
        if (usable(p) && fresh(p)) return { postId: p.id }
      }
      return { reason: 'no_content (every listed post expired or sent within the no-repeat window)' }
    }
    let tag: string
    if (c.type === 'weekday') {
      const iso = String(weekdayOf(day) === 0 ? 7 : weekdayOf(day)) as keyof typeof c.tags
      const t = c.tags[iso]
      if (!t) return { reason: `no_topic (no tag for ${WEEKDAYS_ZH[weekdayOf(day)] ?? day})` }
      tag = t
    } else {
      tag = c.tag
    }
    // Next unused post with the tag: never sent here first (oldest first), then the least recently sent.
    const candidates = [...posts.values()].filter((p) => usable(p) && p.tags.includes(tag) && fresh(p))
    candidates.sort((a, b) => (used.get(a.id) ?? -1) - (used.get(b.id) ?? -1) || a.id - b.id)
    const chosen = candidates[0]
    return chosen ? { postId: chosen.id } : { reason: `no_content (no unused post tagged "${tag}")` }
  }

  // ---- crash sweep ----

  /**
   * Sends claimed (queued) whose outbound actions never reached the store — the process died between the
   * claim and the store — are posted again: only their missing parts, each under the part's key, so two
   * replicas sweeping at once (or a late original) store it once. Runs with the tick (every minute, after a
   * restart too) and when a bot logs in here (a takeover). A send whose slot passed beyond its grace is
   * logged as missed instead. Returns how many sends were posted again.
   */
  async sweep(opts: { botId?: string } = {}): Promise<number> {
    const now = this.deps.clock.now()
    const rows = await this.sends.find({
      where: { status: 'queued', queuedAt: Between(now - SWEEP_LOOKBACK_MS, now - SWEEP_AFTER_MS), ...(opts.botId ? { botId: opts.botId } : {}) },
      order: { id: 'ASC' }, take: DISPATCH_BATCH,
    })
    if (rows.length === 0) return 0
    // A send still queued after half a minute is usually just waiting (a throttled lane, a bot offline): the
    // whole batch is checked with one post lookup and one outbound key lookup, not a few queries per send.
    const postIds = [...new Set(rows.flatMap((r) => (r.postId === null ? [] : [r.postId])))]
    const posts = new Map((postIds.length > 0 ? await this.deps.db.repo(SharePostEntity).findBy({ id: In(postIds) }) : []).map((p) => [p.id, p]))
    const partsOf = (row: ShareSendEntity): SharePart[] => {
      const post = row.postId === null ? undefined : posts.get(row.postId)
      const parts: SharePart[] = ['text']
      if (post && (post.imageId !== null || post.imageUrl)) parts.push('image')
      if (post?.card) parts.push('card')
      return parts
    }
    const existing = await this.deps.outbound.existing(rows.flatMap((row) => partsOf(row).map((part) => `share:${row.id}:${part}`)))
    let reposted = 0
    for (const row of rows) {
      const missing = partsOf(row).filter((part) => !existing.has(`share:${row.id}:${part}`))
      if (missing.length === 0) continue
      try {
        if (await this.repost(row, row.postId === null ? null : posts.get(row.postId) ?? null, missing, now)) reposted++
      } catch (error) {
        this.deps.log.error('share sweep failed for a send (next sweep retries)', { send: row.id, error: errorText(error) })
      }
    }
    if (reposted > 0) this.deps.log.warn('share sweep: sends claimed but never queued (a crash) posted again', { count: reposted, bot: opts.botId })
    return reposted
  }

  /** Posts again the `missing` parts of a send lost in a crash (or records why it no longer can). */
  private async repost(row: ShareSendEntity, post: SharePostEntity | null, missing: SharePart[], now: number): Promise<boolean> {
    const fail = async (reason: string): Promise<false> => {
      await this.sends.update({ id: row.id, status: 'queued' }, { status: 'failed', reason, finishedAt: now })
      return false
    }
    if (!post) return fail('lost before it was queued (a crash); post deleted since')
    const schedule = await this.deps.db.repo(ShareScheduleEntity).findOneBy({ id: row.scheduleId })
    const grace = (schedule?.graceMinutes ?? 0) * MINUTE
    // Only a send that never went out at all may be too late; a missing image or card follows its text.
    if (missing.includes('text') && now - row.slotAt > grace && !row.fireKey.startsWith('test:')) {
      await this.sends.update({ id: row.id, status: 'queued' }, {
        status: 'missed', reason: `lost before it was queued (a crash); slot passed (${Math.round((now - row.slotAt) / MINUTE)} min late, grace ${schedule?.graceMinutes ?? 0} min)`, finishedAt: now,
      })
      return false
    }
    const group = await this.deps.directory.find(row.groupId)
    if (!group?.active) return fail(`lost before it was queued (a crash); ${group ? 'bot_not_in_group' : 'group_gone'} since`)
    await this.send({ row, group, post, fireAt: row.fireAt, timezone: row.timezone, cause: `share:${row.id}`, parts: missing })
    return true
  }

  // ---- dispatch ----

  /** Queues every planned send whose slot has come (claiming each once), then waits for the next slot. */
  async dispatchDue(): Promise<void> {
    const schedules = new Map<number, ShareScheduleEntity | null>()
    const posts = new Map<number, SharePostEntity | null>()
    let scopes: TokenScopes | null = null
    for (;;) {
      const now = this.deps.clock.now()
      const due = await this.sends.find({ where: { status: 'planned', slotAt: LessThanOrEqual(now) }, order: { slotAt: 'ASC', id: 'ASC' }, take: DISPATCH_BATCH })
      if (due.length > 0 && !scopes) scopes = await this.deps.scopes()
      for (const row of due) {
        if (!schedules.has(row.scheduleId)) schedules.set(row.scheduleId, await this.deps.db.repo(ShareScheduleEntity).findOneBy({ id: row.scheduleId }))
        await this.dispatch(row, schedules.get(row.scheduleId) ?? null, scopes as TokenScopes, posts)
      }
      if (due.length < DISPATCH_BATCH) break
    }
    const next = await this.sends.findOne({ select: { slotAt: true }, where: { status: 'planned' }, order: { slotAt: 'ASC' } })
    if (next) this.arm(next.slotAt)
  }

  /** Wakes this replica's dispatcher at `slotAt` (one timer; an earlier slot replaces a later one). */
  private arm(slotAt: number): void {
    if (this.stopped) return
    const now = this.deps.clock.now()
    if (this.timerAt !== null && this.timerAt <= slotAt && this.timerAt > now) return
    this.timerAt = slotAt
    // A slot already past (a row left planned by a failed pass) is retried after a pause, not in a tight loop.
    void this.deps.clock.sleep(slotAt > now ? slotAt - now : 5_000).then(() => {
      if (this.timerAt === slotAt) this.timerAt = null
      if (!this.stopped) this.deps.events.emit(ShareSlotDue.of({ id: `share.slotDue:${slotAt}:${this.deps.clock.now()}`, at: this.deps.clock.now(), slotAt }))
    })
  }

  /** Moves a planned row to a final state (only while it is still planned). */
  private async settle(id: number, status: 'skipped' | 'missed', reason: string): Promise<void> {
    await this.sends.update({ id, status: 'planned' }, { status, reason, finishedAt: this.deps.clock.now() })
  }

  private async dispatch(row: ShareSendEntity, schedule: ShareScheduleEntity | null, scopes: TokenScopes, posts: Map<number, SharePostEntity | null>): Promise<void> {
    const now = this.deps.clock.now()
    if (!schedule) return this.settle(row.id, 'skipped', 'schedule_deleted')
    if (!schedule.enabled) return this.settle(row.id, 'skipped', 'paused')
    if (now - row.slotAt > schedule.graceMinutes * MINUTE) {
      return this.settle(row.id, 'missed', `slot passed while down (${Math.round((now - row.slotAt) / MINUTE)} min late, grace ${schedule.graceMinutes} min)`)
    }
    const group = await this.deps.directory.find(row.groupId)
    if (!group) return this.settle(row.id, 'skipped', 'group_gone')
    if (!group.active) return this.settle(row.id, 'skipped', 'bot_not_in_group')
    if (!servesGroup(scopes, schedule.ownerTokenId, row.groupId)) return this.settle(row.id, 'skipped', 'owner_lost_group')
    if (row.postId !== null && !posts.has(row.postId)) posts.set(row.postId, await this.deps.db.repo(SharePostEntity).findOneBy({ id: row.postId }))
    const post = row.postId === null ? null : posts.get(row.postId) ?? null
    if (!post) return this.settle(row.id, 'skipped', 'post_deleted')
    // The claim: exactly one caller moves the row from planned to queued, and only it sends.
    const claimed = await this.sends.update({ id: row.id, status: 'planned' }, { status: 'queued', queuedAt: now, botId: group.botId })
    if (claimed.affected !== 1) return
    await this.send({ row, group, post, fireAt: row.fireAt, timezone: row.timezone, cause: `share:${row.id}` })
  }

  /**
   * Renders a post for a group and queues its text, image and card (or only `parts`), each keyed by its
   * cause: stored at most once, whoever queues it and however often.
   */
  private async send(input: { row: { id: number }; group: GroupRecord; post: SharePostEntity; fireAt: number; timezone: string; cause: string; parts?: readonly SharePart[] }): Promise<void> {
    const { group, post } = input
    const wants = (part: SharePart): boolean => input.parts === undefined || input.parts.includes(part)
    const to = { botId: group.botId, groupId: group.id }
    const note = `share post ${post.id}`
    const facts = (part: SharePart) => ({ cause: `${input.cause}:${part}`, key: `${input.cause}:${part}`, note })
    if (wants('text')) this.deps.outbound.say(to, await this.render(post.text, group, input.fireAt, input.timezone), facts('text'))
    // An uploaded image goes out as a small reference; the channel loads the bytes when it sends (MEDIA).
    const image = post.imageId !== null ? imageRef(post.imageId) : post.imageUrl
    if (image && wants('image')) this.deps.outbound.image(to, image, facts('image'))
    if (post.card && wants('card')) this.deps.outbound.card(to, post.card, facts('card'))
  }

  /** Fills a post's variables for one group at one time. */
  async render(template: string, group: GroupRecord, at: number, timezone: string): Promise<string> {
    const local = localTime(at, timezone)
    const vars: Record<string, string | number> = {
      group: group.name, date: local.day, weekday: WEEKDAYS_ZH[weekdayOf(local.day)] ?? '',
      time: localKey(at, timezone).slice(11), members: group.memberCount,
    }
    if (template.includes('{checkIns}')) vars.checkIns = (await this.deps.checkIns.membersOn(group.id, [local.day])).length
    if (template.includes('{topMembers}')) vars.topMembers = await this.topMembers(group.id, local.day)
    return renderTemplate(template, vars)
  }

  /** The three members with most messages in the 7 days up to `day` (names; ties by id). */
  private async topMembers(groupId: string, day: string): Promise<string> {
    const rows = await this.deps.activity.memberDays(groupId, addDays(day, -6), day)
    const totals = new Map<string, number>()
    for (const r of rows) totals.set(r.memberId, (totals.get(r.memberId) ?? 0) + r.messages)
    const top = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 3).map(([id]) => id)
    if (top.length === 0) return ''
    const names = new Map((await this.deps.directory.members(groupId, { ids: top, includeLeft: true })).map((m) => [m.id, m.name]))
    return top.map((id) => names.get(id) ?? id).join('、')
  }

  /** A test send of a post to one group now (logged with a `test:` fire key; not part of any rotation). */
  async testSend(scheduleId: number, groupId: string, post: SharePostEntity): Promise<{ sendId: number; status: string; reason: string | null }> {
    const now = this.deps.clock.now()
    const group = await this.deps.directory.find(groupId)
    const tz = group?.timezone ?? this.deps.defaultTimezone
    const status = group?.active ? 'queued' : 'skipped'
    const reason = !group ? 'group_gone' : group.active ? 'test send' : 'bot_not_in_group'
    const inserted = await this.sends.insert({
      scheduleId, groupId, botId: group?.botId ?? null, fireKey: `test:${now}`, timezone: tz, fireAt: now, slotAt: now, postId: post.id,
      status, reason, createdAt: now, queuedAt: status === 'queued' ? now : null, finishedAt: null,
    })
    const sendId = Number(inserted.identifiers[0]?.id)
    if (group?.active) await this.send({ row: { id: sendId }, group, post, fireAt: now, timezone: tz, cause: `share:${sendId}` })
    return { sendId, status, reason }
  }

  /** The next `count` runs per timezone the schedule's targets use (shown with the timezone). */
  async preview(s: Schedule, count: number): Promise<Array<{ timezone: string; groups: number; runs: Array<{ at: string; local: string }> }>> {
    const [groups, scopes] = await Promise.all([this.deps.directory.activeGroups(), this.deps.scopes()])
    const targets = (await this.targets(s, groups, scopes)).filter((t) => !t.blocked)
    const zones = new Map<string, number>()
    for (const t of targets) zones.set(t.timezone, (zones.get(t.timezone) ?? 0) + 1)
    if (zones.size === 0) zones.set(s.timezone ?? this.deps.defaultTimezone, 0)
    const match = matcherOf(s.trigger)
    const now = this.deps.clock.now()
    return [...zones].map(([timezone, n]) => ({
      timezone, groups: n,
      runs: nextFireTimes(match, timezone, now, count).map((f) => ({ at: new Date(f.at).toISOString(), local: f.key })),
    }))
  }

  // ---- outcomes ----

  /** Outbound outcomes of share sends: the row becomes sent or failed; a sent text emits share.posted. */
  async finished(events: ReadonlyArray<EventOfKind<typeof OutboundFinished>>): Promise<void> {
    for (const e of events) {
      const m = /^share:(\d+):(text|image|card)$/.exec(e.cause ?? '')
      if (!m) continue
      const id = Number(m[1])
      const part = m[2] as string
      const now = this.deps.clock.now()
      if (e.status !== 'sent') {
        await this.sends.update({ id, status: In(['queued', 'sent']) }, { status: 'failed', reason: `${part} ${e.status}${e.error ? `: ${e.error.slice(0, 150)}` : ''}`, finishedAt: now })
        continue
      }
      if (part !== 'text') continue
      await this.sends.update({ id, status: 'queued' }, { status: 'sent', finishedAt: now })
      const row = await this.sends.findOneBy({ id })
      if (!row || row.status !== 'sent' || row.postId === null || row.fireKey.startsWith('test:')) continue
      await this.deps.windows.openWindows([{ sendId: row.id, scheduleId: row.scheduleId, groupId: row.groupId, kind: 'post', startAt: row.finishedAt ?? now }])
      const post = await this.deps.db.repo(SharePostEntity).findOneBy({ id: row.postId })
      // A stable id: a redelivered outcome emits the same event, which consumers ignore.
      this.deps.events.emit(SharePosted.of({
        id: `share.posted:${row.id}`, at: now, botId: e.botId, groupId: row.groupId, scheduleId: row.scheduleId, sendId: row.id,
        postId: row.postId, tags: post?.tags ?? [], fireAt: row.fireAt,
      }))
    }
  }

  /** Stops waking (at shutdown). */
  stop(): void { this.stopped = true }
}
