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
  /** The owner-owned objects (word lists, auto-reply rules …) the route touches; see OwnedAccess. */
  owned?: OwnedAccess
  /** Whether it changes state: audited, and never allowed to operators. */
  mutates: boolean
  /** Sensitive operations (token creation) get a much stricter per-caller rate limit. */
  strict?: boolean
}

/**
 * Owner-owned objects a route touches. With `param`, that path parameter names one object: callers who
 * may not see it get 404, exactly like an id that does not exist. Without it, the route lists objects of
 * this kind, and shows only the ones the caller may see.
 */
export interface OwnedAccess {
  /** What is owned, as error messages and tests name it ("word list", "auto-reply rule"). */
  kind: string
  param?: string
}

/**
 * Whether `principal` may see an object owned by `ownerTokenId`: admins (and the system, without a
 * principal) see every object; owners only the ones their token created. A null owner marks an object
 * created by an admin: global, and visible to admins only.
 */
export function canSeeOwned(principal: Principal | null, ownerTokenId: number | null): boolean {
  return !principal || principal.role === 'admin' || (ownerTokenId !== null && ownerTokenId === principal.tokenId)
}

/** The owner recorded on an object the caller creates: its own token for owners, none (global) for admins and the system. */
export function ownerFor(principal: Principal | null): number | null {
  return principal && principal.role !== 'admin' ? principal.tokenId : null
}
