import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { jsonColumn, msColumn } from '../../adapters/db/columns'

/** An admin API token: only its SHA-256 hash is stored. */
@Entity('qy_api_token')
export class ApiTokenEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ type: 'varchar', length: 100 }) name!: string
  @Column({ type: 'varchar', length: 16 }) role!: string
  @Index('uq_api_token_hash', { unique: true }) @Column({ name: 'token_hash', type: 'varchar', length: 64 }) tokenHash!: string
  @Column({ type: 'varchar', length: 16 }) hint!: string
  /** Operators (and admins) may see every group; owners never. */
  @Column({ name: 'all_groups', type: 'boolean', default: false }) allGroups!: boolean
  @Column({ name: 'created_by', type: 'varchar', length: 100, nullable: true }) createdBy!: string | null
  @Column(msColumn('created_at')) createdAt!: number
  @Column(msColumn('last_used_at', true)) lastUsedAt!: number | null
  @Column(msColumn('revoked_at', true)) revokedAt!: number | null
}

/** A group granted to a token (owners: the groups they configure; operators: the groups they read). */
@Entity('qy_token_group')
export class TokenGroupEntity {
  @PrimaryColumn({ name: 'token_id', type: 'integer' }) tokenId!: number
  @Index('idx_token_group_group') @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
}

/** One change made through the admin API. Never holds message text or tokens. */
@Entity('qy_audit')
@Index('idx_audit_group_at', ['groupId', 'at'])
export class AuditEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Index('idx_audit_at') @Column(msColumn('at')) at!: number
  @Column({ name: 'token_id', type: 'integer', nullable: true }) tokenId!: number | null
  @Column({ name: 'token_name', type: 'varchar', length: 100, nullable: true }) tokenName!: string | null
  @Column({ type: 'varchar', length: 16 }) role!: string
  @Column({ type: 'varchar', length: 8 }) method!: string
  @Column({ type: 'varchar', length: 200 }) route!: string
  @Column({ type: 'varchar', length: 500 }) path!: string
  @Column({ name: 'group_id', type: 'varchar', length: 191, nullable: true }) groupId!: string | null
  @Column({ type: 'integer', default: 0 }) status!: number
  @Column({ name: 'request_id', type: 'varchar', length: 64 }) requestId!: string
  @Column(jsonColumn('summary', true)) summary!: Record<string, unknown> | null
}
