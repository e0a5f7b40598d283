import { IsNull, MoreThanOrEqual, Not } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import type { Disposer, PubSub } from '../../ports/ports'
import { SerialRunner } from '../../kernel/serial'
import type { MemberInfo, GroupInfo } from '../../kernel/context'
import type { Violation } from './moderation.detect'
import { ModerationEventEntity, StrikeResetEntity } from './moderation.entity'
import type { ModerationRule } from './moderation.rules'

const DAY = 86_400_000
/** The longest decay a rule may set (ModerationRuleSchema.decayDays): strikes older than this never count. */
const MAX_DECAY_MS = 365 * DAY
/** Pub/sub channel on which replicas share counted strikes and resets. */
const STRIKES_CHANNEL = 'moderation.strikes'

/**
 * How long a removal counts as pending when no outcome arrived (a lost outcome must not make a member
 * unremovable): past it, a new violation queues a removal again (performed as already done if they left).
 */
const REMOVAL_PENDING_MS = DAY

/**
 * A strike counted, a reset made, a removal queued or finished by one replica (`o`: its origin, so it skips
 * its own).
 */
/** A removal queued and not finished: when, and by which message. */
interface PendingRemoval { at: number; messageId: string | null }

interface SharedStrike { o: string; k: 'strike' | 'reset' | 'removing' | 'removed'; g: string; m: string; at: number; /** 'removing': the message that queued it. */ id?: string | null }
/** Columns of an event row as the batch writer inserts them. */
const EVENT_COLUMNS = ['group_id', 'member_id', 'message_id', 'hit', 'detector', 'matched', 'list_id', 'action', 'strike', 'result', 'reason', 'shadow', 'at']

/** What follows a message's violations. */
export interface Decision {
  /** 'none': nothing live (shadow only, or exempt); 'record': logged, no strike. */
  step: 'warn' | 'final_warning' | 'remove' | 'record' | 'none'
  strike: number | null
  primary: Violation | null
  /** Why nothing happens, when nothing does. */
  exempt?: 'owner' | 'admin' | 'staff' | 'allowlist'
}

const SEVERITY: Record<Violation['action'], number> = { remove: 3, ladder: 2, warn: 1, record: 0 }

/** Why a member is never punished, if they are not. */
export function exemption(member: Pick<MemberInfo, 'id' | 'role'>, group: Pick<GroupInfo, 'ownerId'>, rule: ModerationRule): Decision['exempt'] | undefined {
  if (member.role === 'owner' || member.id === group.ownerId) return 'owner'
  if (member.role === 'admin') return 'admin'
  if (rule.staff.includes(member.id)) return 'staff'
  if (rule.allowlist.includes(member.id)) return 'allowlist'
  return undefined
}

/** Decides the consequence: the most severe live violation; `ladder` climbs the group's strike ladder. */
export function decide(violations: readonly Violation[], strikes: number, rule: ModerationRule): Decision {
  const live = violations.filter((v) => !v.shadow)
  if (live.length === 0) return { step: 'none', strike: null, primary: violations[0] ?? null }
  const primary = [...live].sort((a, b) => SEVERITY[b.action] - SEVERITY[a.action])[0] as Violation
  if (primary.action === 'record') return { step: 'record', strike: null, primary }
  const strike = strikes + 1
  if (primary.action === 'remove') return { step: 'remove', strike, primary }
  if (primary.action === 'warn') return { step: 'warn', strike, primary }
  return { step: rule.ladder[Math.min(strike, rule.ladder.length) - 1] ?? 'remove', strike, primary }
}

/** Counted strikes of one member in one group, as the book keeps them in memory. */
interface MemberStrikes {
  /** Last reset (0 = never): strikes at or before it do not count. */
  resetAt: number
  /** Times of counted strikes after the reset, ascending; older than the longest decay are pruned. */
  at: number[]
}

/** An event row waiting to be written. */
type PendingEvent = Pick<ModerationEventEntity, 'groupId' | 'memberId' | 'messageId' | 'hit' | 'detector' | 'matched' | 'listId' | 'action' | 'strike' | 'result' | 'reason' | 'shadow' | 'at'>

/**
 * Strikes and history of members; events are the record of every violation. The live strike counts are
 * served from memory (loaded once at start: the counted strikes of the longest decay period and the
 * resets), and events are written behind, in batches on the flush interval like activity — so a violation
 * costs no query on the message path. Readers of the event table flush first (see the routes).
 * One process serves a group's messages (per-group order), so its memory is the authority for that group.
 */
export class StrikeBook {
  private readonly members = new Map<string, Map<string, MemberStrikes>>()
  /** Removals queued and not finished yet, by group then member: when, and by which message. */
  private readonly removing = new Map<string, Map<string, PendingRemoval>>()
  private pending: PendingEvent[] = []
  private retry: PendingEvent[] = []
  private readonly writer = new SerialRunner(() => this.write())

  private readonly origin = `${process.pid}-${Math.random().toString(36).slice(2)}`
  private pubsub?: PubSub
  private onShareError?: (error: unknown) => void

  constructor(private readonly db: FeatureTables & { transaction<T>(work: (tx: FeatureTables) => Promise<T>): Promise<T> }) {}

  /**
   * Shares counted strikes and resets with the other replicas over pub/sub, so every process's memory
   * agrees: the replica that takes a bot over counts the strikes its previous holder gave, and a reset made
   * through any replica's admin API holds where the bot runs. Call before load(), so nothing recorded
   * between the load and the subscription is missed. Returns the unsubscriber.
   */
  async share(pubsub: PubSub, onError: (error: unknown) => void): Promise<Disposer> {
    this.pubsub = pubsub
    this.onShareError = onError
    return pubsub.subscribe(STRIKES_CHANNEL, (message) => {
      let m: SharedStrike
      try { m = JSON.parse(message) as SharedStrike } catch { return }
      if (m.o === this.origin || typeof m.g !== 'string' || typeof m.m !== 'string' || typeof m.at !== 'number') return
      if (m.k === 'strike') this.count(m.g, m.m, m.at)
      else if (m.k === 'reset') this.forget(m.g, m.m, m.at)
      else if (m.k === 'removing') this.markRemoving(m.g, m.m, m.at, m.id ?? null)
      else if (m.k === 'removed') this.removing.get(m.g)?.delete(m.m)
    })
  }

  /** Loads the strikes that may still count, the resets and the removals still pending (three queries, at start). */
  async load(now: number): Promise<number> {
    const pendingRemovals = await this.db.repo(ModerationEventEntity).find({
      select: { groupId: true, memberId: true, at: true, messageId: true },
      where: { action: 'remove', result: 'pending', shadow: false, at: MoreThanOrEqual(now - REMOVAL_PENDING_MS) },
    })
    for (const r of pendingRemovals) this.markRemoving(r.groupId, r.memberId, r.at, r.messageId)
    const since = now - MAX_DECAY_MS
    const resets = await this.db.repo(StrikeResetEntity).find()
    for (const r of resets) this.entry(r.groupId, r.memberId).resetAt = r.at
    const rows = await this.db.repo(ModerationEventEntity).find({
      select: { groupId: true, memberId: true, at: true },
      where: { shadow: false, strike: Not(IsNull()), at: MoreThanOrEqual(since) },
      order: { at: 'ASC' },
    })
    let loaded = 0
    for (const r of rows) {
      const e = this.entry(r.groupId, r.memberId)
      if (r.at > e.resetAt) { e.at.push(r.at); loaded++ }
    }
    return loaded
  }

  /** Live strikes: counted violations within the decay period, after the last reset. From memory. */
  strikes(groupId: string, memberId: string, decayDays: number, now: number): number {
    const e = this.members.get(groupId)?.get(memberId)
    if (!e) return 0
    const since = Math.max(now - decayDays * DAY, e.resetAt + 1)
    let n = 0
    for (let i = e.at.length - 1; i >= 0 && (e.at[i] as number) >= since; i--) n++
    return n
  }

  /**
   * Whether a removal of the member from the group, queued by another message than `messageId`, is not
   * finished (a second one must not be queued, nor a second notice). Forgotten when its outcome arrives — so a member who left, rejoined and
   * violates again is removed again — or REMOVAL_PENDING_MS after it was queued.
   */
  removalPending(groupId: string, memberId: string, now: number, messageId: string | null = null): boolean {
    const pending = this.removing.get(groupId)?.get(memberId)
    // A removal queued by this very message: a copy processed again (its dedupe mark lost in a crash, the
    // platform redelivering to another replica) queues its actions again under the same keys — what was
    // stored is dropped, what died with a crashed process (the notice) goes out.
    if (!pending || (messageId !== null && pending.messageId === messageId)) return false
    return now - pending.at < REMOVAL_PENDING_MS
  }

  /**
   * Records the violations of one message (buffered); the primary carries the action and strike. A removal
   * counts as pending from now; with `joinsRemoval` the message's removal is the one already pending (its
   * row stays `pending` and takes that removal's outcome).
   */
  record(input: { groupId: string; memberId: string; messageId: string | null; violations: readonly Violation[]; decision: Decision; at: number; exempt?: string; joinsRemoval?: boolean }): void {
    for (const [hit, v] of input.violations.entries()) {
      const isPrimary = v === input.decision.primary
      const counted = isPrimary && !input.exempt && !v.shadow
      const result = input.exempt ? 'exempt' : v.shadow ? 'shadow' : isPrimary ? (input.decision.step === 'remove' ? 'pending' : input.decision.step === 'record' ? 'recorded' : 'done') : 'also'
      const strike = counted ? input.decision.strike : null
      const reason = input.exempt ? `exempt: ${input.exempt}` : counted && input.decision.step === 'remove' && input.joinsRemoval ? 'removal already queued' : null
      this.pending.push({
        groupId: input.groupId, memberId: input.memberId, messageId: input.messageId, hit, detector: v.detector, matched: v.matched.slice(0, 200), listId: v.listId ?? null,
        action: counted ? input.decision.step : 'none', strike, result, reason, shadow: v.shadow, at: input.at,
      })
      if (strike !== null) {
        this.count(input.groupId, input.memberId, input.at)
        this.publish({ o: this.origin, k: 'strike', g: input.groupId, m: input.memberId, at: input.at })
      }
      if (counted && input.decision.step === 'remove' && !this.removalPending(input.groupId, input.memberId, input.at, input.messageId)) {
        this.markRemoving(input.groupId, input.memberId, input.at, input.messageId)
        this.publish({ o: this.origin, k: 'removing', g: input.groupId, m: input.memberId, at: input.at, id: input.messageId })
      }
    }
  }

  /** Events recorded and not written yet. */
  get unwritten(): number { return this.pending.length + this.retry.length }

  /** Writes the buffered events (one write at a time; a call during a write queues one more). */
  flush(): Promise<void> { return this.writer.run() }

  /**
   * Marks the removal caused by a message as done or failed (its event is written first), with the events
   * of later messages that joined it (still pending); the member is no longer being removed. `reason`: why
   * it failed, or how it was done (`already_gone`).
   */
  async removalOutcome(groupId: string, memberId: string, messageId: string, ok: boolean, at: number, reason?: string): Promise<void> {
    if (this.removing.get(groupId)?.delete(memberId)) this.publish({ o: this.origin, k: 'removed', g: groupId, m: memberId, at })
    await this.flush()
    const result = ok ? 'done' : 'failed'
    const repo = this.db.repo(ModerationEventEntity)
    await repo.update({ groupId, messageId, action: 'remove' }, { result, reason: reason?.slice(0, 300) ?? null })
    await repo.update({ groupId, memberId, action: 'remove', result: 'pending' }, ok ? { result } : { result, reason: reason?.slice(0, 300) ?? null })
  }

  /**
   * Marks event `eventId` of `groupId` a false positive, with every other row of the same message and
   * detector (a message matching several lists of one detector is one hit of that rule). Once: a second
   * mark changes nothing. Returns the event row, or null when the group has no such event. The only
   * writer of `false_positive_at`.
   */
  async markFalsePositive(groupId: string, eventId: number, at: number): Promise<{ row: ModerationEventEntity; first: boolean } | null> {
    await this.flush()
    const repo = this.db.repo(ModerationEventEntity)
    const row = await repo.findOne({ where: { id: eventId, groupId } })
    if (!row) return null
    if (row.falsePositiveAt !== null) return { row, first: false }
    if (row.messageId === null) await this.db.query('UPDATE qy_moderation_event SET false_positive_at = ? WHERE id = ? AND false_positive_at IS NULL', [at, eventId])
    else await this.db.query('UPDATE qy_moderation_event SET false_positive_at = ? WHERE group_id = ? AND message_id = ? AND detector = ? AND false_positive_at IS NULL', [at, groupId, row.messageId, row.detector])
    return { row: { ...row, falsePositiveAt: at }, first: true }
  }

  /** Forgets a member's strikes (history stays). */
  async reset(groupId: string, memberId: string, at: number): Promise<void> {
    await this.db.repo(StrikeResetEntity).upsert({ groupId, memberId, at }, ['groupId', 'memberId'])
    this.forget(groupId, memberId, at)
    this.publish({ o: this.origin, k: 'reset', g: groupId, m: memberId, at })
  }

  /**
   * Erasure: drops a member's strikes from memory and their events not written yet (in `groupIds` only,
   * when given); their rows are erased by the kernel. Returns how many groups held them.
   */
  eraseMember(memberId: string, groupIds: readonly string[] | undefined, dryRun: boolean): number {
    const inScope = (groupId: string): boolean => groupIds === undefined || groupIds.includes(groupId)
    let n = 0
    for (const [groupId, inGroup] of this.members) {
      if (!inScope(groupId) || !inGroup.has(memberId)) continue
      n++
      if (!dryRun) inGroup.delete(memberId)
    }
    if (!dryRun) for (const [groupId, inGroup] of this.removing) if (inScope(groupId)) inGroup.delete(memberId)
    if (!dryRun) {
      const keep = (e: PendingEvent): boolean => e.memberId !== memberId || !inScope(e.groupId)
      this.pending = this.pending.filter(keep)
      this.retry = this.retry.filter(keep)
    }
    return n
  }

  private forget(groupId: string, memberId: string, at: number): void {
    const e = this.entry(groupId, memberId)
    if (at <= e.resetAt) return
    e.resetAt = at
    e.at = e.at.filter((t) => t > at)
  }

  private markRemoving(groupId: string, memberId: string, at: number, messageId: string | null): void {
    let inGroup = this.removing.get(groupId)
    if (!inGroup) this.removing.set(groupId, (inGroup = new Map()))
    inGroup.set(memberId, { at, messageId })
  }

  private publish(message: SharedStrike): void {
    if (!this.pubsub) return
    // Best effort: a lost message leaves another replica's count behind until its restart (documented).
    this.pubsub.publish(STRIKES_CHANNEL, JSON.stringify(message)).catch((error: unknown) => this.onShareError?.(error))
  }

  private entry(groupId: string, memberId: string): MemberStrikes {
    let inGroup = this.members.get(groupId)
    if (!inGroup) this.members.set(groupId, (inGroup = new Map()))
    let e = inGroup.get(memberId)
    if (!e) inGroup.set(memberId, (e = { resetAt: 0, at: [] }))
    return e
  }

  private count(groupId: string, memberId: string, at: number): void {
    const e = this.entry(groupId, memberId)
    // Messages of a group arrive in order; keep the list sorted anyway (a late redelivery, a changed clock).
    let i = e.at.length
    while (i > 0 && (e.at[i - 1] as number) > at) i--
    e.at.splice(i, 0, at)
    // Strikes older than the longest decay never count again: memory stays bounded by recent offenders.
    const horizon = at - MAX_DECAY_MS
    let old = 0
    while (old < e.at.length && (e.at[old] as number) < horizon) old++
    if (old > 0) e.at.splice(0, old)
  }

  private async write(): Promise<void> {
    const batch = this.retry.concat(this.pending)
    this.retry = []
    this.pending = []
    if (batch.length === 0) return
    try {
      // Insert-ignore on the (group, message, hit) key: rows of a message already written (by this process
      // before a commit whose outcome was lost, or by the replica that processed the message first) stay
      // as they are, so each violating message has its rows once. Rows without a message always insert.
      await this.db.transaction((tx) => tx.insertIgnore('qy_moderation_event', EVENT_COLUMNS, batch.map((e) => [
        e.groupId, e.memberId, e.messageId, e.hit, e.detector, e.matched, e.listId, e.action, e.strike, e.result, e.reason, e.shadow ? 1 : 0, e.at,
      ])))
    } catch (error) {
      // One transaction: nothing of the batch was written (or, after a lost outcome, all of it: the retry adds nothing).
      this.retry = batch
      throw error
    }
  }
}
