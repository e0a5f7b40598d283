import type { ZodType } from 'zod'
import type { Logger } from './logger'

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

/** Validated input handed to a route handler. */
export interface RouteInput<P, Q, B> {
  params: P
  query: Q
  body: B
  requestId: string
  log: Logger
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
  /** Reserved for the authorization layer: which role and which group the route touches. */
  access?: { scope: 'public' | 'read' | 'write'; groupParam?: string }
  handler(input: RouteInput<P, Q, B>): Promise<R>
}

/** Keeps a route's type parameters inferred from its schemas while storing it in a plain list. */
export function defineRoute<P, Q, B, R>(route: RouteDefinition<P, Q, B, R>): RouteDefinition {
  return route as unknown as RouteDefinition
}
