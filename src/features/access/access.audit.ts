import { createHash } from 'node:crypto'
import type { FeatureTables } from '../../adapters/db/feature-store'
import type { GroupScope, Principal } from '../../kernel/auth'
import type { AuditSummary } from '../../kernel/routes'
import { AuditEntity } from './access.entity'

/** An audit entry as the API shows it. */
export interface AuditView {
  id: number
  at: string
  tokenId: number | null
  tokenName: string | null
  role: string
  method: string
  route: string
  path: string
  groupId: string | null
  status: number
  requestId: string
  summary: Record<string, unknown> | null
}

/** Filters of the audit log listing. */
export interface AuditFilter {
  scope: GroupScope
  groupId?: string
  tokenId?: number
  route?: string
  since?: number
  until?: number
  beforeId?: number
  limit: number
}

/** A short, stable fingerprint of a value (so before/after can be compared without storing them). */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value ?? null)).digest('hex').slice(0, 16)
}

/** Keys whose values never enter the audit log. */
const SECRET_KEYS = /token|secret|password|text|content/i

/** Keeps a summary small and free of secrets and message text: top-level keys; secret-ish values replaced by a fingerprint. */
export function redact(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null
  if (typeof value !== 'object') return typeof value === 'string' && value.length > 200 ? `${value.slice(0, 200)}…` : value
  if (Array.isArray(value)) return value.length > 20 ? { items: value.length, sha256: fingerprint(value) } : value.map(redact)
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_KEYS.test(key) ? { sha256: fingerprint(v) } : (typeof v === 'object' && v !== null ? { sha256: fingerprint(v) } : redact(v))
  }
  return out
}

/** The append-only audit log of changes made through the admin API. */
export class AuditLog {
  constructor(private readonly store: FeatureTables) {}

  /** Appends one entry. */
  async append(entry: { at: number; principal: Principal | null; method: string; route: string; path: string; status: number; requestId: string; summary: AuditSummary | null; groupId: string | null }): Promise<void> {
    const s = entry.summary
    const row: Omit<AuditEntity, 'id'> = {
      at: entry.at, tokenId: entry.principal?.tokenId ?? null, tokenName: entry.principal?.name ?? null, role: entry.principal?.role ?? 'anonymous',
      method: entry.method, route: entry.route.slice(0, 200), path: entry.path.slice(0, 500), groupId: s?.groupId ?? entry.groupId,
      status: entry.status, requestId: entry.requestId,
      summary: s ? {
        target: s.target ?? null,
        before: s.before === undefined ? null : redact(s.before),
        after: s.after === undefined ? null : redact(s.after),
        beforeSha256: s.before === undefined ? null : fingerprint(s.before),
        afterSha256: s.after === undefined ? null : fingerprint(s.after),
      } : null,
    }
    // TypeORM's deep-partial insert type does not accept an `unknown`-valued JSON column; the row is complete.
    await this.store.repo(AuditEntity).insert(row as Parameters<ReturnType<FeatureTables['repo']>['insert']>[0])
  }

  /** Entries newest first, filtered by the caller's scope (owners: only their groups' entries). */
  async list(filter: AuditFilter): Promise<AuditView[]> {
    const qb = this.store.repo(AuditEntity).createQueryBuilder('a').orderBy('a.id', 'DESC').take(filter.limit)
    if (!filter.scope.all) {
      const ids = [...filter.scope.groupIds]
      if (ids.length === 0) return []
      qb.andWhere('a.group_id IN (:...ids)', { ids })
    }
    if (filter.groupId !== undefined) qb.andWhere('a.group_id = :g', { g: filter.groupId })
    if (filter.tokenId !== undefined) qb.andWhere('a.token_id = :t', { t: filter.tokenId })
    if (filter.route !== undefined) qb.andWhere('a.route = :r', { r: filter.route })
    if (filter.since !== undefined) qb.andWhere('a.at >= :since', { since: filter.since })
    if (filter.until !== undefined) qb.andWhere('a.at < :until', { until: filter.until })
    if (filter.beforeId !== undefined) qb.andWhere('a.id < :before', { before: filter.beforeId })
    const rows = await qb.getMany()
    return rows.map((r) => ({
      id: r.id, at: new Date(r.at).toISOString(), tokenId: r.tokenId, tokenName: r.tokenName, role: r.role, method: r.method,
      route: r.route, path: r.path, groupId: r.groupId, status: r.status, requestId: r.requestId, summary: r.summary,
    }))
  }
}
