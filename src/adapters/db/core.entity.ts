import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm'
import { jsonColumn, msColumn } from './columns'
import type { PersonalDataDeclaration } from '../../kernel/personal-data'

/** A processed message id, kept until it expires, so dedupe survives a restart of the embedded runtime. */
@Entity('qy_seen_message')
export class SeenMessageEntity {
  @PrimaryColumn({ type: 'varchar', length: 191 }) id!: string
  @Index('idx_seen_expires') @Column(msColumn('expires_at')) expiresAt!: number
}

/** One action of the outbound queue and its outcome (pending rows are resumed after a restart). */
@Entity('qy_outbound')
@Index('idx_outbound_bot_status', ['botId', 'status'])
@Index('idx_outbound_claim', ['claimOwner', 'status'])
@Index('idx_outbound_queued', ['queuedAt'])
@Index('uq_outbound_key', ['actionKey'], { unique: true })
export class OutboundEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'bot_id', type: 'varchar', length: 64 }) botId!: string
  @Column({ name: 'group_id', type: 'varchar', length: 191, nullable: true }) groupId!: string | null
  @Column({ type: 'varchar', length: 32 }) kind!: string
  @Column(jsonColumn('payload')) payload!: unknown
  /** pending | sent | failed | expired (waited longer than its kind allows; not sent). */
  @Column({ type: 'varchar', length: 16 }) status!: string
  @Column({ type: 'int', default: 0 }) attempts!: number
  @Column({ type: 'varchar', length: 500, nullable: true }) error!: string | null
  @Column(msColumn('queued_at')) queuedAt!: number
  @Column(msColumn('finished_at', true)) finishedAt!: number | null
  /** Replica performing it (several replicas); null = unclaimed, free for the bot's holder. */
  @Column({ name: 'claim_owner', type: 'varchar', length: 100, nullable: true }) claimOwner!: string | null
  /** Until when the claim stands (ms); an expired claim is taken over. */
  @Column(msColumn('claim_until', true)) claimUntil!: number | null
  /** The action's unique key (null: none); a second action with the same key is never stored. */
  @Column({ name: 'action_key', type: 'varchar', length: 191, nullable: true }) actionKey!: string | null
}

/** Fence for scheduled jobs: one row per (job, fire time), so replicas run each tick once. */
@Entity('qy_job_run')
export class JobRunEntity {
  @PrimaryColumn({ type: 'varchar', length: 100 }) job!: string
  @PrimaryColumn({ name: 'fire_time', type: 'bigint' }) fireTime!: string
  @Column({ type: 'varchar', length: 100 }) owner!: string
  @Column({ type: 'varchar', length: 16 }) status!: string
  @Column(msColumn('started_at')) startedAt!: number
  @Column(msColumn('finished_at', true)) finishedAt!: number | null
  @Column({ type: 'varchar', length: 500, nullable: true }) error!: string | null
}

/** A group's rule slice for one feature, overriding the bot's rule pack. */
@Entity('qy_group_rule')
export class GroupRuleEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 64 }) feature!: string
  @Column(jsonColumn('value')) value!: unknown
  @Column({ type: 'int', default: 0 }) version!: number
  @Column(msColumn('updated_at')) updatedAt!: number
}

/** Every version of a group's rule slice for one feature: who changed it, why and when (history, diff, rollback). */
@Entity('qy_rule_version')
export class RuleVersionEntity {
  @PrimaryColumn({ name: 'group_id', type: 'varchar', length: 191 }) groupId!: string
  @PrimaryColumn({ type: 'varchar', length: 64 }) feature!: string
  @PrimaryColumn({ type: 'integer' }) version!: number
  @Column(jsonColumn('value')) value!: unknown
  @Column({ type: 'varchar', length: 100, nullable: true }) author!: string | null
  @Column({ type: 'varchar', length: 200, nullable: true }) note!: string | null
  @Column(msColumn('at')) at!: number
}

/**
 * An owner's retention for one data class, in days (issue 19). Two levels: what an admin set for the owner
 * (at most the deployment's maximum) and what the owner set (at most the admin's value, or the maximum).
 */
@Entity('qy_retention_policy')
export class RetentionPolicyEntity {
  @PrimaryColumn({ name: 'owner_token_id', type: 'integer' }) ownerTokenId!: number
  @PrimaryColumn({ name: 'data_class', type: 'varchar', length: 32 }) dataClass!: string
  /** admin | owner */
  @PrimaryColumn({ type: 'varchar', length: 8 }) level!: string
  @Column({ type: 'int' }) days!: number
  @Column(msColumn('updated_at')) updatedAt!: number
  /** Token id of who set it. */
  @Column({ name: 'updated_by', type: 'integer', nullable: true }) updatedBy!: number | null
}

/** One purge of a data class: when, how it was started, rows deleted / cleared per table (counts only). */
@Entity('qy_retention_run')
@Index('idx_retention_run_class', ['dataClass', 'startedAt'])
export class RetentionRunEntity {
  @PrimaryGeneratedColumn({ type: 'integer' }) id!: number
  @Column({ name: 'data_class', type: 'varchar', length: 32 }) dataClass!: string
  /** What started it: schedule | cli | api */
  @Column({ type: 'varchar', length: 16 }) source!: string
  @Column({ name: 'dry_run', type: 'boolean', default: false }) dryRun!: boolean
  /** done | failed */
  @Column({ type: 'varchar', length: 16 }) status!: string
  @Column({ type: 'int', default: 0 }) deleted!: number
  @Column({ type: 'int', default: 0 }) cleared!: number
  @Column({ type: 'int', default: 0 }) batches!: number
  /** Per table: `{ table, deleted, cleared }` (counts only). */
  @Column(jsonColumn('detail')) detail!: unknown
  @Column({ type: 'varchar', length: 500, nullable: true }) error!: string | null
  @Column(msColumn('started_at')) startedAt!: number
  @Column(msColumn('finished_at')) finishedAt!: number
}

/** A secret of the deployment generated at first start (e.g. `pseudonym-key`), the same for every replica. */
@Entity('qy_deployment_secret')
export class DeploymentSecretEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 }) name!: string
  @Column({ type: 'varchar', length: 128 }) value!: string
  @Column(msColumn('created_at')) createdAt!: number
}

/** Tables of the core (features declare their own). */
export const CORE_ENTITIES = [SeenMessageEntity, OutboundEntity, JobRunEntity, GroupRuleEntity, RuleVersionEntity, DeploymentSecretEntity, RetentionPolicyEntity, RetentionRunEntity]

/**
 * The personal data of the core tables (features declare their own in their definitions). Processed
 * message ids (`qy_seen_message`) and job fences hold no member data.
 */
export const CORE_PERSONAL_DATA: PersonalDataDeclaration = {
  purpose: 'The outbound queue (replies, mentions, removals and their outcome) and group rule settings with their history, which may name a member (exemptions).',
  tables: [
    // An action names a member in `memberId` (remove, add, tag) or `mentions` (say) only; pending ones are sent first.
    { entity: OutboundEntity, dataClass: 'delivery-logs', timeColumn: 'queuedAt', mentionColumns: ['payload', 'error'], mentionKeys: ['memberId', 'mentions'], inFlight: { column: 'status', values: ['pending'] }, groupColumn: 'groupId', onErase: 'delete' },
    // Current rule values are rewritten by the rules store's erasure hook (its one write path: a new version by
    // "erasure", validated, every replica's cache dropped), not here; past versions below are history.
    { entity: GroupRuleEntity, dataClass: 'profile', kept: "the group's current rules (their history is the audit log)", groupColumn: 'groupId', onErase: 'pseudonymise' },
    { entity: RuleVersionEntity, dataClass: 'audit-log', timeColumn: 'at', mentionColumns: ['value', 'note'], groupColumn: 'groupId', onErase: 'pseudonymise' },
  ],
}
