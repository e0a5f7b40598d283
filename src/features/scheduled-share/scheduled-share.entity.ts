import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { jsonColumn, msColumn } from '../../adapters/db/columns'

/** A post of an owner's content library (text template, optional image and link card, tags, expiry). */
@Entity('qy_share_post')
@Index('idx_share_post_owner', ['ownerTokenId'])
export class SharePostEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  /** Token that owns the post; null for posts created by admins. */
  @Column({ name: 'owner_token_id', type: 'integer', nullable: true }) ownerTokenId!: number | null
  @Column({ type: 'varchar', length: 100 }) title!: string
  @Column({ type: 'text' }) text!: string
  @Column({ name: 'image_url', type: 'varchar', length: 1000, nullable: true }) imageUrl!: string | null
  /** An uploaded image of the owner (qy_share_image), sent instead of a URL. */
  @Column({ name: 'image_id', type: 'integer', nullable: true }) imageId!: number | null
  @Column(jsonColumn('card', true)) card!: { url: string; title: string; description?: string; thumbnailUrl?: string } | null
  @Column(jsonColumn('tags')) tags!: string[]
  @Column({ name: 'expires_on', type: 'varchar', length: 10, nullable: true }) expiresOn!: string | null
  @Column(msColumn('created_at')) createdAt!: number
  @Column(msColumn('updated_at')) updatedAt!: number
}

/** A schedule: when (trigger), where (target), what (content), and its sending policy. */
@Entity('qy_share_schedule')
@Index('idx_share_schedule_owner', ['ownerTokenId'])
export class ShareScheduleEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'owner_token_id', type: 'integer', nullable: true }) ownerTokenId!: number | null
  @Column({ type: 'varchar', length: 100 }) name!: string
  /** false = paused. */
  @Column({ type: 'boolean', default: true }) enabled!: boolean
  @Column(jsonColumn('trigger_def')) trigger!: object
  @Column({ type: 'varchar', length: 64, nullable: true }) timezone!: string | null
  @Column(jsonColumn('target')) target!: object
  @Column(jsonColumn('content')) content!: object
  @Column({ name: 'no_repeat_days', type: 'integer', default: 0 }) noRepeatDays!: number
  @Column({ name: 'stagger_seconds', type: 'integer', default: 300 }) staggerSeconds!: number
  @Column({ name: 'grace_minutes', type: 'integer', default: 10 }) graceMinutes!: number
  /** Fire times up to here have been considered (planned, skipped or recorded as missed). */
  @Column(msColumn('cursor_at')) cursorAt!: number
  @Column({ type: 'integer', default: 1 }) version!: number
  @Column(msColumn('created_at')) createdAt!: number
  @Column(msColumn('updated_at')) updatedAt!: number
}

/**
 * One send: a (schedule, group, fire time) — unique, so replicas and restarts never post twice — and its
 * delivery state: planned (waiting for its stagger slot) → queued (handed to the outbound queue) → sent /
 * failed; or skipped (quiet hours, calendar, group gone …) / missed (older than the grace window).
 * Test sends use a `test:` fire key.
 */
@Entity('qy_share_send')
@Index('uq_share_send_run', ['scheduleId', 'groupId', 'fireKey'], { unique: true })
@Index('idx_share_send_due', ['status', 'slotAt'])
@Index('idx_share_send_group_post', ['groupId', 'postId'])
@Index('idx_share_send_schedule', ['scheduleId', 'id'])
export class ShareSendEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'schedule_id', type: 'integer' }) scheduleId!: number
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @Column({ name: 'bot_id', type: 'varchar', length: 191, nullable: true }) botId!: string | null
  /** The fire time as a local minute "YYYY-MM-DDTHH:mm" of the timezone used (one per DST fall-back). */
  @Column({ name: 'fire_key', type: 'varchar', length: 40 }) fireKey!: string
  @Column({ name: 'timezone', type: 'varchar', length: 64 }) timezone!: string
  @Column(msColumn('fire_at')) fireAt!: number
  /** When it may be queued (fire time + its stagger offset, or the end of quiet hours). */
  @Column(msColumn('slot_at')) slotAt!: number
  @Column({ name: 'post_id', type: 'integer', nullable: true }) postId!: number | null
  @Column({ type: 'varchar', length: 16 }) status!: string
  /** Why it was skipped, missed, deferred or failed (a code, never message text). */
  @Column({ type: 'varchar', length: 200, nullable: true }) reason!: string | null
  @Column(msColumn('created_at')) createdAt!: number
  @Column(msColumn('queued_at', true)) queuedAt!: number | null
  @Column(msColumn('finished_at', true)) finishedAt!: number | null
}

/**
 * Engagement observed after a send: messages in its group in the 30 minutes after the post ('post'), or
 * after the fire time of a run that posted nothing there ('baseline'). One row per send.
 */
@Entity('qy_share_window')
@Index('idx_share_window_schedule', ['scheduleId'])
@Index('idx_share_window_end', ['endAt'])
export class ShareWindowEntity {
  @PrimaryColumn({ name: 'send_id', type: 'integer' }) sendId!: number
  @Column({ name: 'schedule_id', type: 'integer' }) scheduleId!: number
  @Column({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  /** 'post' or 'baseline'. */
  @Column({ type: 'varchar', length: 8 }) kind!: string
  @Column(msColumn('start_at')) startAt!: number
  @Column(msColumn('end_at')) endAt!: number
  @Column({ type: 'integer', default: 0 }) messages!: number
}

/** Distinct members who spoke in a window (one row each). */
@Entity('qy_share_window_member')
export class ShareWindowMemberEntity {
  @PrimaryColumn({ name: 'send_id', type: 'integer' }) sendId!: number
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
}

/** An image uploaded to an owner's content library; unique per owner and content (sha256): re-uploads return it. */
@Entity('qy_share_image')
@Index('uq_share_image_owner_sha', ['ownerKey', 'sha256'], { unique: true })
export class ShareImageEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'owner_token_id', type: 'integer', nullable: true }) ownerTokenId!: number | null
  /** `t:<tokenId>`, or `admin` for admins' uploads (a unique key cannot use a NULL owner). */
  @Column({ name: 'owner_key', type: 'varchar', length: 32 }) ownerKey!: string
  @Column({ type: 'varchar', length: 64 }) sha256!: string
  /** The owner's label for it (lists show it); the first upload's label stays on re-uploads. */
  @Column({ type: 'varchar', length: 100, nullable: true }) name!: string | null
  @Column({ type: 'varchar', length: 16 }) mime!: string
  @Column({ type: 'integer' }) bytes!: number
  @Column({ type: 'integer' }) width!: number
  @Column({ type: 'integer' }) height!: number
  @Column({ type: 'integer' }) chunks!: number
  @Column(msColumn('created_at')) createdAt!: number
}

/** The bytes of an uploaded image, in chunks of at most 48 KiB (a portable BLOB on SQLite and MySQL). */
@Entity('qy_share_image_chunk')
export class ShareImageChunkEntity {
  @PrimaryColumn({ name: 'image_id', type: 'integer' }) imageId!: number
  @PrimaryColumn({ type: 'integer' }) seq!: number
  @Column({ type: 'blob' }) data!: Buffer
}
