import request from 'supertest'
import type { Role } from '../../src/kernel/auth'
import type { Chat } from './chat'

/** A supertest client bound to the chat's admin API, sending a token of the given role. */
export interface ApiClient {
  token: string
  tokenId: number
  get(path: string): request.Test
  post(path: string, body?: unknown): request.Test
  put(path: string, body?: unknown): request.Test
  patch(path: string, body?: unknown): request.Test
  del(path: string): request.Test
  /** Any method, for generated tests. */
  call(method: string, path: string, body?: unknown): request.Test
}

/** Creates a token through the token store and returns a client using it. */
export async function apiAs(chat: Chat, role: Role, opts: { groups?: string[]; allGroups?: boolean; name?: string } = {}): Promise<ApiClient> {
  const { token, view } = await chat.runtime.access.createToken({ name: opts.name ?? `${role}-test`, role, groupIds: opts.groups ?? [], allGroups: opts.allGroups ?? false, createdBy: 'test' })
  return client(chat, token, view.id)
}

/** A client sending `token` (or nothing when null). */
export function client(chat: Chat, token: string | null, tokenId = 0): ApiClient {
  const base = `http://127.0.0.1:${chat.runtime.address?.port}`
  const agent = request(base)
  const auth = (t: request.Test): request.Test => (token ? t.set('Authorization', `Bearer ${token}`) : t)
  const call = (method: string, path: string, body?: unknown): request.Test => {
    const m = method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'
    const t = auth(agent[m](path))
    // Serialised here so any JSON value (numbers, strings, null) can be sent as a body.
    return body === undefined ? t : t.set('Content-Type', 'application/json').send(JSON.stringify(body))
  }
  return {
    token: token ?? '', tokenId,
    get: (p) => call('GET', p), post: (p, b) => call('POST', p, b), put: (p, b) => call('PUT', p, b),
    patch: (p, b) => call('PATCH', p, b), del: (p) => call('DELETE', p), call,
  }
}
