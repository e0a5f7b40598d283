import { randomBytes } from 'node:crypto'
import { In, IsNull, MoreThanOrEqual } from 'typeorm'
import type { FeatureStore, FeatureTables } from '../../adapters/db/feature-store'
import { isDuplicate } from '../../adapters/db/errors'
import type { ActivityFacts } from '../../contracts/activity'
import type { CheckInFacts, PointsService } from '../../contracts/check-in'
import { LotteryDrawn } from '../../contracts/lottery'
import type { GroupInfo, GroupRecord, MemberInfo } from '../../kernel/context'
import type { GroupDirectory } from '../../kernel/directory'
import type { EventEmitter, FeatureRules } from '../../kernel/feature'
import { errorText, type Logger } from '../../kernel/logger'
import type { Outbound } from '../../kernel/outbound-service'
import { HttpError } from '../../kernel/routes'
import { renderTemplate } from '../../kernel/template'
import { addDays, localTime } from '../../kernel/time'
import { publishedAt, roundAfter, roundUrl, type Beacon } from '../../ports/beacon'
import type { Clock } from '../../ports/clock'
import type { Random } from '../../ports/random'
import { canonicalOrder, commitmentOf, draw, DRAW_ALGORITHM, DRAW_ALGORITHM_BEACON, listHash, type BeaconProof, type Exclusion, type LotteryProof, type ProofRound } from './lottery.draw'
import { activeSince, ineligibility, type Eligibility, type MemberFacts } from './lottery.eligibility'
import { LotteryDrawEntity, LotteryEntity, LotteryEntryEntity, LotteryWinnerEntity } from './lottery.entity'
import type { LotteryRule } from './lottery.rules'
import { LotterySchema, type LotteryConfig, type LotteryStatus } from './lottery.schema'

/** The ledger source of entry fees (check-in's points ledger). */
export const POINTS_SOURCE = 'lottery'
/** The ledger reference of a member's entry fee for a lottery (one per member and lottery). */
export const pointsRef = (lotteryId: number): string => `entry:${lotteryId}`

/** A lottery with its validated definition. */
export interface Lottery { row: LotteryEntity; config: LotteryConfig }

/** Outcome of an entry attempt. */
export type EntryResult =
  | { status: 'entered'; count: number; points: number; method: 'keyword' | 'points' }
  /**
   * Entered before; `messageId` is the message that made the entry (a redelivered copy of it carries the same
   * id); `count` the entrant count, read only for such a copy (0 otherwise).
   */
  | { status: 'already'; messageId: string | null; count: number }
  | { status: 'ineligible'; reason: string }
  | { status: 'poor'; balance: number; cost: number }
  | { status: 'late' }

/** Outcome of a draw attempt. */
export type DrawResult = 'drawn' | 'already' | 'not-closed' | 'waiting-for-beacon'

/** Timezone of a group the directory does not know yet. */
const DEFAULT_TIMEZONE = 'Asia/Shanghai'

/** Claim-code alphabet (no 0/O, 1/I). */
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

/** Thrown inside an entry transaction when the lottery closed meanwhile (rolls the entry back). */
class Closed extends Error {}

export interface LotteryServiceDeps {
  store: FeatureStore
  clock: Clock
  random: Random
  outbound: Outbound
  events: EventEmitter
  log: Logger
  directory: GroupDirectory
  points: PointsService
  checkIns: CheckInFacts
  activity: ActivityFacts
  rules: FeatureRules<LotteryRule>
  /** Public randomness mixed into draws (null: none configured). */
  beacon: Beacon | null
  /** Tells every replica's message path that lotteries changed. */
  changed(): Promise<void>
  /** The member's pseudonym (HMAC with the deployment key): who an entrant is in lists, hashes and proofs. */
  pseudonym(memberId: string): string
}

/** An entry already pseudonymised by an erasure holds the pseudonym itself (64 hex digits). */
const PSEUDONYM = /^[0-9a-f]{64}$/

/**
 * How a lottery names entrants in its entrant hash, draw and proof. Lotteries name them by pseudonym, so
 * proofs never hold a member id and stay verifiable after a member is erased (their entry then holds the
 * pseudonym itself). Lotteries closed before pseudonyms were introduced keep naming them by id (their
 * published hash covers the ids).
 */
type DrawIds = (memberId: string) => string

/** How a lottery names entrants (stored on the lottery at close: `draw_ids`). */
type DrawIdMode = 'pseudonym' | 'member-id'

/**
 * The lottery state machine: draft → open → closed → drawn, or → cancelled from any state before drawn.
 * Every transition is a conditional update on the current status (so two runtimes never both make it);
 * the draw itself is fenced by the unique (lottery, round) row of qy_lottery_draw.
 */
export class LotteryService {
  constructor(private readonly d: LotteryServiceDeps) {}

  private get repo() { return this.d.store.repo(LotteryEntity) }

  /** Reads a stored lottery (null: none). */
  async find(id: number): Promise<Lottery | null> {
    const row = await this.repo.findOneBy({ id })
    return row ? live(row) : null
  }

  /** A stored row with its definition validated (null, logged, when it no longer validates). */
  parse(row: LotteryEntity): Lottery | null {
    try { return live(row) } catch (error) {
      this.d.log.error('stored lottery no longer valid; skipped', { lotteryId: row.id, error: errorText(error) })
      return null
    }
  }

  /** Creates a draft. */
  async create(config: LotteryConfig, ownerTokenId: number | null): Promise<Lottery> {
    const now = this.d.clock.now()
    const inserted = await this.repo.insert({ ownerTokenId, title: config.title, status: 'draft', config, ...(await this.timesOf(config)), entrantCount: 0, version: 1, createdAt: now, updatedAt: now })
    const row = await this.repo.findOneByOrFail({ id: Number(inserted.identifiers[0]?.id) })
    await this.d.changed()
    return live(row)
  }

  /** Replaces a draft's definition (409 once it opened). */
  async update(id: number, config: LotteryConfig): Promise<Lottery> {
    const before = await this.must(id)
    const res = await this.repo.update({ id, status: 'draft' }, { title: config.title, config, ...(await this.timesOf(config)), version: before.row.version + 1, updatedAt: this.d.clock.now() })
    if (!res.affected) throw conflict(`a lottery can only be edited while it is a draft (it is ${before.row.status})`)
    await this.d.changed()
    return this.must(id)
  }

  /** Opens a draft: generates the secret seed, publishes its commitment, announces. */
  async open(id: number): Promise<Lottery> {
    const before = await this.must(id)
    const now = this.d.clock.now()
    const seed = this.newSeed()
    const res = await this.repo.update({ id, status: 'draft' }, { status: 'open', seed, commitment: commitmentOf(seed), openedAt: now, updatedAt: now })
    if (!res.affected) throw conflict(`only a draft can be opened (it is ${before.row.status})`)
    await this.d.changed()
    const after = await this.must(id)
    await this.announce(after, 'opened', (l, g) => {
      const c = l.config
      return {
        title: c.title, description: c.description, keyword: c.entry.keyword,
        prizes: c.prizes.map((p) => `${p.name}×${p.quantity}`).join('，'),
        cost: c.entry.pointsCost > 0 ? `（消耗 ${c.entry.pointsCost} 积分）` : '',
        closes: l.row.closesAt !== null ? when(l.row.closesAt, g.timezone) : `满 ${c.times.drawWhenEntries ?? '-'} 人`,
        draws: l.row.drawAt !== null ? when(l.row.drawAt, g.timezone) : `满 ${c.times.drawWhenEntries ?? '-'} 人即开`,
        commitment: l.row.commitment ?? '',
      }
    })
    return after
  }

  /**
   * Closes an open lottery: no entry is accepted after the status flip (entries check it in their own
   * transaction), automatic entries are added, the entrant list is frozen and its hash published.
   */
  async close(id: number): Promise<boolean> {
    const now = this.d.clock.now()
    const res = await this.repo.update({ id, status: 'open' }, { status: 'closed', closedAt: now, updatedAt: now })
    if (!res.affected) return false
    await this.d.changed()
    const l = await this.must(id)
    if (l.config.entry.autoCheckedIn !== 'none') await this.autoEnter(l)
    const entrants = await this.entrantIds(id)
    // The beacon round is fixed now, from the close instant alone: the first round published after it.
    const beaconRound = this.d.beacon ? roundAfter(this.d.beacon.chain, now) : null
    await this.repo.update({ id }, { entrantsHash: listHash(entrants.map((e) => this.token(e))), drawIds: 'pseudonym' satisfies DrawIdMode, entrantCount: entrants.length, beaconRound })
    const closed = await this.must(id)
    const beaconLine = beaconRound !== null && this.d.beacon ? `\n公开随机数：开奖将混入 drand 第 ${beaconRound} 轮（${roundUrl(this.d.beacon.chain, beaconRound)}）` : ''
    await this.announce(closed, 'closed', (c, g) => ({
      title: c.config.title, count: entrants.length, entrantsHash: c.row.entrantsHash ?? '', draws: c.row.drawAt !== null ? when(c.row.drawAt, g.timezone) : '马上',
    }), beaconLine)
    return true
  }

  /**
   * Draws a closed lottery, exactly once: the eligible entrants (each exclusion recorded), the winners
   * from the seed, and the proof are computed; then, in one transaction, the (lottery, round 0) row is
   * inserted — a second runtime or a retried tick hits the unique key and stops — the status moves to
   * drawn and the winners are stored. The announcement follows (claimed once by `announced_at`).
   */
  async draw(id: number): Promise<DrawResult> {
    const l = await this.must(id)
    if (l.row.status === 'drawn') return 'already'
    if (l.row.status !== 'closed' || l.row.seed === null) return 'not-closed'
    const now = this.d.clock.now()
    // The announced round cannot exist before its publication time (at most one period after the close):
    // the next tick draws.
    if (this.d.beacon && l.row.beaconRound !== null && now < publishedAt(this.d.beacon.chain, l.row.beaconRound)) return 'waiting-for-beacon'
    const beacon = await this.beaconFor(l)
    const entries = await this.d.store.repo(LotteryEntryEntity).find({ where: { lotteryId: id }, order: { id: 'ASC' } })
    const { eligible, excluded } = await this.screen(l, entries)
    const ids = this.drawIds(l, entries.map((e) => e.memberId))
    const member = new Map(entries.map((e) => [ids(e.memberId), e.memberId]))
    const wanted = prizeSlots(l.config).length
    const outcome = draw({ seedHex: l.row.seed, lotteryId: id, round: 0, eligible: eligible.map(ids), count: wanted, ...(beacon.used ? { beaconHex: beacon.randomness } : {}) })
    const round: ProofRound = { round: 0, eligible: canonicalOrder(eligible.map(ids)), eligibleHash: outcome.eligibleHash, excluded: byDrawId(excluded, ids), count: wanted, winners: outcome.winners }
    const byMember = new Map(entries.map((e) => [e.memberId, e]))
    const slots = prizeSlots(l.config)
    const codes = this.claimCodes(outcome.winners.length)
    try {
      await this.d.store.transaction(async (tx) => {
        await tx.repo(LotteryDrawEntity).insert({ lotteryId: id, round: 0, at: now, proof: { ...round, beacon } })
        const res = await tx.repo(LotteryEntity).update({ id, status: 'closed' }, { status: 'drawn', drawnAt: now, updatedAt: now })
        if (!res.affected) throw new Error(`lottery ${id} left "closed" during its draw`)
        await this.insertWinners(tx, id, 0, outcome.winners.map((w) => member.get(w) ?? w), byMember, slots, codes, now)
      })
    } catch (error) {
      if (isDuplicate(error)) return 'already'
      throw error
    }
    this.d.log.info('lottery drawn', { lotteryId: id, eligible: eligible.length, excluded: excluded.length, winners: outcome.winners.length, beaconUsed: beacon.used, beaconRound: beacon.round ?? null })
    await this.d.changed()
    await this.announceDraw(id)
    return 'drawn'
  }

  /**
   * Hands the winners announcement to the outbound queue, once — also after a crash anywhere between the
   * draw's commit and the announcement's store: each group's announcement is keyed
   * (`lottery:<id>:drawn:<group>`), stored, and only then is the lottery marked announced. A crash before
   * the mark leaves it unannounced, and the next tick (any replica) queues it again under the same keys:
   * what was stored already is dropped, what was lost goes out.
   */
  async announceDraw(id: number): Promise<void> {
    const now = this.d.clock.now()
    const l = await this.must(id)
    if (l.row.status !== 'drawn' || l.row.announcedAt !== null) return
    const winners = await this.d.store.repo(LotteryWinnerEntity).find({ where: { lotteryId: id, round: 0 }, order: { position: 'ASC' } })
    const rounds = await this.d.store.repo(LotteryDrawEntity).findBy({ lotteryId: id, round: 0 })
    const stored = rounds[0]?.proof as (ProofRound & { beacon?: BeaconProof }) | undefined
    const eligible = stored?.eligible.length ?? 0
    const beaconLine = beaconText(stored?.beacon)
    const wanted = prizeSlots(l.config).length
    for (const groupId of l.config.groupIds) {
      const target = await this.target(groupId)
      if (!target) continue
      const { group, rule } = target
      const texts = rule.texts
      const here = winners.filter((w) => w.groupId === groupId)
      let text: string
      if (winners.length === 0) text = renderTemplate(texts.empty, { title: l.config.title })
      else {
        const lines = winners.map((w) => renderTemplate(texts.winnerLine, { member: w.groupId === groupId ? `@${w.name}` : w.name, prize: w.prize, code: w.claimCode }))
        if (winners.length < wanted) lines.push(renderTemplate(texts.short, { title: l.config.title, wanted, drawn: winners.length }))
        text = renderTemplate(texts.drawn, { title: l.config.title, winners: lines.join('\n'), seed: l.row.seed ?? '', proof: `lottery ${id}（qunyun lottery verify）` })
      }
      this.d.outbound.say({ botId: group.botId, groupId }, text + beaconLine, { mentions: here.map((w) => w.memberId), cause: `lottery:${id}:drawn`, key: `lottery:${id}:drawn:${groupId}`, note: `lottery ${id} drawn (${here.length} winners here)` })
      this.d.events.emit(LotteryDrawn.of({ id: `lottery.drawn:${id}:0:${groupId}`, at: now, botId: group.botId, groupId, lotteryId: id, round: 0, winnerIds: here.map((w) => w.memberId), eligible }))
    }
    await this.d.outbound.stored()
    await this.repo.update({ id, status: 'drawn', announcedAt: IsNull() }, { announcedAt: now })
  }

  /**
   * Rerolls prizes: the given winners (or those whose claim window passed unclaimed) forfeit, and as many
   * new winners are drawn — round N+1 of the same deterministic generator, over the eligible entrants
   * minus every earlier winner — recorded with its proof (the (lottery, round) row fences it too).
   */
  async reroll(id: number, memberIds?: readonly string[]): Promise<{ round: number | null; replaced: string[]; winners: string[] }> {
    const l = await this.must(id)
    if (l.row.status !== 'drawn' || l.row.seed === null) throw conflict(`only a drawn lottery can be rerolled (it is ${l.row.status})`)
    const now = this.d.clock.now()
    const all = await this.d.store.repo(LotteryWinnerEntity).find({ where: { lotteryId: id }, order: { round: 'ASC', position: 'ASC' } })
    const current = all.filter((w) => w.status !== 'forfeited')
    let targets: LotteryWinnerEntity[]
    if (memberIds) {
      const unknown = memberIds.filter((m) => !current.some((w) => w.memberId === m && w.status === 'won'))
      if (unknown.length > 0) throw new HttpError(400, 'invalid_input', 'not unclaimed winners of this lottery', unknown.map((m) => ({ path: 'body.memberIds', message: `${m}: not an unclaimed winner` })))
      targets = current.filter((w) => memberIds.includes(w.memberId))
    } else {
      const window = l.config.claimWindowHours * 3_600_000
      targets = current.filter((w) => w.status === 'won' && w.at + window <= now)
    }
    if (targets.length === 0) return { round: null, replaced: [], winners: [] }
    const rounds = await this.d.store.repo(LotteryDrawEntity).find({ select: { round: true }, where: { lotteryId: id } })
    const round = Math.max(0, ...rounds.map((r) => r.round)) + 1
    const entries = await this.d.store.repo(LotteryEntryEntity).find({ where: { lotteryId: id }, order: { id: 'ASC' } })
    const earlier = new Set(all.map((w) => w.memberId))
    const screened = await this.screen(l, entries.filter((e) => !earlier.has(e.memberId)))
    const first = (await this.d.store.repo(LotteryDrawEntity).findOneBy({ lotteryId: id, round: 0 }))?.proof as { beacon?: BeaconProof } | undefined
    const used = first?.beacon?.used === true ? first.beacon : null
    const ids = this.drawIds(l, entries.map((e) => e.memberId))
    const member = new Map(entries.map((e) => [ids(e.memberId), e.memberId]))
    const outcome = draw({ seedHex: l.row.seed, lotteryId: id, round, eligible: screened.eligible.map(ids), count: targets.length, ...(used ? { beaconHex: used.randomness } : {}) })
    const proofRound: ProofRound = { round, eligible: canonicalOrder(screened.eligible.map(ids)), eligibleHash: outcome.eligibleHash, excluded: byDrawId(screened.excluded, ids), count: targets.length, winners: outcome.winners }
    const byMember = new Map(entries.map((e) => [e.memberId, e]))
    try {
      await this.d.store.transaction(async (tx) => {
        await tx.repo(LotteryDrawEntity).insert({ lotteryId: id, round, at: now, proof: { ...proofRound, replaced: targets.map((t) => ids(t.memberId)) } })
        for (const t of targets) {
          const res = await tx.repo(LotteryWinnerEntity).update({ id: t.id, status: 'won' }, { status: 'forfeited' })
          if (!res.affected) throw conflict(`${t.memberId} claimed meanwhile`)
        }
        await this.insertWinners(tx, id, round, outcome.winners.map((w) => member.get(w) ?? w), byMember, targets.map((t) => t.prize), this.claimCodes(outcome.winners.length), now)
      })
    } catch (error) {
      if (isDuplicate(error)) throw conflict('another reroll of this lottery ran at the same time; read the winners again')
      throw error
    }
    const winners = await this.d.store.repo(LotteryWinnerEntity).find({ where: { lotteryId: id, round }, order: { position: 'ASC' } })
    for (const groupId of l.config.groupIds) {
      const target = await this.target(groupId)
      if (!target) continue
      const here = winners.filter((w) => w.groupId === groupId)
      const lines = winners.length === 0 ? ['没有符合条件的人选，奖品不再补抽'] : winners.map((w) => renderTemplate(target.rule.texts.winnerLine, { member: w.groupId === groupId ? `@${w.name}` : w.name, prize: w.prize, code: w.claimCode }))
      this.d.outbound.say({ botId: target.group.botId, groupId }, renderTemplate(target.rule.texts.rerolled, { title: l.config.title, winners: lines.join('\n'), seed: l.row.seed, round }),
        { mentions: here.map((w) => w.memberId), cause: `lottery:${id}:reroll:${round}`, note: `lottery ${id} rerolled (round ${round})` })
      this.d.events.emit(LotteryDrawn.of({ id: `lottery.drawn:${id}:${round}:${groupId}`, at: now, botId: target.group.botId, groupId, lotteryId: id, round, winnerIds: here.map((w) => w.memberId), eligible: screened.eligible.length }))
    }
    return { round, replaced: targets.map((t) => t.memberId), winners: outcome.winners.map((w) => member.get(w) ?? w) }
  }

  /** Marks a prize claimed or fulfilled (核销), by claim code or member; null when no such current winner. */
  async claim(id: number, by: { code?: string; memberId?: string }, status: 'claimed' | 'fulfilled'): Promise<LotteryWinnerEntity | null> {
    const repo = this.d.store.repo(LotteryWinnerEntity)
    const where = by.code !== undefined ? { lotteryId: id, claimCode: by.code } : { lotteryId: id, memberId: by.memberId ?? '' }
    const w = await repo.findOneBy(where)
    if (!w || w.status === 'forfeited') return null
    const from = status === 'claimed' ? ['won'] : ['won', 'claimed']
    if (!from.includes(w.status)) throw conflict(`the prize is already ${w.status}`)
    await repo.update({ id: w.id, status: In(from) }, { status, claimedAt: w.claimedAt ?? this.d.clock.now() })
    return repo.findOneBy({ id: w.id })
  }

  /** Reminds winners who have not claimed, once each, when half their claim window has passed. */
  async remindUnclaimed(): Promise<void> {
    const now = this.d.clock.now()
    const waiting = await this.d.store.repo(LotteryWinnerEntity).find({ where: { status: 'won', remindedAt: IsNull() }, order: { lotteryId: 'ASC', position: 'ASC' }, take: 1000 })
    const byLottery = new Map<number, LotteryWinnerEntity[]>()
    for (const w of waiting) byLottery.set(w.lotteryId, [...(byLottery.get(w.lotteryId) ?? []), w])
    for (const [lotteryId, winners] of byLottery) {
      const l = await this.find(lotteryId)
      if (!l) continue
      const window = l.config.claimWindowHours * 3_600_000
      const due = winners.filter((w) => w.at + window / 2 <= now && w.at + window > now)
      for (const groupId of new Set(due.map((w) => w.groupId))) {
        const here: LotteryWinnerEntity[] = []
        for (const w of due.filter((x) => x.groupId === groupId)) {
          // Claimed once: another replica or a retried tick finds remindedAt set and skips.
          if ((await this.d.store.repo(LotteryWinnerEntity).update({ id: w.id, remindedAt: IsNull() }, { remindedAt: now })).affected) here.push(w)
        }
        const target = here.length > 0 ? await this.target(groupId) : null
        if (!target) continue
        const deadline = when(Math.min(...here.map((w) => w.at)) + window, target.group.timezone)
        const instructions = l.config.prizes.find((p) => p.name === here[0]?.prize)?.claimInstructions ?? ''
        this.d.outbound.say({ botId: target.group.botId, groupId }, renderTemplate(target.rule.texts.unclaimed, { title: l.config.title, deadline, instructions }),
          { mentions: here.map((w) => w.memberId), cause: `lottery:${lotteryId}:unclaimed`, note: `lottery ${lotteryId} claim reminder (${here.length} winners)` })
      }
    }
  }

  /** Cancels a lottery that was not drawn; entry fees are refunded (once each, whatever is retried). */
  async cancel(id: number): Promise<Lottery> {
    const before = await this.must(id)
    const now = this.d.clock.now()
    const res = await this.repo.update({ id, status: In(['draft', 'open', 'closed']) }, { status: 'cancelled', cancelledAt: now, updatedAt: now })
    if (!res.affected) throw conflict(`a ${before.row.status} lottery cannot be cancelled`)
    await this.d.changed()
    await this.refundAll(id)
    const after = await this.must(id)
    if (before.row.status !== 'draft') await this.announce(after, 'cancelled', (l) => ({ title: l.config.title }))
    return after
  }

  /** Gives back every entry fee of a lottery (idempotent per member: the ledger's unique reference). */
  async refundAll(id: number): Promise<number> {
    const paid = await this.d.store.repo(LotteryEntryEntity).findBy({ lotteryId: id, method: 'points' })
    let refunded = 0
    for (const e of paid) {
      if (await this.d.points.refund({ groupId: e.groupId, memberId: e.memberId, source: POINTS_SOURCE, ref: pointsRef(id), at: this.d.clock.now() })) refunded++
    }
    return refunded
  }

  /**
   * The scheduled step (every minute, fenced): opens drafts whose time came, closes open lotteries at
   * their close time or entry count, draws closed ones at their draw time, finishes announcements and
   * refunds a crash interrupted. Everything is read from the database, so a restart at any instant — also
   * at the draw instant — is picked up by the next tick.
   */
  async tick(): Promise<void> {
    const now = this.d.clock.now()
    const rows = await this.repo.find({ where: [{ status: In(['draft', 'open', 'closed']) }, { status: 'drawn', announcedAt: IsNull() }, { status: 'cancelled', cancelledAt: MoreThanOrEqual(now - 3_600_000) }] })
    for (const row of rows) {
      try {
        await this.step(live(row), now)
      } catch (error) {
        this.d.log.error('lottery step failed', { lotteryId: row.id, status: row.status, error: errorText(error) })
      }
    }
    await this.remindUnclaimed()
  }

  private async step(l: Lottery, now: number): Promise<void> {
    const { row, config } = l
    const status = row.status as LotteryStatus
    if (status === 'draft' && row.opensAt !== null && row.opensAt <= now) await this.open(row.id)
    else if (status === 'open') {
      const full = config.times.drawWhenEntries !== undefined && row.entrantCount >= config.times.drawWhenEntries
      if ((row.closesAt !== null && row.closesAt <= now) || full) {
        await this.close(row.id)
        if (full && (row.drawAt === null || row.drawAt <= now)) await this.draw(row.id)
      }
    } else if (status === 'closed' && (row.drawAt === null || row.drawAt <= now)) await this.draw(row.id)
    else if (status === 'drawn') await this.announceDraw(row.id)
    else if (status === 'cancelled') await this.refundAll(row.id)
  }

  /** The time columns of a definition (local times read in its first group's timezone). */
  private async timesOf(c: LotteryConfig): Promise<{ opensAt: number | null; closesAt: number | null; drawAt: number | null }> {
    const tz = (await this.d.directory.find(c.groupIds[0] as string))?.timezone ?? DEFAULT_TIMEZONE
    const ms = (s: string | undefined): number | null => (s === undefined ? null : instantIn(s, tz))
    const times = { opensAt: ms(c.times.opensAt), closesAt: ms(c.times.closesAt), drawAt: ms(c.times.drawAt) }
    if (times.closesAt !== null && times.drawAt !== null && times.drawAt < times.closesAt) throw new HttpError(400, 'invalid_input', 'the draw cannot be before the close', [{ path: 'body.times.drawAt', message: 'the draw cannot be before the close' }])
    return times
  }

  /** A member's entry by keyword (paying points when the lottery asks for them). */
  async enter(l: Lottery, input: { group: GroupInfo; member: MemberInfo; messageId: string; at: number }): Promise<EntryResult> {
    const { row, config } = l
    const { group, member } = input
    const entries = this.d.store.repo(LotteryEntryEntity)
    // Entered before: which message made the entry, and — only for a copy of that very message (its
    // confirmation may have been lost with a crash) — the entrant count the confirmation shows.
    const already = async (entry: { messageId: string | null } | null): Promise<EntryResult> => {
      const messageId = entry?.messageId ?? null
      const count = messageId === input.messageId ? (await this.repo.findOne({ select: { entrantCount: true }, where: { id: row.id } }))?.entrantCount ?? 0 : 0
      return { status: 'already', messageId, count }
    }
    const entryOf = (): Promise<{ messageId: string | null } | null> => entries.findOne({ select: { messageId: true }, where: { lotteryId: row.id, memberId: member.id } })
    const prior = await entryOf()
    if (prior) return already(prior)
    const today = localTime(input.at, group.timezone).day
    const facts = await this.memberFacts(l, group.id, [member.id], today, member)
    const reason = ineligibility(config.eligibility, facts.get(member.id) ?? unknownMember(member.id), today)
    if (reason !== null) return { status: 'ineligible', reason }
    const cost = config.entry.pointsCost
    if (cost > 0) {
      const spent = await this.d.points.spend({ groupId: group.id, memberId: member.id, amount: cost, source: POINTS_SOURCE, ref: pointsRef(row.id), at: input.at })
      if (spent.status === 'insufficient') return { status: 'poor', balance: spent.balance, cost }
    }
    try {
      await this.d.store.transaction(async (tx) => {
        // The entry and the count move together, and only while the lottery is open (close flips the status first).
        const counted = await tx.repo(LotteryEntity).increment({ id: row.id, status: 'open' }, 'entrantCount', 1)
        if (!counted.affected) throw new Closed()
        await tx.repo(LotteryEntryEntity).insert({ lotteryId: row.id, memberId: member.id, groupId: group.id, name: member.name, method: cost > 0 ? 'points' : 'keyword', points: cost, at: input.at, messageId: input.messageId })
      })
    } catch (error) {
      if (error instanceof Closed) {
        if (cost > 0) await this.d.points.refund({ groupId: group.id, memberId: member.id, source: POINTS_SOURCE, ref: pointsRef(row.id), at: input.at })
        return { status: 'late' }
      }
      if (isDuplicate(error)) return already(await entryOf())
      throw error
    }
    const count = (await this.repo.findOne({ select: { entrantCount: true }, where: { id: row.id } }))?.entrantCount ?? 0
    return { status: 'entered', count, points: cost, method: cost > 0 ? 'points' : 'keyword' }
  }

  /** The proof of a lottery: everything needed to recompute its draws. */
  async proof(id: number): Promise<LotteryProof> {
    const l = await this.must(id)
    const revealed = l.row.status === 'drawn'
    const rounds = revealed ? await this.d.store.repo(LotteryDrawEntity).find({ where: { lotteryId: id }, order: { round: 'ASC' } }) : []
    const frozen = l.row.entrantsHash !== null
    const stored = rounds.map((r) => r.proof as ProofRound & { beacon?: BeaconProof; replaced?: string[] })
    const beacon: BeaconProof = stored[0]?.beacon ?? (revealed
      ? { used: false, note: 'no public randomness beacon was configured: the draw depends on the committed seed and the frozen entrant list only' }
      : { used: false, note: 'not drawn yet', round: l.row.beaconRound })
    return {
      algorithm: beacon.used ? DRAW_ALGORITHM_BEACON : DRAW_ALGORITHM,
      lotteryId: id,
      title: l.config.title,
      status: l.row.status,
      commitment: l.row.commitment,
      seed: revealed ? l.row.seed : null,
      entrants: frozen ? await this.entrantIds(id).then((all) => canonicalOrder(all.map(this.drawIds(l, all)))) : [],
      entrantsHash: l.row.entrantsHash,
      beacon,
      rounds: stored.map(({ beacon: _b, ...r }) => r),
    }
  }

  /** Who of `memberIds` would be eligible in `groupId` now, and why the others are not (the dry run over live data). */
  async screen(l: Lottery, entries: readonly LotteryEntryEntity[]): Promise<{ eligible: string[]; excluded: Exclusion[] }> {
    const eligible: string[] = []
    const excluded: Exclusion[] = []
    const byGroup = new Map<string, string[]>()
    for (const e of entries) byGroup.set(e.groupId, [...(byGroup.get(e.groupId) ?? []), e.memberId])
    for (const [groupId, ids] of byGroup) {
      const group = await this.d.directory.find(groupId)
      const today = localTime(this.d.clock.now(), group?.timezone ?? DEFAULT_TIMEZONE).day
      const facts = await this.memberFacts(l, groupId, ids, today)
      for (const id of ids) {
        const reason = group ? ineligibility(l.config.eligibility, facts.get(id) ?? unknownMember(id), today) : 'the group is gone'
        if (reason === null) eligible.push(id)
        else excluded.push({ memberId: id, reason })
      }
    }
    return { eligible, excluded: excluded.sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)) }
  }

  /** What eligibility needs to know about members of one group (`live`: the sender as the message path sees them). */
  private async memberFacts(l: Lottery, groupId: string, ids: readonly string[], today: string, liveMember?: MemberInfo): Promise<Map<string, MemberFacts>> {
    const rule: Eligibility = l.config.eligibility
    const [stored, lastActive, streaks, recent] = await Promise.all([
      this.d.directory.members(groupId, { ids, includeLeft: true }),
      rule.activeInLastDays !== undefined ? this.lastActiveBefore(groupId, ids, activeSince(rule.activeInLastDays, today), today) : Promise.resolve(new Map<string, string>()),
      rule.minStreak !== undefined ? this.d.checkIns.streaks(groupId, ids, today) : Promise.resolve(new Map<string, number>()),
      rule.notWinnerOfLast > 0 ? this.recentWinners(l, rule.notWinnerOfLast) : Promise.resolve(new Set<string>()),
    ])
    const out = new Map<string, MemberFacts>()
    for (const m of stored) {
      out.set(m.id, { id: m.id, role: m.role, joinedAt: m.joinedAt, left: !m.active, lastActiveDay: lastActive.get(m.id) ?? null, streak: streaks.get(m.id) ?? 0, recentWinner: recent.has(m.id) })
    }
    if (liveMember && !out.has(liveMember.id)) {
      out.set(liveMember.id, { id: liveMember.id, role: liveMember.role, joinedAt: liveMember.joinedAt, left: false, lastActiveDay: lastActive.get(liveMember.id) ?? null, streak: streaks.get(liveMember.id) ?? 0, recentWinner: recent.has(liveMember.id) })
    }
    return out
  }

  /** The last day in [from, today) each member spoke in the group (the activity rollups, as of their last flush). */
  private async lastActiveBefore(groupId: string, ids: readonly string[], from: string, today: string): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for (const row of await this.d.activity.memberDays(groupId, from, addDays(today, -1), ids)) {
      if (row.messages > 0 && (out.get(row.memberId) ?? '') < row.day) out.set(row.memberId, row.day)
    }
    return out
  }

  /** Winners of the owner's last `k` drawn lotteries (before this one). */
  private async recentWinners(l: Lottery, k: number): Promise<Set<string>> {
    const last = await this.repo.find({
      select: { id: true }, where: { ownerTokenId: l.row.ownerTokenId === null ? IsNull() : l.row.ownerTokenId, status: 'drawn' }, order: { drawnAt: 'DESC', id: 'DESC' }, take: k + 1,
    })
    const ids = last.map((r) => r.id).filter((id) => id !== l.row.id).slice(0, k)
    if (ids.length === 0) return new Set()
    const winners = await this.d.store.repo(LotteryWinnerEntity).find({ select: { memberId: true }, where: { lotteryId: In(ids) } })
    return new Set(winners.map((w) => w.memberId))
  }

  /** Everyone who checked in today / this week in the lottery's groups enters automatically (at close). */
  private async autoEnter(l: Lottery): Promise<void> {
    const now = this.d.clock.now()
    for (const groupId of l.config.groupIds) {
      const group = await this.d.directory.find(groupId)
      if (!group) continue
      const today = localTime(now, group.timezone).day
      const days = l.config.entry.autoCheckedIn === 'today' ? [today] : Array.from({ length: 7 }, (_, i) => addDays(today, -i))
      const ids = await this.d.checkIns.membersOn(groupId, days)
      if (ids.length === 0) continue
      const names = new Map((await this.d.directory.members(groupId, { ids })).map((m) => [m.id, m.name]))
      // Members who entered already (here or in another group) keep their entry: the unique key skips them.
      await this.d.store.insertIgnore('qy_lottery_entry', ['lottery_id', 'member_id', 'group_id', 'name', 'method', 'points', 'at', 'message_id'],
        ids.map((id) => [l.row.id, id, groupId, names.get(id) ?? id, 'auto', 0, now, null]))
    }
  }

  private async insertWinners(tx: FeatureTables, lotteryId: number, round: number, winners: readonly string[], byMember: Map<string, LotteryEntryEntity>, slots: readonly string[], codes: readonly string[], now: number): Promise<void> {
    for (const [i, memberId] of winners.entries()) {
      const e = byMember.get(memberId)
      await tx.repo(LotteryWinnerEntity).insert({
        lotteryId, round, position: i, memberId, groupId: e?.groupId ?? '', name: e?.name ?? memberId, prize: slots[i] ?? '', claimCode: codes[i] ?? '', status: 'won', claimedAt: null, remindedAt: null, at: now,
      })
    }
  }

  /** The draw id of a member: their pseudonym (an erased entry holds it already). */
  private token(memberId: string): string {
    return PSEUDONYM.test(memberId) ? memberId : this.d.pseudonym(memberId)
  }

  /**
   * How this lottery's entrant hash and proof name members (for views next to the proof): read from the
   * lottery, without loading its entries. A lottery closed before the mode was stored is found out once
   * from its published hash (every entry read, every entrant hashed) and the answer stored.
   */
  async drawIdsOf(l: Lottery): Promise<DrawIds> {
    const stored = storedMode(l)
    if (stored) return this.namer(stored)
    // Not closed yet: lists are named by pseudonym from the close on.
    if (l.row.entrantsHash === null) return this.namer('pseudonym')
    const mode = this.detectMode(l, await this.entrantIds(l.row.id))
    await this.repo.update({ id: l.row.id, drawIds: IsNull() }, { drawIds: mode })
    l.row.drawIds = mode
    return this.namer(mode)
  }

  /** How a lottery names entrants, from the stored mode or (closed before it was stored) from its entrants. */
  private drawIds(l: Lottery, entrants: readonly string[]): DrawIds {
    return this.namer(storedMode(l) ?? this.detectMode(l, entrants))
  }

  /** By id when the published entrant hash covers the ids (closed before pseudonyms), else by pseudonym. */
  private detectMode(l: Lottery, entrants: readonly string[]): DrawIdMode {
    const legacy = l.row.entrantsHash !== null && l.row.entrantsHash === listHash(entrants) && l.row.entrantsHash !== listHash(entrants.map((e) => this.token(e)))
    return legacy ? 'member-id' : 'pseudonym'
  }

  private namer(mode: DrawIdMode): DrawIds {
    return mode === 'member-id' ? (m) => m : (m) => this.token(m)
  }

  /** Member ids of a lottery's entries. */
  private async entrantIds(id: number): Promise<string[]> {
    const rows = await this.d.store.repo(LotteryEntryEntity).find({ select: { memberId: true }, where: { lotteryId: id } })
    return rows.map((r) => r.memberId)
  }

  /** Sends a message of `kind` to every group of the lottery that has lotteries enabled. */
  private async announce(l: Lottery, kind: 'opened' | 'closed' | 'cancelled', vars: (l: Lottery, g: GroupInfo) => Record<string, string | number>, suffix = ''): Promise<void> {
    for (const groupId of l.config.groupIds) {
      const target = await this.target(groupId)
      if (!target) continue
      this.d.outbound.say({ botId: target.group.botId, groupId }, renderTemplate(target.rule.texts[kind], vars(l, target.group)) + suffix, { cause: `lottery:${l.row.id}:${kind}`, note: `lottery ${l.row.id} ${kind}` })
    }
  }

  /**
   * The public randomness of a draw: the round fixed at close, fetched through the beacon port (bounded
   * by the adapter's timeout and retries) — or, plainly, why the draw goes ahead without it.
   */
  private async beaconFor(l: Lottery): Promise<BeaconProof> {
    const round = l.row.beaconRound
    const beacon = this.d.beacon
    if (round === null) return { used: false, note: beacon ? 'no beacon round was fixed when this lottery closed (the beacon was configured later): drawn from the committed seed and the frozen entrant list only' : 'no public randomness beacon is configured: the draw depends on the committed seed and the frozen entrant list only', round: null }
    if (!beacon) return { used: false, note: `beacon round ${round} was announced at close, but no beacon is configured any more: drawn without it`, round }
    try {
      const got = await beacon.fetch(round)
      const c = beacon.chain
      return {
        used: true, note: `drand round ${round} (first published after the close) mixed into the key; check its BLS signature with drand's tools: ${roundUrl(c, round)}`,
        url: c.url, chainHash: c.chainHash, genesisTime: c.genesisTime, periodSeconds: c.periodSeconds, closedAt: l.row.closedAt ?? 0,
        round: got.round, randomness: got.randomness, signature: got.signature,
      }
    } catch (error) {
      this.d.log.warn('lottery beacon unreachable; drawing without it', { lotteryId: l.row.id, round, error: errorText(error) })
      return { used: false, note: `the beacon was unreachable (${roundUrl(beacon.chain, round)}: ${error instanceof Error ? error.message : String(error)}): drawn WITHOUT public randomness, from the committed seed and the frozen entrant list only`, round }
    }
  }

  /** A group to announce in (null: unknown, or lotteries disabled there). */
  private async target(groupId: string): Promise<{ group: GroupRecord; rule: LotteryRule } | null> {
    const group = await this.d.directory.find(groupId)
    if (!group) {
      this.d.log.warn('lottery group unknown; nothing announced there', { groupId })
      return null
    }
    const rule = await this.d.rules.forGroup(groupId)
    return rule.enabled ? { group, rule } : null
  }

  private async must(id: number): Promise<Lottery> {
    const l = await this.find(id)
    if (!l) throw new HttpError(404, 'not_found', 'no such lottery')
    return l
  }

  /**
   * A 32-byte secret seed: bytes from the Random port (what tests and simulations control) mixed with the
   * operating system's CSPRNG, so a predictable Math.random never makes a seed guessable.
   */
  private newSeed(): string {
    const port = Buffer.from(Array.from({ length: 32 }, () => this.d.random.int(0, 255)))
    const os = randomBytes(32)
    return Buffer.from(port.map((b, i) => b ^ (os[i] as number))).toString('hex')
  }

  /** Claim codes: 8 characters each, from the OS CSPRNG (they must not follow from the published seed). */
  private claimCodes(n: number): string[] {
    return Array.from({ length: n }, () => Array.from(randomBytes(8), (b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join(''))
  }
}

/** A stored lottery with its definition validated. */
export function live(row: LotteryEntity): Lottery {
  return { row, config: LotterySchema.parse(row.config) }
}

/**
 * The instant of a lottery time: as written when it has an offset (`Z`, `+08:00`), otherwise the local
 * time in `tz` (DST-aware: the offset is taken at the resulting instant).
 */
export function instantIn(time: string, tz: string): number {
  if (/(Z|[+-]\d{2}:?\d{2})$/i.test(time)) return Date.parse(time)
  const wall = Date.parse(`${time}Z`)
  const offsetAt = (ms: number): number => {
    const t = localTime(ms, tz)
    const [y, m, d] = t.day.split('-').map(Number) as [number, number, number]
    return Date.UTC(y, m - 1, d, t.hour, t.minute) - Math.floor(ms / 60_000) * 60_000
  }
  const first = wall - offsetAt(wall)
  return wall - offsetAt(first)
}

/** Prize names, one per winner, in the order prizes are listed. */
export function prizeSlots(c: LotteryConfig): string[] {
  return c.prizes.flatMap((p) => Array.from({ length: p.quantity }, () => p.name))
}

/** The line the winners announcement adds about public randomness (nothing when none was configured). */
function beaconText(b: BeaconProof | undefined): string {
  if (!b || (!b.used && (b.round === null || b.round === undefined))) return ''
  return b.used ? `\n公开随机数：已混入 drand 第 ${b.round} 轮` : `\n公开随机数：drand 第 ${b.round} 轮未能获取，本次未混入（详见证明）`
}

/** "2026-12-01 20:00" in a timezone. */
function when(ms: number, tz: string): string {
  const t = localTime(ms, tz)
  return `${t.day} ${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}`
}

function conflict(message: string): HttpError {
  return new HttpError(409, 'conflict', message)
}

/** Facts of a member the directory does not know: treated as not in the group. */
function unknownMember(id: string): MemberFacts {
  return { id, role: 'member', joinedAt: null, left: true, lastActiveDay: null, streak: 0, recentWinner: false }
}

/** Exclusions named by draw id, in canonical order. */
/** The naming mode stored on a lottery (null: not closed, or closed before the mode was stored). */
function storedMode(l: Lottery): DrawIdMode | null {
  return l.row.drawIds === 'pseudonym' || l.row.drawIds === 'member-id' ? l.row.drawIds : null
}

function byDrawId(excluded: readonly Exclusion[], ids: DrawIds): Exclusion[] {
  return excluded.map((e) => ({ memberId: ids(e.memberId), reason: e.reason })).sort((a, b) => Buffer.compare(Buffer.from(a.memberId, 'utf8'), Buffer.from(b.memberId, 'utf8')))
}
