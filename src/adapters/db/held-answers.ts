import { randomUUID } from 'node:crypto'
import { Between, Column, In, IsNull, PrimaryGeneratedColumn } from 'typeorm'
import { errorText, type Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import type { Clock } from '../../ports/clock'
import { msColumn } from './columns'
import type { FeatureStore } from './feature-store'

/**
 * The columns of a feature's table of answers held in a batch window (lottery confirmations, welcomes,
 * check-in answers):
 * each answer is stored before its message is acknowledged, grouped under a batch key before it is sent,
 * and marked answered once its message is stored in the outbound queue.
 */
export abstract class HeldAnswerColumns {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  /** The window it waits in (group + kind of answer, e.g. `g1@chatroom:entered:7`). */
  @Column({ name: 'window_key', type: 'varchar', length: 191 }) windowKey!: string
  @Column({ name: 'bot_id', type: 'varchar', length: 64 }) botId!: string
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ name: 'message_id', type: 'varchar', length: 191, nullable: true }) messageId!: string | null
  /** The answer when sent alone ('' when the feature renders at send time). */
  @Column({ name: 'single_text', type: 'text' }) single!: string
  /** Its line in a batched answer (a welcome: the member's name). */
  @Column({ name: 'line_text', type: 'text' }) line!: string
  /** The batch's header (the same for every answer of a window). */
  @Column({ name: 'header_text', type: 'text' }) header!: string
  /** The bot-action log note (never message text). */
  @Column({ type: 'varchar', length: 200 }) note!: string
  @Column(msColumn('at')) at!: number
  /** The batch it goes out in: the outbound actions' keys are `<batch key>:<part>`, so a re-send is stored once. */
  @Column({ name: 'batch_key', type: 'varchar', length: 100, nullable: true }) batchKey!: string | null
  @Column(msColumn('answered_at', true)) answeredAt!: number | null
}

/** One held answer as the feature gives it. */
export interface HeldAnswerInput {
  windowKey: string
  botId: string
  groupId: string
  memberId: string
  messageId?: string
  single: string
  line: string
  header: string
  note: string
}

/** How an answer is held (see `HeldAnswers.add`). */
export interface HoldOptions { windowMs: number; firstAtOnce: boolean }

/** A held answer's row before its insert gave it an id. */
export type HeldAnswerRow = Omit<HeldAnswerColumns, 'id'>

/** One message of a batch. */
export interface ComposedAnswer { text: string; mentions: string[]; note: string; cause?: string }

interface Window { groupId: string; ids: number[]; windowMs: number; keepOpen: boolean; generation: number }

/** A row older than this that is still unanswered (and not held in a window here) is the sweep's. */
export const HELD_SWEEP_AFTER_MS = 60_000
const HELD_LOOKBACK_MS = 86_400_000

/**
 * Answers held in batch windows, durable: `add` stores the answer (awaited, so before the message or event
 * that caused it is acknowledged); a window closing groups its rows under a new batch key (a conditional
 * update: rows another replica's sweep took are not sent again here), sends them with keyed outbound
 * actions and marks them answered once stored. After a crash the sweep (`sweep`, on a job and at a bot's
 * login) sends what was left unanswered — a batch already keyed under its key, so it is stored once.
 */
export class HeldAnswers {
  private readonly windows = new Map<string, Window>()
  private readonly marking = new Set<Promise<void>>()
  private generation = 0

  constructor(private readonly deps: {
    db: FeatureStore
    entity: new () => HeldAnswerColumns
    /** Prefix of the batch keys (`lottery.answer`, `welcome`, `check-in.answer`). */
    prefix: string
    /** How far back the sweep looks for unanswered rows (default a day: an older answer would only confuse). */
    lookbackMs?: number
    clock: Clock
    outbound: Outbound
    log: Logger
    /** The messages a batch (one window's answers, oldest first) goes out as. */
    compose(rows: readonly HeldAnswerColumns[]): Promise<ComposedAnswer[]>
    /** Asks for `close(windowKey)` to run in the processor's order (the feature emits its event). */
    closeDue(windowKey: string, groupId: string): void
  }) {}

  private get repo() { return this.deps.db.repo(this.deps.entity) }

  /**
   * Holds an answer. `firstAtOnce`: the first answer of a quiet moment goes out at once and opens a window
   * that stays open while answers keep coming (lottery confirmations, check-in answers); otherwise the first
   * one opens a window and everything goes out together when it closes (welcomes).
   */
  async add(input: HeldAnswerInput, opts: HoldOptions): Promise<void> {
    const row = this.row(input, opts)
    const inserted = await this.repo.insert(row)
    await this.hold({ ...row, id: Number(inserted.identifiers[0]?.id) }, opts)
  }

  /**
   * The row `add` stores, for a feature that inserts it itself within its own transaction (a check-in's
   * answer, with the check-in) and then `hold`s it: the first answer of a quiet moment (`firstAtOnce`, no
   * window open here) gets its batch key already, the others none (their window's close gives them one).
   */
  row(input: HeldAnswerInput, opts: HoldOptions): HeldAnswerRow {
    const batchKey = opts.firstAtOnce && !this.windows.has(input.windowKey) ? this.newKey() : null
    return { ...input, messageId: input.messageId ?? null, at: this.deps.clock.now(), batchKey, answeredAt: null }
  }

  /** Holds an answer stored (from `row`, its `id` the one the insert gave): sends it now, or keeps it in its window. */
  async hold(row: HeldAnswerColumns, opts: HoldOptions): Promise<void> {
    // add and close of one group run in the processor's per-group order, never interleaved.
    const open = this.windows.get(row.windowKey)
    if (row.batchKey) {
      await this.sendBatch(row.batchKey, [row])
      if (opts.windowMs > 0 && !open) this.openWindow(row.windowKey, row.groupId, [], opts.windowMs, true)
      return
    }
    if (open) open.ids.push(row.id)
    else this.openWindow(row.windowKey, row.groupId, [row.id], opts.windowMs, opts.firstAtOnce)
  }

  /** Answers waiting in windows here. */
  get pending(): number {
    let n = 0
    for (const w of this.windows.values()) n += w.ids.length
    return n
  }

  /** Closes a window whose time came: sends what it holds (one batch), keeps it open while answers came. */
  async close(windowKey: string, final = false): Promise<void> {
    const w = this.windows.get(windowKey)
    if (!w) return
    const ids = w.ids.splice(0)
    if (ids.length === 0 || final || !w.keepOpen) this.windows.delete(windowKey)
    else this.schedule(windowKey, w)
    if (ids.length === 0) return
    const batchKey = this.newKey()
    // Only rows still unbatched: a sweep elsewhere may have taken some already.
    await this.repo.update({ id: In(ids), batchKey: IsNull(), answeredAt: IsNull() }, { batchKey })
    const rows = await this.repo.find({ where: { batchKey }, order: { id: 'ASC' } })
    await this.sendBatch(batchKey, rows)
  }

  /** Sends everything held here now (shutdown). */
  async flushAll(): Promise<void> {
    for (const key of [...this.windows.keys()]) await this.close(key, true)
    await this.settled()
  }

  /** Resolves once every batch sent so far is marked answered (or given up on: the sweep has it). */
  async settled(): Promise<void> {
    while (this.marking.size > 0) await Promise.allSettled([...this.marking])
  }

  /**
   * Sends answers left unanswered by a process that died (or whose marking failed): rows older than
   * HELD_SWEEP_AFTER_MS not held in a window here. A row already batched goes out under its batch key
   * (stored once, even if its batch reached the outbound store before the crash); unbatched rows of a
   * window are batched first. With `botId`: only that bot's (it just logged in here). Returns rows sent.
   */
  async sweep(opts: { botId?: string } = {}): Promise<number> {
    const now = this.deps.clock.now()
    const held = new Set<number>()
    for (const w of this.windows.values()) for (const id of w.ids) held.add(id)
    const rows = (await this.repo.find({
      where: { answeredAt: IsNull(), at: Between(now - (this.deps.lookbackMs ?? HELD_LOOKBACK_MS), now - HELD_SWEEP_AFTER_MS), ...(opts.botId ? { botId: opts.botId } : {}) },
      order: { id: 'ASC' }, take: 1000,
    })).filter((r) => !held.has(r.id))
    if (rows.length === 0) return 0
    const sent = await this.sendLeft(rows)
    await this.settled()
    if (sent > 0) this.deps.log.info('held answers sent after a restart or takeover', { prefix: this.deps.prefix, count: sent, bot: opts.botId })
    return sent
  }

  /**
   * Makes sure the stored answer to a member's message goes out (a redelivered copy of the message, reaching
   * this process after the one holding it died): nothing to do if a window here holds it or it is answered;
   * otherwise sent now as the sweep would — under its batch key if it has one (stored once), else under a
   * new one taken with a conditional update. Returns false when there is no such row.
   */
  async resume(groupId: string, memberId: string, messageId: string): Promise<boolean> {
    // Only a redelivered copy asks (rare); the group and member narrow the read.
    const row = await this.repo.findOneBy({ groupId, memberId, messageId })
    if (!row) return false
    for (const w of this.windows.values()) if (w.ids.includes(row.id)) return true
    if (row.answeredAt === null) await this.sendLeft([row])
    return true
  }

  /** Sends unanswered rows no window here holds: batched ones under their key, loose ones batched per window first. */
  private async sendLeft(rows: readonly HeldAnswerColumns[]): Promise<number> {
    const batches = new Set<string>()
    const loose = new Map<string, number[]>()
    for (const r of rows) {
      if (r.batchKey) batches.add(r.batchKey)
      else loose.set(r.windowKey, [...(loose.get(r.windowKey) ?? []), r.id])
    }
    for (const ids of loose.values()) {
      const batchKey = this.newKey()
      // Only rows still unbatched: a window or a sweep elsewhere may have taken them.
      const taken = await this.repo.update({ id: In(ids), batchKey: IsNull(), answeredAt: IsNull() }, { batchKey })
      if (taken.affected) batches.add(batchKey)
    }
    let sent = 0
    for (const batchKey of batches) {
      const batch = await this.repo.find({ where: { batchKey, answeredAt: IsNull() }, order: { id: 'ASC' } })
      if (batch.length === 0) continue
      await this.sendBatch(batchKey, batch)
      sent += batch.length
    }
    return sent
  }

  private newKey(): string { return `${this.deps.prefix}:${randomUUID()}` }

  private openWindow(windowKey: string, groupId: string, ids: number[], windowMs: number, keepOpen: boolean): Window {
    const w: Window = { groupId, ids, windowMs, keepOpen, generation: 0 }
    this.windows.set(windowKey, w)
    this.schedule(windowKey, w)
    return w
  }

  private schedule(windowKey: string, w: Window): void {
    const generation = (w.generation = ++this.generation)
    void this.deps.clock.sleep(w.windowMs).then(() => {
      // A window closed early (shutdown) and opened again since: its old timer must not close the new one.
      if (this.windows.get(windowKey) === w && w.generation === generation) this.deps.closeDue(windowKey, w.groupId)
    })
  }

  private async sendBatch(batchKey: string, rows: readonly HeldAnswerColumns[]): Promise<void> {
    const first = rows[0]
    if (!first) return
    const parts = await this.deps.compose(rows)
    for (const [i, p] of parts.entries()) {
      this.deps.outbound.say({ botId: first.botId, groupId: first.groupId }, p.text, { mentions: p.mentions, cause: p.cause, note: p.note, key: `${batchKey}:${i}` })
    }
    // Answered once the messages are stored: a crash before leaves the rows to the sweep (which re-sends
    // under the same keys, so what was stored already is not stored again).
    const marking = this.deps.outbound.stored()
      .then(() => this.repo.update({ batchKey, answeredAt: IsNull() }, { answeredAt: this.deps.clock.now() }))
      .then(() => undefined, (error: unknown) => this.deps.log.warn('held answers not marked answered (the sweep sends them under the same key)', { prefix: this.deps.prefix, error: errorText(error) }))
    this.marking.add(marking)
    void marking.finally(() => this.marking.delete(marking))
  }
}
