import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import type { PersonalDataDeclaration } from '../../kernel/personal-data'
import { jsonColumn, msColumn } from '../db/columns'

/**
 * A verified, decrypted WeCom callback, stored before WeCom gets its answer and processed afterwards by
 * the channel's inbox worker (which survives restarts). One row per (bot, event key): a callback WeCom
 * delivers twice is stored once.
 */
@Entity('qy_wecom_inbox')
@Index('uq_wecom_inbox_key', ['botId', 'eventKey'], { unique: true })
@Index('idx_wecom_inbox_due', ['botId', 'status', 'dueAt'])
export class WecomInboxEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'bot_id', type: 'varchar', length: 64 }) botId!: string
  /** SHA-256 of the decrypted message's fields (the same change gives the same key). */
  @Column({ name: 'event_key', type: 'varchar', length: 64 }) eventKey!: string
  /** The decrypted message's fields (ids of groups and members; no message text). */
  @Column(jsonColumn('payload')) payload!: Record<string, string | string[]>
  /** pending | done | failed */
  @Column({ type: 'varchar', length: 16 }) status!: string
  @Column({ type: 'integer', default: 0 }) attempts!: number
  @Column({ type: 'varchar', length: 500, nullable: true }) error!: string | null
  @Column(msColumn('received_at')) receivedAt!: number
  /** Not processed before (the pairing grace; retry backoff). */
  @Column(msColumn('due_at')) dueAt!: number
  @Column(msColumn('processed_at', true)) processedAt!: number | null
  @Column({ name: 'claim_owner', type: 'varchar', length: 100, nullable: true }) claimOwner!: string | null
  @Column(msColumn('claim_until', true)) claimUntil!: number | null
}

/**
 * channel both: a WeCom customer-group chat id and the puppet's room id of the same group. The room id
 * is the group's id everywhere (messages come through the puppet); events of the chat id are translated.
 */
@Entity('qy_wecom_group_link')
@Index('uq_wecom_group_link_room', ['botId', 'roomId'], { unique: true })
export class WecomGroupLinkEntity {
  @PrimaryColumn({ name: 'bot_id', type: 'varchar', length: 64 }) botId!: string
  @PrimaryColumn({ name: 'chat_id', type: 'varchar', length: 191 }) chatId!: string
  @Column({ name: 'room_id', type: 'varchar', length: 191 }) roomId!: string
  /** auto (matched by name and member count) | manual (set through the admin API) */
  @Column({ type: 'varchar', length: 16 }) source!: string
  /** Admin API token that set it (manual links). */
  @Column({ name: 'linked_by', type: 'integer', nullable: true }) linkedBy!: number | null
  @Column(msColumn('linked_at')) linkedAt!: number
}

/**
 * channel both: a member's id on the official API (userid / external_userid) and on the puppet, learned
 * in a linked group when exactly one member of the room carries the name WeCom reports.
 */
@Entity('qy_wecom_member_link')
export class WecomMemberLinkEntity {
  @PrimaryColumn({ name: 'bot_id', type: 'varchar', length: 64 }) botId!: string
  @PrimaryColumn({ name: 'official_id', type: 'varchar', length: 191 }) officialId!: string
  @Column({ name: 'puppet_id', type: 'varchar', length: 191 }) puppetId!: string
  @Column(msColumn('linked_at')) linkedAt!: number
}

/** The official API's tables. */
export const WECOM_ENTITIES = [WecomInboxEntity, WecomGroupLinkEntity, WecomMemberLinkEntity]

/**
 * The personal data of the official API's tables: callbacks waiting in the inbox name members (ids, no
 * text), and member links pair a member's official and puppet ids. Group links name no member.
 */
export const WECOM_PERSONAL_DATA: PersonalDataDeclaration = {
  purpose: 'WeCom callbacks kept until processed (and 7 days after), and the pairing of a member\'s official and puppet ids when a bot runs both channels.',
  tables: [
    { entity: WecomInboxEntity, dataClass: 'message-metadata', timeColumn: 'receivedAt', mentionColumns: ['payload'], inFlight: { column: 'status', values: ['pending'] }, onErase: 'delete' },
    { entity: WecomMemberLinkEntity, dataClass: 'profile', agesWith: { table: 'qy_member', on: { puppetId: 'memberId' }, timeColumn: 'leftAt' }, memberColumns: ['puppetId', 'officialId'], onErase: 'delete' },
  ],
}
