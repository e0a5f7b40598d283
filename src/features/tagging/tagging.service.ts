import { In, LessThanOrEqual } from 'typeorm'
import { isDuplicate } from '../../adapters/db/errors'
import type { FeatureStore, FeatureTables } from '../../adapters/db/feature-store'
import { clusterBy, type Row } from '../../adapters/db/sql'
import type { ActivityFacts, MemberDay } from '../../contracts/activity'
import type { CheckInFacts } from '../../contracts/check-in'
import { MemberLifecycleChanged, type LifecycleState } from '../../contracts/tagging'
import type { GroupRecord } from '../../kernel/context'
import type { GroupDirectory } from '../../kernel/directory'
import type { EventEmitter, FeatureRules } from '../../kernel/feature'
import type { Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import { SerialRunner } from '../../kernel/serial'
import { renderTemplate } from '../../kernel/template'
import { addDays, localTime } from '../../kernel/time'
import type { Clock } from '../../ports/clock'
import type { Disposer, PubSub } from '../../ports/ports'
import { TaggingGroupEntity, TaggingHistoryEntity, TaggingKeywordEntity, TaggingMemberEntity, TaggingTagEntity } from './tagging.entity'
import { current, daysBetween, dayInstant, growth, inQuietHours, matches, REBASE_EXPONENT, rescaleFactor, segmentOf, storedFor, type MemberFacts, type ScoreScale } from './tagging.model'
import type { Segment, TaggingRule } from './tagging.rules'

const DAY_MS = 86_400_000
const CHUNK = 500
/** Rows of each kind per transaction when the message path's buffered rows are written. */
const PENDING_SLICE = 1000
/** Members evaluated (and their tag changes written) per transaction. */
const TAG_PAGE = 2000
/** Days of activity folded in when a group is first seen by the daily job (at most). */
const BACKFILL_DAYS = 60
/** Spoke again within this long after a wake-up: counted as woken. */
const WOKE_WINDOW_MS = 7 * DAY_MS
const MEMBER_COLUMNS = ['group_id', 'member_id', 'state', 'state_at', 'state_day', 'joined_at', 'inviter_id', 'seen_day', 'last_active_day', 'messages', 'active_days', 'score']
const HISTORY_COLUMNS = ['group_id', 'member_id', 'kind', 'detail', 'ref', 'at']
const GROUP_COLUMNS = ['group_id', 'rolled_day', 'epoch', 'half_life', 'tag_version', 'updated_at']

/** One lifecycle change, as recorded and emitted. */
export interface Change {
  groupId: string
  botId: string
  memberId: string
  from: LifecycleState | null
  to: LifecycleState
  reason: string
  at: number
  /** Unique per member: the history row's ref and the event id's tail. */
  ref: string
}

/** What the service needs from the feature app. */
export interface TaggingDeps {
  store: FeatureStore
  clock: Clock
  log: Logger
  events: EventEmitter
  outbound: Outbound
  rules: FeatureRules<TaggingRule>
  directory: GroupDirectory
  activity: ActivityFacts
  checkIns: CheckInFacts
  /**
   * Most member states kept in memory (summed over groups): beyond it the least recently used groups are
   * dropped and read again (one query) on their next message. Default DEFAULT_STATE_CACHE.
   */
  maxCachedStates?: number
}

/** What one group's recompute did (for logs, the bench and tests). */
export interface RecomputeResult {
  rolledDays: number
  rolledRows: number
  changes: number
  tagged: number
  untagged: number
}

/** Key of a member in a group for in-memory maps. */
export function memoKey(groupId: string, memberId: string): string {
  return `${groupId}\u0000${memberId}`
}

/** Pub/sub channel on which replicas tell each other that members' stored states moved (jobs, events). */
const STATES_CHANNEL = 'tagging.states'

/**
 * A group's members as this process knows them: the stored lifecycle state of every member with a row
 * (loaded in one query), or null for a member whose row changed outside the message path since (read it
 * from the store on their next first message of the day). Absent = no row.
 */
interface GroupStates { day: string; states: Map<string, LifecycleState | null>; counted: number }

/** Default bound of the member states kept in memory (see TaggingDeps.maxCachedStates). */
export const DEFAULT_STATE_CACHE = 200_000

/** Default scale of a group seen for the first time. */
function initialScale(now: number, rule: TaggingRule): ScoreScale {
  return { epoch: Math.floor(now / DAY_MS) * DAY_MS, halfLifeDays: rule.score.halfLifeDays }
}

/** Engagement scores and lifecycle states: their one write path. */
export class TaggingService {
  /** Groups whose scale row is known to exist (it is never deleted; the scale itself is never cached). */
  private readonly ensured = new Set<string>()
  /** group ␀ member → the local day the message path last checked their state (cleared by moves). */
  readonly memo = new Map<string, string>()
  /** group → its members' states (see GroupStates), reloaded once per local day and when another replica moved states. */
  private readonly groups = new Map<string, GroupStates>()
  /** Member states held by `groups` (as counted when each group was loaded, plus members added since). */
  private cachedStates = 0
  /** Groups dropped to keep `cachedStates` within the bound (for tests and the bench). */
  evictedGroups = 0
  /** group → bumped whenever its states are dropped, so a load that started before is not kept. */
  private readonly generation = new Map<string, number>()
  private readonly loading = new Map<string, Promise<GroupStates>>()
  /** The group statesOf served last (it is already the most recently used). */
  private lastUsed: string | null = null
  /** Rows decided on the message path, written with the flush: new members (by group ␀ member) and timeline rows. */
  private pendingMembers = new Map<string, Row>()
  private pendingHistory: Row[] = []
  /**
   * Scale rows of groups first seen on the message path (as ensureGroup creates them), written with the
   * flush before their members; every reader of a scale goes through ensureGroup, which writes it at once.
   */
  private pendingGroups = new Map<string, Row>()
  /** New members' rows being written now (a state load meanwhile must see them). */
  private writing: Row[] = []
  private readonly writer = new SerialRunner(() => this.writePending())
  private readonly origin = `${process.pid}-${Math.random().toString(36).slice(2)}`
  private pubsub?: PubSub

  constructor(private readonly d: TaggingDeps) {}

  // ---- members' states in memory, rows written behind ----

  /**
   * Shares "states moved in this group" with the other replicas (the daily job may run on any of them),
   * so none serves a member's state from a stale copy. Returns the unsubscriber.
   */
  async share(pubsub: PubSub): Promise<Disposer> {
    this.pubsub = pubsub
    return pubsub.subscribe(STATES_CHANNEL, (message) => {
      let m: { o?: unknown; g?: unknown }
      try { m = JSON.parse(message) as { o?: unknown; g?: unknown } } catch { return }
      if (m.o !== this.origin && typeof m.g === 'string') this.dropStates(m.g)
    })
  }

  /** Forgets a group's states (reloaded on its next message). */
  private dropStates(groupId: string): void {
    this.forget(groupId)
    this.generation.set(groupId, (this.generation.get(groupId) ?? 0) + 1)
  }

  private forget(groupId: string): void {
    const g = this.groups.get(groupId)
    if (!g) return
    this.groups.delete(groupId)
    this.cachedStates -= g.counted
  }

  /** Keeps a group's loaded states (most recently used last) and evicts the least recently used beyond the bound. */
  private keep(groupId: string, loaded: GroupStates): void {
    this.forget(groupId)
    this.groups.set(groupId, loaded)
    this.lastUsed = groupId
    this.cachedStates += loaded.counted
    this.trim(groupId)
  }

  /** Evicts the least recently used groups (never `current`) while more states than the bound are held. */
  private trim(current: string): void {
    const max = this.d.maxCachedStates ?? DEFAULT_STATE_CACHE
    if (this.cachedStates <= max) return
    // Map iteration is insertion order; statesOf re-inserts a group when it is used, so the first is the least recent.
    for (const [id] of this.groups) {
      if (this.cachedStates <= max) break
      if (id === current) continue
      this.forget(id)
      this.evictedGroups++
    }
  }

  /** Member states held in memory now (for tests and the bench). */
  get cachedStateCount(): number { return this.cachedStates }

  /** Members whose rows changed outside the message path: their state is read from the store when next needed. */
  private touched(groupId: string, memberIds: Iterable<string>, publish = true): void {
    const g = this.groups.get(groupId)
    if (g) for (const id of memberIds) g.states.set(id, null)
    if (publish && this.pubsub) {
      // Best effort: a lost message leaves another replica's copy stale until the group's next local day.
      this.pubsub.publish(STATES_CHANNEL, JSON.stringify({ o: this.origin, g: groupId })).catch((error: unknown) => this.d.log.warn('tagging states not shared with other replicas', { error: String(error) }))
    }
  }

  /** The group's member states for local day `day` (one query per group and day; none when loaded). */
  private async statesOf(groupId: string, day: string): Promise<Map<string, LifecycleState | null>> {
    const known = this.groups.get(groupId)
    if (known && known.day === day) {
      // Most recently used last (two Map operations per message, none when it already is the last).
      if (this.lastUsed !== groupId) {
        this.groups.delete(groupId)
        this.groups.set(groupId, known)
        this.lastUsed = groupId
      }
      return known.states
    }
    let load = this.loading.get(groupId)
    if (!load) {
      const generation = this.generation.get(groupId) ?? 0
      load = (async (): Promise<GroupStates> => {
        await this.ensureGroupLater(groupId)
        const rows: Array<{ member_id: string; state: string }> = await this.d.store.query('SELECT member_id, state FROM qy_tagging_member WHERE group_id = ?', [groupId])
        const states = new Map<string, LifecycleState | null>()
        for (const r of rows) states.set(r.member_id, r.state as LifecycleState)
        // Rows decided here and not written yet.
        for (const row of this.writing) if (row[0] === groupId && !states.has(row[1] as string)) states.set(row[1] as string, row[2] as LifecycleState)
        for (const row of this.pendingMembers.values()) if (row[0] === groupId && !states.has(row[1] as string)) states.set(row[1] as string, row[2] as LifecycleState)
        const loaded = { day, states, counted: states.size }
        if ((this.generation.get(groupId) ?? 0) === generation) this.keep(groupId, loaded)
        return loaded
      })().finally(() => this.loading.delete(groupId))
      this.loading.set(groupId, load)
    }
    return (await load).states
  }

  /** Writes the rows decided on the message path (before anything else reads or writes members). */
  settle(): Promise<void> {
    if (this.pendingMembers.size === 0 && this.pendingHistory.length === 0 && this.pendingGroups.size === 0 && !this.writer.busy) return Promise.resolve()
    return this.writer.run()
  }

  private async writePending(): Promise<void> {
    // Rows of the same group next to each other (recorded order kept within a group): each slice then dirties
    // the index pages of a few groups instead of all of them, so its commit writes far fewer pages (the member
    // table has eight B-trees keyed by group, the timeline five).
    const members = clusterBy([...this.pendingMembers.values()], 0)
    const history = clusterBy(this.pendingHistory, 0)
    const groups = this.pendingGroups
    if (members.length === 0 && history.length === 0 && groups.size === 0) return
    this.pendingMembers = new Map()
    this.pendingHistory = []
    this.pendingGroups = new Map()
    this.writing = members
    // Slices of PENDING_SLICE rows, one transaction each, yielding to the event loop in between (SQLite
    // writes on this thread); what is committed is not written again if a later slice fails.
    let m = 0
    let h = 0
    let scales = [...groups.values()]
    try {
      while (scales.length > 0 || m < members.length || h < history.length) {
        const memberPart = members.slice(m, m + PENDING_SLICE)
        const historyPart = history.slice(h, h + PENDING_SLICE)
        const scalePart = scales
        await this.d.store.write(async (tx) => {
          await tx.insertIgnore('qy_tagging_group', GROUP_COLUMNS, scalePart)
          await tx.insertIgnore('qy_tagging_member', MEMBER_COLUMNS, memberPart)
          await tx.insertIgnore('qy_tagging_history', HISTORY_COLUMNS, historyPart)
        })
        for (const row of scalePart) this.ensured.add(row[0] as string)
        scales = []
        m += memberPart.length
        h += historyPart.length
        if (m < members.length || h < history.length) await new Promise((resolve) => setImmediate(resolve))
      }
    } catch (error) {
      // The rest is kept for the next flush (the inserts are idempotent).
      for (const row of scales) if (!this.pendingGroups.has(row[0] as string)) this.pendingGroups.set(row[0] as string, row)
      for (const row of members.slice(m)) if (!this.pendingMembers.has(memoKey(row[0] as string, row[1] as string))) this.pendingMembers.set(memoKey(row[0] as string, row[1] as string), row)
      this.pendingHistory = [...history.slice(h), ...this.pendingHistory]
      throw error
    } finally {
      this.writing = []
    }
  }

  // ---- score ----

  /**
   * The message path's ensureGroup: a group not known yet gets its scale row (the same values ensureGroup
   * would write now) with the next flush, instead of a read and a commit of its own on the message path.
   */
  private async ensureGroupLater(groupId: string): Promise<void> {
    if (this.ensured.has(groupId) || this.pendingGroups.has(groupId)) return
    const rule = await this.d.rules.forGroup(groupId)
    const now = this.d.clock.now()
    const s = initialScale(now, rule)
    if (!this.ensured.has(groupId) && !this.pendingGroups.has(groupId)) this.pendingGroups.set(groupId, [groupId, null, s.epoch, s.halfLifeDays, 0, now])
  }

  /** Creates the group's scale row on first use. */
  private async ensureGroup(groupId: string): Promise<void> {
    if (this.ensured.has(groupId)) return
    if (!(await this.d.store.repo(TaggingGroupEntity).existsBy({ groupId }))) {
      const rule = await this.d.rules.forGroup(groupId)
      const s = initialScale(this.d.clock.now(), rule)
      await this.d.store.insertIgnore('qy_tagging_group', GROUP_COLUMNS, [[groupId, null, s.epoch, s.halfLifeDays, 0, this.d.clock.now()]])
    }
    this.ensured.add(groupId)
  }

  /**
   * The group's score scale as stored now. Never cached: the daily job of any replica may move it (a
   * half-life change, an epoch move), and amounts sized with an old scale would be wrong.
   */
  async scale(groupId: string): Promise<ScoreScale> {
    await this.ensureGroup(groupId)
    return scaleIn(this.d.store, groupId, false)
  }
  /**
   * Adds engagement points for a member once per `ref` (a redelivered event adds nothing): a history row
   * and the score increment in one transaction. Members without a row get one (first seen now).
   */
  async addPoints(input: { groupId: string; memberId: string; points: number; at: number; kind: string; detail: string | null; ref: string; timezone: string }): Promise<boolean> {
    await this.ensureGroup(input.groupId)
    await this.settle()
    const day = localTime(input.at, input.timezone).day
    return this.d.store.transaction(async (m) => {
      // Read (and on MySQL share-lock) the scale in the transaction that adds with it: a rescale waits for us or we for it.
      const scale = await scaleIn(m, input.groupId, true)
      try {
        await m.repo(TaggingHistoryEntity).insert({ groupId: input.groupId, memberId: input.memberId, kind: input.kind, detail: input.detail, ref: input.ref, at: input.at })
      } catch (error) {
        if (isDuplicate(error)) return false
        throw error
      }
      if (input.points > 0) {
        await upsertMembers(m, [[input.groupId, input.memberId, 'active', input.at, day, null, null, day, null, 0, 0, growth(input.points, input.at, scale)]])
      }
      return true
    }).then((added) => {
      // The upsert may have created the member's row.
      if (added && input.points > 0 && this.groups.get(input.groupId)?.states.get(input.memberId) === undefined) this.touched(input.groupId, [input.memberId], false)
      return added
    })
  }

  /**
   * A timeline entry without points (a strike): written with the flush, once per `ref` (the insert
   * ignores a redelivered event's row).
   */
  async note(input: { groupId: string; memberId: string; at: number; kind: string; detail: string | null; ref: string }): Promise<void> {
    // Like the message path: a group not known yet gets its scale row with the same flush as this row.
    await this.ensureGroupLater(input.groupId)
    this.pendingHistory.push([input.groupId, input.memberId, input.kind, input.detail, input.ref, input.at])
  }

  /** Adds points without a history row (mentions, buffered): a plain increment per member already known. */
  addPointsBulk(groupId: string, items: ReadonlyArray<{ memberId: string; points: number }>, at: number, timezone: string): Promise<void> {
    return this.addPointsBulkMany([{ groupId, items, timezone }], at)
  }

  /**
   * The flush's mention points of every group at once: one read of who has a row and one of the scales
   * (per 500 groups), and one transaction for all increments — instead of a read and a transaction per
   * group (addPointsBulk). Same rows written.
   */
  async addPointsBulkMany(batches: ReadonlyArray<{ groupId: string; items: ReadonlyArray<{ memberId: string; points: number }>; timezone: string }>, at: number): Promise<void> {
    const live = batches.filter((b) => b.items.length > 0)
    if (live.length === 0) return
    for (const b of live) await this.ensureGroup(b.groupId)
    await this.settle()
    const existing = new Set<string>()
    for (let i = 0; i < live.length; i += CHUNK) {
      const part = live.slice(i, i + CHUNK)
      const groupIds = part.map((b) => b.groupId)
      const memberIds = [...new Set(part.flatMap((b) => b.items.map((it) => it.memberId)))]
      for (let j = 0; j < memberIds.length; j += CHUNK) {
        const members = memberIds.slice(j, j + CHUNK)
        // A superset (every pair of these groups and members), filtered by pair below.
        const rows: Array<{ group_id: string; member_id: string }> = await this.d.store.query(
          `SELECT group_id, member_id FROM qy_tagging_member WHERE group_id IN (${groupIds.map(() => '?').join(',')}) AND member_id IN (${members.map(() => '?').join(',')})`, [...groupIds, ...members])
        for (const r of rows) existing.add(memoKey(r.group_id, r.member_id))
      }
    }
    await this.d.store.transaction(async (m) => {
      const rows: Row[] = []
      for (let i = 0; i < live.length; i += CHUNK) {
        const part = live.slice(i, i + CHUNK)
        const scales = await scalesIn(m, part.map((b) => b.groupId), true)
        for (const b of part) {
          const scale = scales.get(b.groupId)
          if (!scale) throw new Error(`tagging: no scale row for group ${b.groupId}`)
          const day = localTime(at, b.timezone).day
          // Only members already known get points this way; being mentioned is not speaking (see addPointsBulk).
          for (const it of b.items) if (existing.has(memoKey(b.groupId, it.memberId))) rows.push([b.groupId, it.memberId, 'active', at, day, null, null, '', null, 0, 0, growth(it.points, at, scale)])
        }
      }
      await upsertMembers(m, rows)
    })
  }

  // ---- lifecycle on the message path and from channel events ----

  /**
   * A member spoke: creates their row the first time, and promotes a dormant or churned member to
   * `returned` at once (a conditional update, so it happens once whatever runs in parallel). Returns the
   * change to emit, or null.
   */
  async spoke(input: { groupId: string; botId: string; memberId: string; joinedAt: number | null; at: number; day: string; ref: string; rule: TaggingRule; timezone: string }): Promise<{ change: Change | null; woke: boolean }> {
    const states = await this.statesOf(input.groupId, input.day)
    const known = states.get(input.memberId)
    // Active members (nearly every message): decided from memory. No row yet: created with the flush.
    if (known === 'new' || known === 'active' || known === 'returned') return { change: null, woke: false }
    const repo = this.d.store.repo(TaggingMemberEntity)
    // A silent member speaking again, or one whose row changed outside the message path: read it.
    const row = known === undefined ? null : await repo.findOne({ select: { state: true, wokenAt: true }, where: { groupId: input.groupId, memberId: input.memberId } })
    if (!row) {
      const joinedDay = input.joinedAt !== null ? localTime(input.joinedAt, input.timezone).day : null
      const state: LifecycleState = joinedDay !== null && daysBetween(joinedDay, input.day) < input.rule.lifecycle.newDays ? 'new' : 'active'
      const key = memoKey(input.groupId, input.memberId)
      if (!this.pendingMembers.has(key)) this.pendingMembers.set(key, [input.groupId, input.memberId, state, input.at, joinedDay ?? input.day, input.joinedAt, null, input.day, null, 0, 0, 0])
      states.set(input.memberId, state)
      const cached = this.groups.get(input.groupId)
      if (cached?.states === states) {
        cached.counted++
        this.cachedStates++
        this.trim(input.groupId)
      }
      const change: Change = { groupId: input.groupId, botId: input.botId, memberId: input.memberId, from: null, to: state, reason: 'spoke', at: input.at, ref: input.ref }
      // The message path emits the event through its context (id derived from the message); the rows follow with the flush.
      this.pendingHistory.push(lifecycleRow(change))
      return { change, woke: false }
    }
    if (row.state !== 'dormant' && row.state !== 'churned') {
      states.set(input.memberId, row.state as LifecycleState)
      return { change: null, woke: false }
    }
    await this.settle()
    const result = await repo.update({ groupId: input.groupId, memberId: input.memberId, state: In(['dormant', 'churned']) }, { state: 'returned', stateAt: input.at, stateDay: input.day, seenDay: input.day })
    if (!result.affected) {
      states.set(input.memberId, null)
      return { change: null, woke: false }
    }
    states.set(input.memberId, 'returned')
    const change: Change = { groupId: input.groupId, botId: input.botId, memberId: input.memberId, from: row.state as LifecycleState, to: 'returned', reason: 'spoke', at: input.at, ref: input.ref }
    const woke = row.wokenAt !== null && input.at - row.wokenAt <= WOKE_WINDOW_MS
    await this.record([change], woke ? [[input.groupId, input.memberId, 'woke', `woken ${new Date(row.wokenAt as number).toISOString()}`, `woke:${row.wokenAt}`, input.at]] : [], false)
    return { change, woke }
  }

  /** Members joined: `new` (or `returned` when they come back after churning), with their inviter. */
  async joined(input: { groupId: string; botId: string; members: ReadonlyArray<{ id: string }>; inviterId: string | null; at: number; eventId: string; timezone: string }): Promise<void> {
    const day = localTime(input.at, input.timezone).day
    const repo = this.d.store.repo(TaggingMemberEntity)
    const ids = input.members.map((m) => m.id)
    if (ids.length === 0) return
    await this.ensureGroup(input.groupId)
    await this.settle()
    this.touched(input.groupId, ids)
    const existing = new Map((await repo.find({ select: { memberId: true, state: true }, where: { groupId: input.groupId, memberId: In(ids) } })).map((r) => [r.memberId, r.state as LifecycleState]))
    const changes: Change[] = []
    const history: Row[] = []
    for (const id of ids) {
      const ref = `join:${input.eventId}`
      history.push([input.groupId, id, 'joined', input.inviterId ? `invited by ${input.inviterId}` : null, ref, input.at])
      const state = existing.get(id)
      if (state === undefined) {
        await this.d.store.insertIgnore('qy_tagging_member', MEMBER_COLUMNS, [[input.groupId, id, 'new', input.at, day, input.at, input.inviterId, day, null, 0, 0, 0]])
        changes.push({ groupId: input.groupId, botId: input.botId, memberId: id, from: null, to: 'new', reason: 'joined', at: input.at, ref: `lc:${ref}` })
      } else {
        await repo.update({ groupId: input.groupId, memberId: id }, { joinedAt: input.at, inviterId: input.inviterId, seenDay: day })
        if (state === 'churned' || state === 'dormant') {
          const moved = await repo.update({ groupId: input.groupId, memberId: id, state }, { state: 'returned', stateAt: input.at, stateDay: day })
          if (moved.affected) changes.push({ groupId: input.groupId, botId: input.botId, memberId: id, from: state, to: 'returned', reason: 'rejoined', at: input.at, ref: `lc:${ref}` })
        }
      }
    }
    await this.record(changes, history)
  }

  /** Members left: `churned`. */
  async left(input: { groupId: string; botId: string; memberIds: readonly string[]; at: number; eventId: string; timezone: string }): Promise<void> {
    const day = localTime(input.at, input.timezone).day
    const repo = this.d.store.repo(TaggingMemberEntity)
    if (input.memberIds.length === 0) return
    await this.ensureGroup(input.groupId)
    await this.settle()
    this.touched(input.groupId, input.memberIds)
    const existing = new Map((await repo.find({ select: { memberId: true, state: true }, where: { groupId: input.groupId, memberId: In([...input.memberIds]) } })).map((r) => [r.memberId, r.state as LifecycleState]))
    const changes: Change[] = []
    const history: Row[] = []
    for (const id of input.memberIds) {
      const ref = `left:${input.eventId}`
      history.push([input.groupId, id, 'left', null, ref, input.at])
      const state = existing.get(id)
      if (state === undefined) {
        await this.d.store.insertIgnore('qy_tagging_member', MEMBER_COLUMNS, [[input.groupId, id, 'churned', input.at, day, null, null, day, null, 0, 0, 0]])
        changes.push({ groupId: input.groupId, botId: input.botId, memberId: id, from: null, to: 'churned', reason: 'left', at: input.at, ref: `lc:${ref}` })
      } else if (state !== 'churned') {
        const moved = await repo.update({ groupId: input.groupId, memberId: id, state }, { state: 'churned', stateAt: input.at, stateDay: day })
        if (moved.affected) changes.push({ groupId: input.groupId, botId: input.botId, memberId: id, from: state, to: 'churned', reason: 'left', at: input.at, ref: `lc:${ref}` })
      }
    }
    await this.record(changes, history)
  }

  /**
   * Records lifecycle changes in the members' timelines and emits them (outside a message; the message
   * path emits through its context). Event ids derive from the member and the cause, so a re-run emits
   * the same ids.
   */
  async record(changes: readonly Change[], extra: Row[] = [], emit = true): Promise<void> {
    const rows: Row[] = [...extra, ...changes.map(lifecycleRow)]
    await this.d.store.insertIgnore('qy_tagging_history', HISTORY_COLUMNS, rows)
    if (!emit) return
    for (const c of changes) {
      this.d.events.emit(MemberLifecycleChanged.of({ id: `tagging:${c.groupId}:${c.memberId}:${c.ref}`, at: c.at, botId: c.botId, groupId: c.groupId, memberId: c.memberId, from: c.from, to: c.to, reason: c.reason }))
    }
  }

  // ---- the daily recompute ----

  /**
   * One group's recompute, once per local day: folds the activity rollups of the days since the last run
   * into counters and scores (never the message log), moves members through the lifecycle by the days
   * they have been silent, sends the welcome-to-active message, and re-evaluates tags of the members whose
   * facts changed (every member after a rules change). Returns null when the group's day was done already.
   */
  async recompute(group: GroupRecord, now: number): Promise<RecomputeResult | null> {
    const rule = await this.d.rules.forGroup(group.id)
    if (!rule.enabled) return null
    await this.settle()
    const today = localTime(now, group.timezone).day
    const yesterday = addDays(today, -1)
    const groups = this.d.store.repo(TaggingGroupEntity)
    let g = await groups.findOneBy({ groupId: group.id })
    const firstRun = !g || g.rolledDay === null
    if (g && g.rolledDay !== null && g.rolledDay >= yesterday) return null
    await this.ensureGroup(group.id)
    g = await groups.findOneByOrFail({ groupId: group.id })
    const result: RecomputeResult = { rolledDays: 0, rolledRows: 0, changes: 0, tagged: 0, untagged: 0 }

    // The score scale: follow a changed half-life, and move the epoch forward before amounts grow large.
    let scale: ScoreScale = { epoch: g.epoch, halfLifeDays: g.halfLife }
    if (scale.halfLifeDays !== rule.score.halfLifeDays || (now - scale.epoch) / (scale.halfLifeDays * DAY_MS) > REBASE_EXPONENT) {
      const next = initialScale(now, rule)
      const factor = rescaleFactor(scale, next, now)
      await this.d.store.transaction(async (m) => {
        // The scale row first: additions read it share-locked before touching members (one lock order).
        await m.query('UPDATE qy_tagging_group SET epoch = ?, half_life = ? WHERE group_id = ?', [next.epoch, next.halfLifeDays, group.id])
        await m.query('UPDATE qy_tagging_member SET score = score * ? WHERE group_id = ?', [factor, group.id])
      })
      scale = next
    }

    const touched = new Set<string>()
    if (firstRun) {
      const seeded = await this.seed(group, rule, today, now)
      for (const id of seeded) touched.add(id)
      if (seeded.length > 0) this.touched(group.id, seeded)
    }

    // Fold the rollups of (watermark, yesterday] — at most BACKFILL_DAYS on the first run.
    const from = g.rolledDay !== null ? addDays(g.rolledDay, 1) : addDays(today, -Math.min(BACKFILL_DAYS, rule.lifecycle.churnedDays))
    if (from <= yesterday) {
      const rows = await this.d.activity.memberDays(group.id, from, yesterday)
      result.rolledDays = daysBetween(from, yesterday) + 1
      result.rolledRows = rows.length
      const fresh = await this.roll(group, rule, scale, rows, now)
      for (const r of rows) touched.add(r.memberId)
      if (fresh.length > 0) this.touched(group.id, fresh.map((c) => c.memberId))
      await this.record(fresh)
      result.changes += fresh.length
    }
    await groups.update({ groupId: group.id }, { rolledDay: yesterday, updatedAt: now })

    const changes = await this.transitions(group, rule, today, now)
    result.changes += changes.length
    for (const c of changes) touched.add(c.memberId)
    const settled = changes.filter((c) => c.to === 'active' && c.from === 'new').map((c) => c.memberId)
    if (rule.actions.welcomeActive.enabled && settled.length > 0) {
      for (let i = 0; i < settled.length; i += 20) {
        this.d.outbound.say({ botId: group.botId, groupId: group.id }, rule.actions.welcomeActive.text, { mentions: settled.slice(i, i + 20), cause: `tagging.welcome-active:${group.id}:${today}:${i}`, note: `welcome to active (${settled.slice(i, i + 20).length})` })
      }
    }

    // Segments change without activity as recency and decay cross the cut points, and rule tags held now
    // may lapse by time (decayed score, an old keyword): add those members.
    for (const id of await this.segmentCrossings(group.id, rule, scale, today, now)) touched.add(id)
    const holders: Array<{ member_id: string }> = await this.d.store.query("SELECT DISTINCT member_id FROM qy_tagging_tag WHERE group_id = ? AND source LIKE 'rule:%'", [group.id])
    for (const h of holders) touched.add(h.member_id)
    const version = await this.d.rules.latest(group.id)
    const full = g.tagVersion !== version
    const tags = await this.evaluateTags(group, rule, scale, today, now, full ? 'all' : [...touched])
    result.tagged = tags.tagged
    result.untagged = tags.untagged
    if (full) await groups.update({ groupId: group.id }, { tagVersion: version })
    return result
  }

  /** First run: every member the directory knows gets a row (`new` within their newcomer days, else `active`). */
  private async seed(group: GroupRecord, rule: TaggingRule, today: string, now: number): Promise<string[]> {
    const members = await this.d.directory.members(group.id)
    const repo = this.d.store.repo(TaggingMemberEntity)
    const out: string[] = []
    for (let i = 0; i < members.length; i += CHUNK) {
      const part = members.slice(i, i + CHUNK).filter((m) => m.role !== 'bot')
      if (part.length === 0) continue
      const known = new Set((await repo.find({ select: { memberId: true }, where: { groupId: group.id, memberId: In(part.map((m) => m.id)) } })).map((r) => r.memberId))
      const rows: Row[] = []
      const changes: Change[] = []
      const windowStart = addDays(today, -Math.min(BACKFILL_DAYS, rule.lifecycle.churnedDays))
      for (const m of part) {
        if (known.has(m.id)) continue
        const joinedDay = m.joinedAt !== null ? localTime(m.joinedAt, group.timezone).day : null
        const state: LifecycleState = joinedDay !== null && daysBetween(joinedDay, today) < rule.lifecycle.newDays ? 'new' : 'active'
        // Their silence is counted from when they joined, at the earliest from the first day we watch.
        const seen = joinedDay !== null && joinedDay > windowStart ? joinedDay : today
        rows.push([group.id, m.id, state, now, joinedDay ?? today, m.joinedAt, m.inviterId, seen, null, 0, 0, 0])
        changes.push({ groupId: group.id, botId: group.botId, memberId: m.id, from: null, to: state, reason: 'seeded', at: now, ref: `lc:seed:${today}` })
        out.push(m.id)
      }
      await this.d.store.insertIgnore('qy_tagging_member', MEMBER_COLUMNS, rows)
      await this.record(changes)
    }
    return out
  }

  /** Adds day rows to counters and scores; members seen for the first time get a row (their changes returned). */
  private async roll(group: GroupRecord, rule: TaggingRule, scale: ScoreScale, rows: readonly MemberDay[], now: number): Promise<Change[]> {
    const w = rule.score.weights
    const byMember = new Map<string, { messages: number; days: number; score: number; last: string; first: string }>()
    for (const r of rows) {
      if (r.messages <= 0) continue
      let acc = byMember.get(r.memberId)
      if (!acc) byMember.set(r.memberId, (acc = { messages: 0, days: 0, score: 0, last: r.day, first: r.day }))
      acc.messages += r.messages
      acc.days += 1
      acc.score += growth(w.message * r.messages + w.activeDay, dayInstant(r.day), scale)
      if (r.day > acc.last) acc.last = r.day
      if (r.day < acc.first) acc.first = r.day
    }
    const ids = [...byMember.keys()]
    const repo = this.d.store.repo(TaggingMemberEntity)
    const changes: Change[] = []
    for (let i = 0; i < ids.length; i += CHUNK) {
      const part = ids.slice(i, i + CHUNK)
      const known = new Set((await repo.find({ select: { memberId: true }, where: { groupId: group.id, memberId: In(part) } })).map((r) => r.memberId))
      const out: Row[] = []
      for (const id of part) {
        const acc = byMember.get(id) as { messages: number; days: number; score: number; last: string; first: string }
        out.push([group.id, id, 'active', now, acc.first, null, null, acc.last, acc.last, acc.messages, acc.days, acc.score])
        if (!known.has(id)) changes.push({ groupId: group.id, botId: group.botId, memberId: id, from: null, to: 'active', reason: 'spoke', at: now, ref: `lc:roll:${acc.first}` })
      }
      await this.d.store.transaction((m) => upsertMembers(m, out))
    }
    return changes
  }

  /** Time-driven lifecycle moves of one group for `today` (conditional updates: each happens once). */
  private async transitions(group: GroupRecord, rule: TaggingRule, today: string, now: number): Promise<Change[]> {
    const L = rule.lifecycle
    const repo = this.d.store.repo(TaggingMemberEntity)
    const pick = (states: LifecycleState[], cut: string) => repo.find({ select: { memberId: true, state: true }, where: { groupId: group.id, state: In(states), seenDay: LessThanOrEqual(cut) } })
    const moves: Array<{ memberId: string; from: LifecycleState; to: LifecycleState; reason: string }> = []
    const churn = await pick(['new', 'active', 'returned', 'dormant'], addDays(today, -L.churnedDays))
    const churned = new Set(churn.map((r) => r.memberId))
    const dormant = (await pick(['new', 'active', 'returned'], addDays(today, -L.dormantDays))).filter((r) => !churned.has(r.memberId))
    // Whoever spoke today already (not yet in the folded rollups) stays where they are.
    const silent = [...churn, ...dormant]
    const spokeToday = silent.length > 0 ? await this.d.activity.lastActive(group.id, silent.map((r) => r.memberId), today) : new Map<string, string>()
    for (const r of churn) if (!spokeToday.has(r.memberId)) moves.push({ memberId: r.memberId, from: r.state as LifecycleState, to: 'churned', reason: 'silent' })
    for (const r of dormant) if (!spokeToday.has(r.memberId)) moves.push({ memberId: r.memberId, from: r.state as LifecycleState, to: 'dormant', reason: 'silent' })
    const settledNew = await repo.createQueryBuilder('m').select('m.memberId', 'memberId')
      .where('m.groupId = :g AND m.state = :s AND m.stateDay <= :cut AND m.activeDays > 0', { g: group.id, s: 'new', cut: addDays(today, -L.newDays) }).getRawMany<{ memberId: string }>()
    const settledReturned = await repo.find({ select: { memberId: true }, where: { groupId: group.id, state: 'returned', stateDay: LessThanOrEqual(addDays(today, -L.returnedDays)) } })
    const moving = new Set(moves.map((m) => m.memberId))
    for (const r of settledNew) if (!moving.has(r.memberId)) moves.push({ memberId: r.memberId, from: 'new', to: 'active', reason: 'settled' })
    for (const r of settledReturned) if (!moving.has(r.memberId)) moves.push({ memberId: r.memberId, from: 'returned', to: 'active', reason: 'settled' })

    const changes: Change[] = []
    const byPair = new Map<string, typeof moves>()
    for (const m of moves) {
      const k = `${m.from}>${m.to}`
      const list = byPair.get(k)
      if (list) list.push(m)
      else byPair.set(k, [m])
    }
    for (const list of byPair.values()) {
      const { from, to } = list[0] as (typeof moves)[number]
      for (let i = 0; i < list.length; i += CHUNK) {
        const part = list.slice(i, i + CHUNK)
        await repo.update({ groupId: group.id, memberId: In(part.map((p) => p.memberId)), state: from }, { state: to, stateAt: now, stateDay: today })
        for (const p of part) changes.push({ groupId: group.id, botId: group.botId, memberId: p.memberId, from, to, reason: p.reason, at: now, ref: `lc:${today}:${to}` })
      }
    }
    await this.record(changes)
    for (const c of changes) this.memo.delete(memoKey(c.groupId, c.memberId))
    if (changes.length > 0) this.touched(group.id, changes.map((c) => c.memberId))
    return changes
  }

  /** Members whose segment may have changed by time alone: recency crossed today, or decay took them below the cut. */
  private async segmentCrossings(groupId: string, rule: TaggingRule, scale: ScoreScale, today: string, now: number): Promise<string[]> {
    const repo = this.d.store.repo(TaggingMemberEntity)
    const crossedRecency = await repo.find({ select: { memberId: true }, where: { groupId, seenDay: addDays(today, -(rule.rfm.recentDays + 1)) } })
    const decayed = await repo.createQueryBuilder('m').select('m.memberId', 'memberId')
      .where('m.groupId = :g AND m.segment IN (:...segs) AND m.score < :cut', { g: groupId, segs: ['high_value', 'needs_wakeup'], cut: storedFor(rule.rfm.engagedScore, now, scale) })
      .getRawMany<{ memberId: string }>()
    return [...crossedRecency.map((r) => r.memberId), ...decayed.map((r) => r.memberId)]
  }

  // ---- tags ----

  /** The facts tag conditions read, for some members of a group. */
  async facts(groupId: string, rule: TaggingRule, scale: ScoreScale, today: string, now: number, rows: readonly TaggingMemberEntity[]): Promise<Map<string, MemberFacts>> {
    const ids = rows.map((r) => r.memberId)
    const keywordRules = rule.tags.some((t) => t.enabled && t.when.keyword)
    const keywordDays = new Map<string, Map<string, string>>()
    if (keywordRules && ids.length > 0) {
      for (const k of await this.d.store.repo(TaggingKeywordEntity).findBy({ groupId, memberId: In(ids) })) {
        let m = keywordDays.get(k.memberId)
        if (!m) keywordDays.set(k.memberId, (m = new Map()))
        m.set(k.ruleId, k.day)
      }
    }
    const streaks = rule.tags.some((t) => t.enabled && t.when.streakMin !== undefined) && ids.length > 0 ? await this.d.checkIns.streaks(groupId, ids, today) : new Map<string, number>()
    const out = new Map<string, MemberFacts>()
    for (const r of rows) {
      const score = current(r.score, now, scale)
      out.set(r.memberId, {
        state: r.state as LifecycleState,
        score,
        segment: segmentOf(daysBetween(r.seenDay, today), score, rule.rfm),
        inviterId: r.inviterId,
        streak: streaks.get(r.memberId) ?? 0,
        keywordDays: keywordDays.get(r.memberId) ?? new Map(),
      })
    }
    return out
  }

  /**
   * Applies and removes rule tags and the RFM segment tag for `members` ('all': the whole group, in
   * pages). Manual tags are never touched. Contact tags are synced through the outbound queue.
   */
  async evaluateTags(group: GroupRecord, rule: TaggingRule, scale: ScoreScale, today: string, now: number, members: readonly string[] | 'all'): Promise<{ tagged: number; untagged: number }> {
    const repo = this.d.store.repo(TaggingMemberEntity)
    const totals = { tagged: 0, untagged: 0 }
    const page = async (rows: TaggingMemberEntity[]): Promise<void> => {
      if (rows.length === 0) return
      const facts = await this.facts(group.id, rule, scale, today, now, rows)
      const ids = rows.map((r) => r.memberId)
      const have = await this.d.store.repo(TaggingTagEntity).findBy({ groupId: group.id, memberId: In(ids) })
      const automatic = new Map<string, Map<string, string>>() // member → tag → source
      const manual = new Map<string, Set<string>>()
      for (const t of have) {
        if (t.source === 'manual') { let s = manual.get(t.memberId); if (!s) manual.set(t.memberId, (s = new Set())); s.add(t.tag); continue }
        let m = automatic.get(t.memberId)
        if (!m) automatic.set(t.memberId, (m = new Map()))
        m.set(t.tag, t.source)
      }
      const add: Row[] = []
      const remove: Array<{ memberId: string; tag: string }> = []
      const history: Row[] = []
      const segmentUpdates = new Map<Segment, string[]>()
      /** Contact tags to take off once the rows are gone: a syncing rule's tag no longer held here. */
      const unsync: Array<{ memberId: string; tag: string; source: string }> = []
      for (const r of rows) {
        const f = facts.get(r.memberId) as MemberFacts
        const want = new Map<string, string>([[rule.rfm.labels[f.segment], 'rfm']])
        for (const t of rule.tags) if (t.enabled && matches(t, f, today) && !want.has(t.tag)) want.set(t.tag, `rule:${t.id}`)
        const had = automatic.get(r.memberId) ?? new Map<string, string>()
        for (const [tag, source] of want) {
          if (had.get(tag) === source || manual.get(r.memberId)?.has(tag)) continue
          const before = had.get(tag)
          if (before !== undefined) remove.push({ memberId: r.memberId, tag })
          add.push([group.id, r.memberId, tag, source, now])
          history.push([group.id, r.memberId, 'tagged', `${tag} (${source})`, `tag:${tag}:${now}`, now])
          if (syncs(rule, source) && !(before !== undefined && syncs(rule, before))) this.d.outbound.tag(group.botId, r.memberId, tag, { groupId: group.id, cause: `tagging:${group.id}:${r.memberId}:${tag}:${now}`, note: `tag (${source})` })
        }
        for (const [tag, source] of had) {
          if (want.has(tag)) continue
          remove.push({ memberId: r.memberId, tag })
          history.push([group.id, r.memberId, 'untagged', `${tag} (${source})`, `untag:${tag}:${now}`, now])
          if (syncs(rule, source)) unsync.push({ memberId: r.memberId, tag, source })
        }
        if (r.segment !== f.segment) {
          const list = segmentUpdates.get(f.segment)
          if (list) list.push(r.memberId)
          else segmentUpdates.set(f.segment, [r.memberId])
        }
      }
      await this.d.store.transaction(async (m) => {
        for (let i = 0; i < remove.length; i += 200) {
          const part = remove.slice(i, i + 200)
          // Every term names the whole key, so both databases look each row up by the primary key.
          await m.query(`DELETE FROM qy_tagging_tag WHERE ${part.map(() => '(group_id = ? AND member_id = ? AND tag = ?)').join(' OR ')}`, part.flatMap((x) => [group.id, x.memberId, x.tag]))
        }
        await m.insertIgnore('qy_tagging_tag', ['group_id', 'member_id', 'tag', 'source', 'at'], add)
        await m.insertIgnore('qy_tagging_history', HISTORY_COLUMNS, history)
        const moved = [...segmentUpdates].flatMap(([segment, list]) => list.map((id) => [id, segment] as const))
        for (let i = 0; i < moved.length; i += 500) {
          const part = moved.slice(i, i + 500)
          await m.query(`UPDATE qy_tagging_member SET segment = CASE member_id ${part.map(() => 'WHEN ? THEN ?').join(' ')} END WHERE group_id = ? AND member_id IN (${part.map(() => '?').join(',')})`,
            [...part.flat(), group.id, ...part.map(([id]) => id)])
        }
      })
      totals.tagged += add.length
      totals.untagged += history.length - add.length
      await this.untagContacts(group, unsync, now)
    }
    if (members === 'all') {
      let after = ''
      for (;;) {
        const rows = await repo.createQueryBuilder('m').where('m.groupId = :g AND m.memberId > :after', { g: group.id, after }).orderBy('m.memberId', 'ASC').limit(TAG_PAGE).getMany()
        await page(rows)
        if (rows.length < TAG_PAGE) break
        after = (rows[rows.length - 1] as TaggingMemberEntity).memberId
      }
    } else {
      for (let i = 0; i < members.length; i += TAG_PAGE) await page(await repo.findBy({ groupId: group.id, memberId: In(members.slice(i, i + TAG_PAGE)) }))
    }
    return totals
  }

  /**
   * Takes contact tags off that a syncing rule of this group set and no longer holds. A contact tag is one
   * per contact, not per group: while the member still carries the same tag in another group (or manually
   * here), it stays.
   */
  private async untagContacts(group: GroupRecord, lapsed: ReadonlyArray<{ memberId: string; tag: string; source: string }>, now: number): Promise<void> {
    if (lapsed.length === 0) return
    const held = new Set<string>()
    for (let i = 0; i < lapsed.length; i += CHUNK) {
      const part = lapsed.slice(i, i + CHUNK)
      const rows = await this.d.store.repo(TaggingTagEntity).find({ select: { memberId: true, tag: true }, where: { memberId: In([...new Set(part.map((x) => x.memberId))]), tag: In([...new Set(part.map((x) => x.tag))]) } })
      for (const r of rows) held.add(memoKey(r.memberId, r.tag))
    }
    for (const x of lapsed) {
      if (held.has(memoKey(x.memberId, x.tag))) continue
      this.d.outbound.untag(group.botId, x.memberId, x.tag, { groupId: group.id, cause: `tagging:${group.id}:${x.memberId}:-${x.tag}:${now}`, note: `untag (${x.source})` })
    }
  }

  /** Lottery wins on the winners' timelines (kind `lottery_won`), once per event and member. */
  async lotteryWon(input: { groupId: string; winnerIds: readonly string[]; lotteryId: number; round: number; at: number; eventId: string }): Promise<void> {
    if (input.winnerIds.length === 0) return
    const detail = `lottery ${input.lotteryId}, round ${input.round}`
    await this.d.store.insertIgnore('qy_tagging_history', HISTORY_COLUMNS, input.winnerIds.map((id): Row => [input.groupId, id, 'lottery_won', detail, `ev:${input.eventId}`, input.at]))
  }

  /** Interest keyword hits from the message path: (group, member, rule, day), the later day kept. */
  async keywordHits(hits: ReadonlyArray<[string, string, string, string]>): Promise<void> {
    if (hits.length === 0) return
    await this.d.store.repo(TaggingKeywordEntity).upsert(hits.map(([groupId, memberId, ruleId, day]) => ({ groupId, memberId, ruleId, day })), ['groupId', 'memberId', 'ruleId'])
  }

  // ---- wake-ups ----

  /**
   * Mentions one batch of dormant members who were not woken in the last `minIntervalDays` (outside quiet
   * hours). Each member is claimed by a conditional update first, so two runs never mention them twice.
   */
  async wakeUp(group: GroupRecord, now: number): Promise<string[]> {
    const rule = await this.d.rules.forGroup(group.id)
    const wake = rule.actions.wakeUp
    if (!rule.enabled || !wake.enabled) return []
    const local = localTime(now, group.timezone)
    if (inQuietHours(local.hour, local.minute, wake.quietStart, wake.quietEnd)) return []
    const cutoff = now - wake.minIntervalDays * DAY_MS
    const repo = this.d.store.repo(TaggingMemberEntity)
    const candidates = await repo.createQueryBuilder('m').select('m.memberId', 'memberId')
      .where('m.groupId = :g AND m.state = :s AND (m.wokenAt IS NULL OR m.wokenAt <= :cutoff)', { g: group.id, s: 'dormant', cutoff })
      .orderBy('m.stateAt', 'ASC').addOrderBy('m.memberId', 'ASC').limit(wake.batchSize).getRawMany<{ memberId: string }>()
    const claimed: string[] = []
    for (const c of candidates) {
      const r = await repo.createQueryBuilder().update(TaggingMemberEntity).set({ wokenAt: now })
        .where('groupId = :g AND memberId = :m AND state = :s AND (wokenAt IS NULL OR wokenAt <= :cutoff)', { g: group.id, m: c.memberId, s: 'dormant', cutoff }).execute()
      if (r.affected) claimed.push(c.memberId)
    }
    if (claimed.length === 0) return []
    const direct = wake.channel === 'direct'
    await this.d.store.insertIgnore('qy_tagging_history', HISTORY_COLUMNS, claimed.map((id): Row => [group.id, id, 'wakeup', direct ? 'direct' : null, `wakeup:${now}`, now]))
    if (direct) {
      // One direct message per member; a platform that refuses it (WeCom: not the bot's contact) fails in
      // the outbound queue, which records it — the claim stands, so the member is not retried before the interval.
      const text = renderTemplate(wake.text, { count: 1 })
      for (const id of claimed) this.d.outbound.direct(group.botId, id, text, { cause: `tagging.wake-up:${group.id}:${id}:${now}`, note: 'wake-up (direct)' })
      return claimed
    }
    this.d.outbound.say({ botId: group.botId, groupId: group.id }, renderTemplate(wake.text, { count: claimed.length }), { mentions: claimed, cause: `tagging.wake-up:${group.id}:${now}`, note: `wake-up (${claimed.length} dormant)` })
    return claimed
  }
}

/** A lifecycle change as a timeline row. */
function lifecycleRow(c: Change): Row {
  return [c.groupId, c.memberId, 'lifecycle', `${c.from ?? '-'}→${c.to} (${c.reason})`, c.ref, c.at]
}

/** A group's stored scale; `lock`: share-locked until the transaction ends (MySQL; SQLite transactions serialize). */
async function scaleIn(db: FeatureTables, groupId: string, lock: boolean): Promise<ScoreScale> {
  const rows: Array<{ epoch: number | string; half_life: number | string }> = await db.query(`SELECT epoch, half_life FROM qy_tagging_group WHERE group_id = ?${lock && db.dialect === 'mysql' ? ' LOCK IN SHARE MODE' : ''}`, [groupId])
  const row = rows[0]
  if (!row) throw new Error(`tagging: no scale row for group ${groupId}`)
  return { epoch: Number(row.epoch), halfLifeDays: Number(row.half_life) }
}

/** The score scales of several groups as stored now (share-locked on MySQL when `lock`). */
async function scalesIn(db: FeatureTables, groupIds: readonly string[], lock: boolean): Promise<Map<string, ScoreScale>> {
  const out = new Map<string, ScoreScale>()
  if (groupIds.length === 0) return out
  const rows: Array<{ group_id: string; epoch: number | string; half_life: number | string }> = await db.query(
    `SELECT group_id, epoch, half_life FROM qy_tagging_group WHERE group_id IN (${groupIds.map(() => '?').join(',')})${lock && db.dialect === 'mysql' ? ' LOCK IN SHARE MODE' : ''}`, [...groupIds])
  for (const r of rows) out.set(r.group_id, { epoch: Number(r.epoch), halfLifeDays: Number(r.half_life) })
  return out
}

/** Whether tags of this source are synced to the contact (a tag rule of the group with syncContactTag). */
function syncs(rule: TaggingRule, source: string): boolean {
  return source.startsWith('rule:') && rule.tags.some((t) => `rule:${t.id}` === source && t.syncContactTag)
}

/**
 * Inserts member rows (full MEMBER_COLUMNS); for members that exist, adds the counters and score and
 * moves seen/last-active days forward — never touching state, so it cannot undo a concurrent promotion.
 */
export async function upsertMembers(db: FeatureTables, rows: Row[]): Promise<void> {
  if (rows.length === 0) return
  const tail = db.dialect === 'mysql'
    ? ' ON DUPLICATE KEY UPDATE messages = messages + VALUES(messages), active_days = active_days + VALUES(active_days), score = score + VALUES(score), seen_day = GREATEST(seen_day, VALUES(seen_day)), last_active_day = NULLIF(GREATEST(COALESCE(last_active_day, \'\'), COALESCE(VALUES(last_active_day), \'\')), \'\')'
    : ' ON CONFLICT(group_id, member_id) DO UPDATE SET messages = messages + excluded.messages, active_days = active_days + excluded.active_days, score = score + excluded.score, seen_day = MAX(seen_day, excluded.seen_day), last_active_day = NULLIF(MAX(COALESCE(last_active_day, \'\'), COALESCE(excluded.last_active_day, \'\')), \'\')'
  await db.upsertRows('qy_tagging_member', MEMBER_COLUMNS, tail, rows)
}
