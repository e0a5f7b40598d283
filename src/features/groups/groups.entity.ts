import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { jsonColumn, msColumn } from '../../adapters/db/columns'

/** A group (WeCom customer group / wechaty room) the bot is or was in. */
@Entity('qy_group')
export class GroupEntity {
  @PrimaryColumn({ type: 'varchar', length: 191 }) id!: string
  @Index('idx_group_bot') @Column({ name: 'bot_id', type: 'varchar', length: 64 }) botId!: string
  @Column({ type: 'varchar', length: 255 }) name!: string
  @Column({ name: 'owner_id', type: 'varchar', length: 191, nullable: true }) ownerId!: string | null
  @Column({ type: 'varchar', length: 64 }) timezone!: string
  @Column(jsonColumn('labels')) labels!: string[]
  @Column({ name: 'member_count', type: 'int', default: 0 }) memberCount!: number
  @Column({ type: 'boolean', default: true }) active!: boolean
  @Column(msColumn('joined_at')) joinedAt!: number
  @Column(msColumn('left_at', true)) leftAt!: number | null
  @Column(msColumn('updated_at')) updatedAt!: number
}

/** A member of a group (current or past). */
@Entity('qy_member')
@Index('idx_member_group_active', ['groupId', 'active'])
export class MemberEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ name: 'member_id', type: 'varchar', length: 191 }) memberId!: string
  @Column({ type: 'varchar', length: 255 }) name!: string
  @Column({ type: 'varchar', length: 16 }) role!: string
  @Column(msColumn('joined_at', true)) joinedAt!: number | null
  @Column({ name: 'inviter_id', type: 'varchar', length: 191, nullable: true }) inviterId!: string | null
  @Column({ type: 'boolean', default: true }) active!: boolean
  @Column(msColumn('left_at', true)) leftAt!: number | null
}

/** What happened to a group: joins, leaves, renames, the bot added or removed, invitations. */
@Entity('qy_group_event')
@Index('idx_group_event_group_at', ['groupId', 'at'])
@Index('idx_group_event_at', ['at'])
export class GroupEventEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'group_id', type: 'varchar', length: 191, nullable: true }) groupId!: string | null
  @Column({ type: 'varchar', length: 32 }) kind!: string
  @Column({ name: 'member_id', type: 'varchar', length: 191, nullable: true }) memberId!: string | null
  @Column({ name: 'actor_id', type: 'varchar', length: 191, nullable: true }) actorId!: string | null
  @Column(jsonColumn('detail', true)) detail!: Record<string, unknown> | null
  @Column(msColumn('at')) at!: number
}
