import type { GroupScope, Principal, Role } from '../kernel/auth'
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
  /** Creates a token (the CLI, rehearsals and tests bootstrap with it); the secret is returned once. */
  createToken(input: { name: string; role: Role; groupIds: string[]; allGroups: boolean; createdBy: string | null }): Promise<{ token: string; view: { id: number } }>
  /**
   * The group scope of every live (not revoked) token, by token id — current within a few seconds
   * (dropped on every replica when a token or grant changes, re-read periodically for changes that send
   * no notice, such as the CLI without shared Redis).
   */
  scopes(): Promise<TokenScopes>
}

/** The group scope of every live token, by token id. */
export type TokenScopes = ReadonlyMap<number, GroupScope>

/**
 * Whether an object owned by `ownerTokenId` serves `groupId`: admin-created objects (no owner) serve every
 * group; others only groups their owner can see now (a revoked token or a lost grant retires them there).
 */
export function servesGroup(scopes: TokenScopes, ownerTokenId: number | null, groupId: string): boolean {
  return ownerTokenId === null || scopes.get(ownerTokenId)?.has(groupId) === true
}

/** The access service (provided by the access feature). */
export const ACCESS = serviceKey<AccessService>('access')
