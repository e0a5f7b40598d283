import { z, type ZodType } from 'zod'
import type { Logger } from './logger'
import type { Principal, RouteAccess } from './auth'

/** A group id in a path, query or body (WeCom room ids contain '@'). */
export const GroupId = z.string().min(1).max(191)
/** Path parameter of every `/groups/:id/…` route. */
export const GroupParams = z.strictObject({ id: GroupId })
/** Path parameters of `/groups/:id/…/members/:memberId` routes. */
export const MemberParams = z.strictObject({ id: GroupId, memberId: z.string().min(1).max(191) })

/** HTTP methods admin routes use. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** One problem with the input: where and what. */
export interface ErrorDetail { path: string; message: string }

/** An error meant for the API client: status, stable code, message, optional details. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly details: ErrorDetail[] = []) {
    super(message)
    this.name = 'HttpError'
  }
}

/** What a change did, for the audit log: ids and summaries, never message text or secrets. */
export interface AuditSummary {
  groupId?: string | null
  target?: string
  before?: unknown
  after?: unknown
}

/** Validated input handed to a route handler. */
export interface RouteInput<P, Q, B> {
  params: P
  query: Q
  body: B
  requestId: string
  log: Logger
  /** The caller (null only on public routes). */
  auth: Principal | null
  /** Describes the change for the audit log (mutating routes); called at most once. */
  audit(summary: AuditSummary): void
}

/**
 * An admin route as plain data: the HTTP adapter mounts it (validation, errors, and — with the API
 * platform — authentication and authorization, which will read `access`). Features never import Koa.
 */
export interface RouteDefinition<P = unknown, Q = unknown, B = unknown, R = unknown> {
  method: HttpMethod
  path: string
  summary: string
  params?: ZodType<P>
  query?: ZodType<Q>
  body?: ZodType<B>
  /** Who may call it; required, so a route cannot be mounted without a declared permission. */
  access: RouteAccess
  /** Schema of a successful response body (for the OpenAPI document). */
  response?: ZodType<R>
  /** Status of a successful response (default 200, POST 201). */
  status?: number
  /** A non-JSON response (e.g. 'text/csv; charset=utf-8'): the handler returns the body as a string. */
  contentType?: string
  /** Largest JSON body this route accepts, in bytes (default: the API's `bodyLimitBytes`), e.g. for base64 uploads. */
  bodyLimit?: number
  /**
   * For routes with `access.owned.param`: the owner of the object the parameters name, or null when there
   * is no such object. The HTTP adapter answers 404 (ownedNotFound) to callers who may not see it.
   */
  findOwned?(params: P): Promise<{ ownerTokenId: number | null } | null>
  /** The path as the audit log records it, when the real one names a person (e.g. a member id → its pseudonym). */
  auditPath?(params: P): string
  handler(input: RouteInput<P, Q, B>): Promise<R>
}

/** Keeps a route's type parameters inferred from its schemas while storing it in a plain list. */
export function defineRoute<P, Q, B, R>(route: RouteDefinition<P, Q, B, R>): RouteDefinition {
  return route as unknown as RouteDefinition
}

/** The one answer for a group that does not exist or is outside the caller's scope (indistinguishable on purpose). */
export function groupNotFound(): HttpError {
  return new HttpError(404, 'not_found', 'no such group')
}

/** The one answer for an owned object that does not exist or belongs to someone else (indistinguishable on purpose). */
export function ownedNotFound(kind: string): HttpError {
  return new HttpError(404, 'not_found', `no such ${kind}`)
}

/** A response body already serialised as JSON (cached reads skip JSON.stringify on every hit). */
export class RawJson {
  constructor(readonly json: string) {}
}

/** The group `id` from `find`, or the 404 every group route answers for a missing (or out-of-scope) group. */
export async function groupOr404<G>(find: (id: string) => Promise<G | null>, id: string): Promise<G> {
  const found = await find(id)
  if (!found) throw groupNotFound()
  return found
}
