import type { Principal } from '../kernel/auth'
import { serviceKey } from '../kernel/feature'
import type { AuditSummary } from '../kernel/routes'

/** One change recorded in the audit log. */
export interface AuditEntry {
  at: number
  principal: Principal | null
  method: string
  route: string
  path: string
  status: number
  requestId: string
  summary: AuditSummary | null
  groupId: string | null
}

/**
 * Who may see what: API tokens, their roles and granted groups, and the audit log — provided by the
 * access feature. The admin API authenticates and audits through it; features ask it which groups an
 * owner holds (a rule never serves a group its owner lost).
 */
export interface AccessService {
  /** The caller a bearer token stands for, or null (malformed, unknown, revoked). */
  authenticate(token: string): Promise<Principal | null>
  /** Records one change made through the API. */
  audit(entry: AuditEntry): Promise<void>
  /** Granted groups of every live (not revoked) token that has some: token id → group ids. */
  grants(): Promise<Map<number, Set<string>>>
  /** Calls `listener` whenever tokens or grants change on any replica; returns a disposer. */
  onChange(listener: () => void): () => void
}

/** The access service (provided by the access feature). */
export const ACCESS = serviceKey<AccessService>('access')
