/** Who may call the admin API. */
export type Role = 'admin' | 'owner' | 'operator'

/** Every role, most powerful first. */
export const ROLES: readonly Role[] = ['admin', 'owner', 'operator']

/** The groups a caller may see: all of them, or a granted set. */
export interface GroupScope {
  readonly all: boolean
  readonly groupIds: ReadonlySet<string>
  /** Whether `groupId` is inside the scope. */
  has(groupId: string): boolean
}

/** An authenticated caller. */
export interface Principal {
  tokenId: number
  name: string
  role: Role
  scope: GroupScope
}

/** Builds a scope from a token's grants. */
export function groupScope(all: boolean, groupIds: Iterable<string>): GroupScope {
  const ids = new Set(groupIds)
  return { all, groupIds: ids, has: (groupId) => all || ids.has(groupId) }
}

/** What a route needs: declared on every route; one middleware enforces it. */
export interface RouteAccess {
  /** Roles that may call it, or 'public' (no token: health, docs, OpenAPI). */
  roles: readonly Role[] | 'public'
  /** Path parameter holding the group id the route touches: callers outside that group get 404. */
  groupParam?: string
  /** Whether it changes state: audited, and never allowed to operators. */
  mutates: boolean
  /** Sensitive operations (token creation) get a much stricter per-caller rate limit. */
  strict?: boolean
}
