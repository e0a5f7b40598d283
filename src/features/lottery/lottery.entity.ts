import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { jsonColumn, msColumn } from '../../adapters/db/columns'
import { HeldAnswerColumns } from '../../adapters/db/held-answers'

/**
 * A lottery, owned by the token that created it. `config` holds the zod-validated LotterySchema; the
 * columns beside it are what jobs and the message path select on, and the commit–reveal values.
 */
@Entity('qy_lottery')
@Index('idx_lottery_owner', ['ownerTokenId'])
@Index('idx_lottery_status', ['status'])
export class LotteryEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  /** Token that owns it; null for lotteries created by admins. */
  @Column({ name: 'owner_token_id', type: 'integer', nullable: true }) ownerTokenId!: number | null
  @Column({ type: 'varchar', length: 100 }) title!: string
  /** draft | open | closed | drawn | cancelled */
  @Column({ type: 'varchar', length: 16 }) status!: string
  @Column(jsonColumn('config')) config!: object
  @Column(msColumn('opens_at', true)) opensAt!: number | null
  @Column(msColumn('closes_at', true)) closesAt!: number | null
  @Column(msColumn('draw_at', true)) drawAt!: number | null
  /** The secret seed (hex), revealed once drawn. */
  @Column({ type: 'varchar', length: 64, nullable: true }) seed!: string | null
  /** SHA-256 of the seed (hex), published at open. */
  @Column({ type: 'varchar', length: 64, nullable: true }) commitment!: string | null
  /** SHA-256 of the frozen entrant list (hex), published at close. */
  @Column({ name: 'entrants_hash', type: 'varchar', length: 64, nullable: true }) entrantsHash!: string | null
  @Column({ name: 'entrant_count', type: 'integer', default: 0 }) entrantCount!: number
  /**
   * How the entrant hash, draw and proof name entrants, stored at close: 'pseudonym', or 'member-id' for
   * lotteries closed before pseudonyms. Null until closed, and for lotteries closed before it was stored
   * (found out once from the published hash, then stored).
   */
  @Column({ name: 'draw_ids', type: 'varchar', length: 16, nullable: true }) drawIds!: string | null
  /** The public beacon round mixed into the draw: the first published after the close, fixed and announced at close. */
  @Column({ name: 'beacon_round', type: 'integer', nullable: true }) beaconRound!: number | null
  @Column({ type: 'integer', default: 1 }) version!: number
  @Column(msColumn('created_at')) createdAt!: number
  @Column(msColumn('updated_at')) updatedAt!: number
  @Column(msColumn('opened_at', true)) openedAt!: number | null
  @Column(msColumn('closed_at', true)) closedAt!: number | null
  @Column(msColumn('drawn_at', true)) drawnAt!: number | null
  @Column(msColumn('cancelled_at', true)) cancelledAt!: number | null
  /** When the winners announcement was handed to the outbound queue (claimed once). */
  @Column(msColumn('announced_at', true)) announcedAt!: number | null
}

/** One entry: unique per lottery and member, so nobody enters twice whatever is retried. */
@Entity('qy_lottery_entry')
@Index('uq_lottery_entry_member', ['lotteryId', 'memberId'], { unique: true })
export class LotteryEntryEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'lottery_id', type: 'integer' }) lotteryId!: number
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  /** The group they entered in (announcements @-mention them there). */
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ type: 'varchar', length: 255 }) name!: string
  /** keyword | points | auto */
  @Column({ type: 'varchar', length: 8 }) method!: string
  @Column({ type: 'integer', default: 0 }) points!: number
  @Column(msColumn('at')) at!: number
  @Column({ name: 'message_id', type: 'varchar', length: 191, nullable: true }) messageId!: string | null
}

/**
 * One draw round of a lottery (0: the draw, 1…: rerolls) with its full proof. The primary key is the
 * exactly-once fence: whoever inserts the row draws; anyone else (another runtime, a retried tick) sees a
 * duplicate and stops.
 */
@Entity('qy_lottery_draw')
export class LotteryDrawEntity {
  @PrimaryColumn({ name: 'lottery_id', type: 'integer' }) lotteryId!: number
  @PrimaryColumn({ type: 'integer' }) round!: number
  @Column(msColumn('at')) at!: number
  @Column(jsonColumn('proof')) proof!: object
}

/** A winner: unique per lottery and member (never twice), with a claim code unique per lottery. */
@Entity('qy_lottery_winner')
@Index('idx_lottery_winner_status', ['status'])
@Index('uq_lottery_winner_member', ['lotteryId', 'memberId'], { unique: true })
@Index('uq_lottery_winner_code', ['lotteryId', 'claimCode'], { unique: true })
export class LotteryWinnerEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'lottery_id', type: 'integer' }) lotteryId!: number
  @Column({ type: 'integer', default: 0 }) round!: number
  /** Position in the draw order (prizes are handed out in order). */
  @Column({ type: 'integer', default: 0 }) position!: number
  @Column({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ type: 'varchar', length: 255 }) name!: string
  @Column({ type: 'varchar', length: 50 }) prize!: string
  @Column({ name: 'claim_code', type: 'varchar', length: 16 }) claimCode!: string
  /** won | claimed | fulfilled | forfeited */
  @Column({ type: 'varchar', length: 12 }) status!: string
  @Column(msColumn('claimed_at', true)) claimedAt!: number | null
  /** When the "claim your prize" reminder went out (once). */
  @Column(msColumn('reminded_at', true)) remindedAt!: number | null
  @Column(msColumn('at')) at!: number
}

/** Entry confirmations and "already closed" answers held in a batch window (stored before acknowledged; see HeldAnswers). */
@Entity('qy_lottery_answer')
@Index('idx_lottery_answer_at', ['at'])
@Index('idx_lottery_answer_batch', ['batchKey'])
export class LotteryAnswerEntity extends HeldAnswerColumns {}
