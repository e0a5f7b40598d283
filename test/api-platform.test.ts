import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { PNG } from 'pngjs'
import { z } from 'zod'
import { Chat } from './support/chat'
import { apiAs, client, type ApiClient } from './support/api'
import { cleanup, COORDINATION, silentLogger, STORAGE } from './support/env'
import { G1, G2, TWO_OWNERS as GROUPS } from './support/groups'
import { assertDeclaredAccess, createHttpApp } from '../src/adapters/http/app'
import { defineRoute, type RouteDefinition } from '../src/kernel/routes'
import { openApiPath } from '../src/adapters/http/openapi'
import { createMemoryPorts } from '../src/ports/memory'
import { systemClock } from '../src/ports/clock'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const GENEROUS = { perMinute: 600_000, burst: 100_000 }

/** A fingerprint of every table: "changes nothing" means this is equal before and after. */
async function fingerprint(chat: Chat): Promise<string> {
  // Features buffer writes (activity counters, stats rollups) until a flush: land them first, so a change
  // a request caused shows up here and a message an earlier fixture sent cannot look like one.
  await chat.runtime.flush()
  const hash = createHash('sha256')
  for (const table of chat.runtime.db.entityMetadatas.map((m) => m.tableName).sort()) {
    const rows: Array<Record<string, unknown>> = await chat.runtime.db.query(`SELECT * FROM ${table}`)
    // Last-used times move on every authenticated call by design; they are not a change made by the caller.
    const clean = rows.map((r) => { const { last_used_at: _ignored, ...rest } = r; return rest })
    hash.update(table).update(JSON.stringify(clean.map((r) => JSON.stringify(r)).sort()))
  }
  return hash.digest('hex')
}

/** A lottery definition in G1 titled `title`. */
function lottery(title: string): Record<string, unknown> {
  return { title, groupIds: [G1], prizes: [{ name: '书', quantity: 1 }], times: { closesAt: '2030-01-01T12:00:00+08:00', drawAt: '2030-01-01T13:00:00+08:00' } }
}

/** A 1×1 PNG (uploads). */
const TINY_PNG = PNG.sync.write(new PNG({ width: 1, height: 1 }))

/** A valid body for routes that take one (so positive controls reach the handler). */
const SAMPLE_BODIES: Record<string, unknown> = {
  'PATCH /api/v1/groups/:id': { labels: ['VIP'] },
  // The one rules path, mounted per feature with the feature's own schema as the body.
  'PUT /api/v1/groups/:id/rules/activity': { logText: true },
  'PUT /api/v1/groups/:id/rules/moderation': { enabled: true },
  'PUT /api/v1/groups/:id/rules/check-in': { enabled: true },
  'PUT /api/v1/groups/:id/rules/auto-reply': { enabled: true },
  'PUT /api/v1/groups/:id/rules/lottery': { enabled: true },
  ...Object.fromEntries(['activity', 'moderation', 'check-in', 'auto-reply', 'tagging', 'lottery', 'stats', 'scheduled-share'].map((f) => [`POST /api/v1/groups/:id/rules/${f}/rollback`, { version: 1 }])),
  'PUT /api/v1/groups/:id/rules/stats': { record: true },
  'PUT /api/v1/groups/:id/rules/scheduled-share': { enabled: true },
  'POST /api/v1/groups/:id/rules/moderation/dry-run': { text: '加微信' },
  'POST /api/v1/tokens': { name: 'matrix', role: 'operator' },
  'PUT /api/v1/retention/policy': { 'message-text': 20 },
  'PUT /api/v1/retention-policies/:tokenId': { 'message-text': 20 },
  'POST /api/v1/retention/runs': { class: 'message-text', dryRun: true },
  'PUT /api/v1/tokens/:tokenId/groups': { groupIds: [G1] },
  'POST /api/v1/groups/:id/check-ins/members/:memberId/adjustments': { delta: 5, reason: 'matrix' },
  'POST /api/v1/groups/:id/auto-reply/dry-run': { text: '价格多少' },
  'POST /api/v1/auto-replies': { name: 'matrix', trigger: { type: 'contains', keywords: ['价格'] }, answer: { variants: [{ text: '99' }] } },
  'PUT /api/v1/auto-replies/:ruleId': { name: 'matrix', trigger: { type: 'contains', keywords: ['价格'] }, answer: { variants: [{ text: '99' }] } },
  'PATCH /api/v1/auto-replies/:ruleId': { enabled: false },
  'POST /api/v1/auto-replies/reorder': { ruleIds: [1] },
  'POST /api/v1/auto-replies/import': { csv: 'keywords,match,answer\n价格,contains,99' },
  'PUT /api/v1/groups/:id/moderation': { rules: { enabled: true } },
  'POST /api/v1/groups/:id/moderation/rollback': { version: 1 },
  'POST /api/v1/groups/:id/moderation/dry-run': { text: '加微信' },
  'PUT /api/v1/groups/:id/moderation/word-lists': { lists: ['file:ads'] },
  'POST /api/v1/word-lists': { name: 'matrix', text: '词' },
  'PUT /api/v1/word-lists/:listId': { text: '词' },
  'PUT /api/v1/groups/:id/rules/tagging': { enabled: true },
  'POST /api/v1/groups/:id/rules/tagging/dry-run': { tagRule: { id: 'matrix', tag: '铁粉', when: { scoreMin: 1 } } },
  'POST /api/v1/groups/:id/tagging/members/:memberId/tags': { tag: 'VIP' },
  // A cleanup confirmed for member "x" of G1 (not eligible: nothing is removed).
  'POST /api/v1/groups/:id/tagging/cleanup': { memberIds: ['x'], confirmation: createHash('sha256').update(JSON.stringify([G1, ['x']])).digest('hex') },
  'POST /api/v1/lotteries': lottery('matrix'),
  'PUT /api/v1/lotteries/:lotteryId': lottery('matrix'),
  'POST /api/v1/lotteries/dry-run': { today: '2026-11-23', members: [{ id: 'bob' }] },
  // The 'drawn lottery' fixture's only entrant, and so its winner, is bob.
  'POST /api/v1/lotteries/:lotteryId/reroll': { memberIds: ['bob'] },
  'POST /api/v1/lotteries/:lotteryId/claims': { memberId: 'bob' },
  'POST /api/v1/share-posts': { title: 'matrix', text: '早安 {group}' },
  'PUT /api/v1/share-posts/:postId': { title: 'matrix', text: '早安 {group}' },
  'POST /api/v1/share-schedules': { name: 'matrix', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'all' }, content: { type: 'tag', tag: '早安' } },
  'PUT /api/v1/share-schedules/:scheduleId': { name: 'matrix', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'all' }, content: { type: 'tag', tag: '早安' } },
  'PATCH /api/v1/share-schedules/:scheduleId': { enabled: false },
  'POST /api/v1/share-schedules/:scheduleId/test-send': { groupId: G1 },
  'POST /api/v1/share-images': { mime: 'image/png', name: 'matrix', data: TINY_PNG.toString('base64') },
}

/** Query strings routes need to succeed (positive controls). */
const SAMPLE_QUERIES: Record<string, string> = {
  'GET /api/v1/groups/:id/moderation/diff': '?from=0&to=0',
  ...Object.fromEntries(['activity', 'moderation', 'check-in', 'auto-reply', 'tagging', 'lottery', 'stats', 'scheduled-share'].map((f) => [`GET /api/v1/groups/:id/rules/${f}/diff`, '?from=0&to=0'])),
}

/**
 * How to create one owner-owned object of each kind as `who`, with `marker` in everything lists show of
 * it; returns the value of its path parameter. A route declaring a new kind (`access.owned`) fails the
 * matrix until its fixture is added here.
 */
const OWNED_FIXTURES: Record<string, (who: ApiClient, marker: string) => Promise<string>> = {
  'word list': async (who, marker) => {
    const res = await who.post('/api/v1/word-lists', { name: marker, text: `${marker}\n` }).expect(201)
    return String(res.body.id).replace(/^list:/, '')
  },
  lottery: async (who, marker) => {
    const res = await who.post('/api/v1/lotteries', lottery(marker)).expect(201)
    return String(res.body.id)
  },
  // Reroll and claims need a drawn lottery: opened, entered by bob in g1, drawn by the job (1 entry draws).
  'drawn lottery': async (who, marker) => {
    const chat = matrixChat as Chat
    const res = await who.post('/api/v1/lotteries', { ...lottery(marker), entry: { keyword: marker }, times: { drawWhenEntries: 1 } }).expect(201)
    await who.post(`/api/v1/lotteries/${String(res.body.id)}/open`).expect(200)
    await chat.group('g1').say({ id: 'bob', name: '阿强' }, marker)
    await chat.runtime.scheduler.runFenced('lottery.tick', new Date(Date.UTC(2030, 0, 1) + 60_000 * drawnFixtures++))
    // Its announcements settle in the outbound queue before the matrix fingerprints the database.
    await chat.rehearsal.quiesce()
    return String(res.body.id)
  },
  'auto-reply rule': async (who, marker) => {
    const res = await who.post('/api/v1/auto-replies', { name: marker, trigger: { type: 'contains', keywords: [marker] }, answer: { variants: [{ text: marker }] } }).expect(201)
    return String(res.body.id)
  },
  'share post': async (who, marker) => {
    const res = await who.post('/api/v1/share-posts', { title: marker, text: marker }).expect(201)
    return String(res.body.id)
  },
  // Bytes after the PNG's end make each fixture a distinct image (uploads are deduplicated by content).
  'share image': async (who, marker) => {
    const res = await who.post('/api/v1/share-images', { mime: 'image/png', name: marker, data: Buffer.concat([TINY_PNG, Buffer.from(marker)]).toString('base64') }).expect(201)
    return String(res.body.id)
  },
  'share schedule': async (who, marker) => {
    const post = await who.post('/api/v1/share-posts', { title: marker, text: marker }).expect(201)
    const res = await who.post('/api/v1/share-schedules', { name: marker, trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'all' }, content: { type: 'post', postId: post.body.id } }).expect(201)
    return String(res.body.id)
  },
}

/** The matrix's runtime (the 'drawn lottery' fixture speaks in its group and runs its lottery job). */
let matrixChat: Chat | undefined
let drawnFixtures = 0

/** Path parameters that name no owned object (each says why); any other parameter must be declared in `access`. */
const UNOWNED_PARAMS: Record<string, string> = {
  feature: 'a feature name (the rules inside belong to the group in the path)',
  memberId: 'a member of the group in the path',
  tag: 'a tag of the member in the path',
  tokenId: 'a token (admin-only routes)',
  eventId: 'a moderation event of the group in the path',
}

/** A real moderation event of G1 (made in the matrix's setup), for routes naming one. */
let moderationEventId = 'x'

/** Asserts `other` is a 404 that reads exactly like the answers for things that do not exist (apart from the request id). */
function expectLikeMissing(name: string, other: Answer, ...missing: Answer[]): void {
  const strip = (b: Answer['body']) => ({ ...b.error, requestId: undefined })
  for (const res of [other, ...missing]) expect({ name, status: res.status }).toEqual({ name, status: 404 })
  for (const res of missing) expect(strip(other.body)).toEqual(strip(res.body))
}

/** The part of a response the checks read. */
interface Answer { status: number; body: { error: Record<string, unknown> } }

/** An id no object has (valid for every owned-id schema). */
const MISSING_ID = '2000000000'

function fill(route: RouteDefinition, groupId: string, tokenId: number): string {
  return fillPath(route, groupId, tokenId) + (SAMPLE_QUERIES[`${route.method} ${route.path}`] ?? '')
}

function fillPath(route: RouteDefinition, groupId: string, tokenId: number, ownedId = 'x'): string {
  return route.path
    .replace(`:${route.access.groupParam ?? '__none__'}`, encodeURIComponent(groupId))
    .replace(`:${route.access.owned?.param ?? '__none__'}`, ownedId)
    .replace(':feature', 'activity')
    .replace(':tokenId', String(tokenId))
    .replace(':eventId', moderationEventId)
    .replace(/:([A-Za-z]+)/g, 'x')
}

describe(`authorization matrix generated from the router (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let admin: ApiClient
  let ownerA: ApiClient
  let operator: ApiClient
  let scopedOperator: ApiClient
  let victimTokenId: number
  let routes: RouteDefinition[]

  beforeAll(async () => {
    chat = await Chat.start({ http: true, groups: GROUPS, configOverrides: { api: { rateLimits: { perToken: GENEROUS, perIp: GENEROUS, failedAuthPerIp: GENEROUS, tokenCreation: GENEROUS } } } })
    admin = await apiAs(chat, 'admin')
    ownerA = await apiAs(chat, 'owner', { groups: [G1] })
    operator = await apiAs(chat, 'operator', { allGroups: true })
    scopedOperator = await apiAs(chat, 'operator', { groups: [G1] })
    victimTokenId = (await apiAs(chat, 'owner', { groups: [G2], name: 'owner-b' })).tokenId
    routes = chat.runtime.routes
    matrixChat = chat
    // One real moderation event in G1, so routes naming an event reach their handler.
    await admin.put(`/api/v1/groups/${encodeURIComponent(G1)}/moderation`, { rules: { enabled: true, words: { add: ['矩阵违规词'] } } }).expect(200)
    await chat.group('g1').say('bob', '矩阵违规词')
    await admin.put(`/api/v1/groups/${encodeURIComponent(G1)}/moderation`, { rules: { enabled: false } }).expect(200)
    const events = await admin.get(`/api/v1/groups/${encodeURIComponent(G1)}/moderation/events`).expect(200)
    moderationEventId = String((events.body as { items: Array<{ id: number }> }).items[0]?.id)
  })
  afterAll(async () => { await chat?.close() })

  it('covers every mounted route, each with a declared permission', () => {
    expect(routes.length).toBeGreaterThanOrEqual(12)
    for (const route of routes) expect(() => assertDeclaredAccess(route)).not.toThrow()
  })

  it('refuses to mount a route without a declared permission', () => {
    const undeclared = { method: 'GET', path: '/api/v1/oops', summary: 'no access', handler: async () => ({}) } as unknown as RouteDefinition
    expect(() => assertDeclaredAccess(undeclared)).toThrow(/no declared access/)
    // An owned object the adapter could not check: refused too.
    const unchecked = defineRoute({ method: 'GET', path: '/api/v1/things/:thingId', summary: 'no owner lookup', access: { roles: ['owner'], mutates: false, owned: { kind: 'thing', param: 'thingId' } }, handler: async () => ({}) })
    expect(() => assertDeclaredAccess(unchecked)).toThrow(/needs findOwned/)
    const ports = createMemoryPorts()
    expect(() => createHttpApp({
      routes: [undeclared], readiness: {}, log: silentLogger, auth: { authenticate: async () => null }, audit: { append: async () => {} },
      rateLimiter: ports.rateLimiter, clock: systemClock, bodyLimit: 1024, corsOrigins: [], trustProxy: false,
      limits: { perToken: { capacity: 1, refillPerSec: 1 }, perIp: { capacity: 1, refillPerSec: 1 }, failedAuthPerIp: { capacity: 1, refillPerSec: 1 }, tokenCreation: { capacity: 1, refillPerSec: 1 } },
    })).toThrow(/no declared access/)
  })

  it('answers 401 without a token or with a bad one, on every route, and changes nothing', async () => {
    const anonymous = client(chat, null)
    const forged = client(chat, 'qy_' + 'A'.repeat(38))
    const before = await fingerprint(chat)
    for (const route of routes) {
      const path = fill(route, G1, victimTokenId)
      const body = SAMPLE_BODIES[`${route.method} ${route.path}`]
      for (const who of [anonymous, forged]) {
        const res = await who.call(route.method, path, body)
        expect({ route: `${route.method} ${route.path}`, status: res.status }).toEqual({ route: `${route.method} ${route.path}`, status: 401 })
        expect(res.body.error.code).toMatch(/^(unauthenticated|invalid_token)$/)
      }
    }
    expect(await fingerprint(chat)).toBe(before)
  })

  it('answers 403 to operators on every mutating route, and changes nothing', async () => {
    const before = await fingerprint(chat)
    const mutating = routes.filter((r) => r.access.mutates)
    expect(mutating.length).toBeGreaterThanOrEqual(5)
    for (const route of mutating) {
      for (const who of [operator, scopedOperator]) {
        const res = await who.call(route.method, fill(route, G1, victimTokenId), SAMPLE_BODIES[`${route.method} ${route.path}`])
        expect({ route: `${route.method} ${route.path}`, status: res.status, code: res.body.error?.code }).toEqual({ route: `${route.method} ${route.path}`, status: 403, code: 'forbidden' })
      }
    }
    expect(await fingerprint(chat)).toBe(before)
  })

  it("answers 404 to an owner of group A using group B's id — the same answer as for a group that does not exist", async () => {
    const scoped = routes.filter((r) => r.access.groupParam)
    expect(scoped.length).toBeGreaterThanOrEqual(5)
    const before = await fingerprint(chat)
    for (const route of scoped) {
      const body = SAMPLE_BODIES[`${route.method} ${route.path}`]
      const callers = Array.isArray(route.access.roles) && route.access.roles.includes('owner') ? [ownerA] : []
      if (!route.access.mutates) callers.push(scopedOperator)
      for (const who of callers) {
        const other = await who.call(route.method, fill(route, G2, victimTokenId), body)
        const missing = await who.call(route.method, fill(route, 'nope@chatroom', victimTokenId), body)
        const missingForAdmin = await admin.call(route.method, fill(route, 'nope@chatroom', victimTokenId), body)
        // Byte for byte the same answer (apart from the request id) as for a group that does not exist.
        expectLikeMissing(`${route.method} ${route.path}`, other, missing, missingForAdmin)
      }
    }
    expect(await fingerprint(chat)).toBe(before)
  })

  it('declares every path parameter: a group, an owned object, or one that names neither', () => {
    for (const route of routes) {
      for (const [, param] of route.path.matchAll(/:([A-Za-z]+)/g)) {
        const declared = param === route.access.groupParam || param === route.access.owned?.param || param in UNOWNED_PARAMS
        expect({ route: `${route.method} ${route.path}`, param, declared }).toEqual({ route: `${route.method} ${route.path}`, param, declared: true })
      }
    }
  })

  it("answers 404 to an owner using another owner's object — the same answer as for an id that does not exist", async () => {
    const named = routes.filter((r) => r.access.owned?.param)
    expect(named.length).toBeGreaterThanOrEqual(5)
    // Two owners of the same group: only the object's owner differs.
    const alice = await apiAs(chat, 'owner', { groups: [G1], name: 'owned-a' })
    const bob = await apiAs(chat, 'owner', { groups: [G1], name: 'owned-b' })
    let n = 0
    for (const route of named) {
      const kind = route.access.owned?.kind ?? ''
      const name = `${route.method} ${route.path}`
      const create = OWNED_FIXTURES[kind]
      expect({ name, kind, fixture: Boolean(create) }).toEqual({ name, kind, fixture: true })
      if (!create) continue
      const pathOf = (id: string): string => fillPath(route, G1, victimTokenId, id)
      const body = SAMPLE_BODIES[name]
      const id = await create(alice, `owned-${n++}`)
      const before = await fingerprint(chat)
      const other = await bob.call(route.method, pathOf(id), body)
      const missing = await bob.call(route.method, pathOf(MISSING_ID), body)
      const missingForAdmin = await admin.call(route.method, pathOf(MISSING_ID), body)
      expectLikeMissing(name, other, missing, missingForAdmin)
      expect(await fingerprint(chat)).toBe(before)
      // The positive control: its owner reaches it, and so does an admin.
      const own = await alice.call(route.method, pathOf(id), body)
      expect({ name, ok: own.status < 300 }).toEqual({ name, ok: true })
      const byAdmin = await admin.call(route.method, pathOf(await create(alice, `owned-${n++}`)), body)
      expect({ name, ok: byAdmin.status < 300 }).toEqual({ name, ok: true })
    }
  })

  it("never shows another owner's objects in a list (admins see all)", async () => {
    const lists = routes.filter((r) => r.access.owned && r.access.owned.param === undefined)
    expect(lists.length).toBeGreaterThanOrEqual(3)
    const alice = await apiAs(chat, 'owner', { groups: [G1], name: 'lists-a' })
    const bob = await apiAs(chat, 'owner', { groups: [G1], name: 'lists-b' })
    let n = 0
    for (const route of lists) {
      const name = `${route.method} ${route.path}`
      const create = OWNED_FIXTURES[route.access.owned?.kind ?? '']
      expect({ name, fixture: Boolean(create) }).toEqual({ name, fixture: true })
      if (!create) continue
      const marker = `listed-${n++}`
      await create(alice, marker)
      const path = fill(route, G1, victimTokenId)
      const seen = async (who: ApiClient): Promise<boolean> => {
        const res = await who.call(route.method, path, SAMPLE_BODIES[name])
        expect({ name, status: res.status }).toEqual({ name, status: 200 })
        return res.text.includes(marker)
      }
      expect({ name, bob: await seen(bob), alice: await seen(alice), admin: await seen(admin) }).toEqual({ name, bob: false, alice: true, admin: true })
    }
  })

  it("answers dry runs outside a group from the request alone: nothing of another owner's objects shows", async () => {
    // Dry runs that name no group (e.g. lottery eligibility) must not read stored state: the answer for
    // the same body is byte-for-byte the same for two owners, whatever objects either of them owns.
    const unscoped = routes.filter((r) => r.path.endsWith('/dry-run') && !r.access.groupParam && !r.access.owned)
    expect(unscoped.map((r) => r.path)).toContain('/api/v1/lotteries/dry-run')
    const alice = await apiAs(chat, 'owner', { groups: [G1], name: 'dry-a' })
    const bob = await apiAs(chat, 'owner', { groups: [G2], name: 'dry-b' })
    for (const route of unscoped) {
      const name = `${route.method} ${route.path}`
      const answer = async (who: ApiClient): Promise<string> => {
        const res = await who.call(route.method, route.path, SAMPLE_BODIES[name])
        expect({ name, status: res.status }).toEqual({ name, status: 200 })
        return JSON.stringify(res.body)
      }
      const bobBefore = await answer(bob)
      // Alice now owns a drawn lottery in G1 whose entrant is the member the sample body names.
      const marker = `dry-${route.path.length}`
      await OWNED_FIXTURES['drawn lottery']?.(alice, marker)
      const bobAfter = await answer(bob)
      expect({ name, same: bobAfter }).toEqual({ name, same: bobBefore })
      expect({ name, aliceSees: await answer(alice) }).toEqual({ name, aliceSees: bobBefore })
      expect({ name, leaks: bobAfter.includes(marker) || bobAfter.includes(G1) }).toEqual({ name, leaks: false })
    }
  })

  it('lets owners and scoped operators use their own groups (the positive control)', async () => {
    for (const route of routes.filter((r) => r.access.groupParam)) {
      const body = SAMPLE_BODIES[`${route.method} ${route.path}`]
      const callers = Array.isArray(route.access.roles) && route.access.roles.includes('owner') ? [ownerA] : []
      if (!route.access.mutates) callers.push(scopedOperator)
      for (const who of callers) {
        const res = await who.call(route.method, fill(route, G1, victimTokenId), body)
        expect({ route: `${route.method} ${route.path}`, ok: res.status < 300 }).toEqual({ route: `${route.method} ${route.path}`, ok: true })
      }
    }
  })

  it('answers 403 to roles a route does not list', async () => {
    const adminOnly = routes.filter((r) => Array.isArray(r.access.roles) && !r.access.roles.includes('owner'))
    expect(adminOnly.length).toBeGreaterThanOrEqual(4)
    const before = await fingerprint(chat)
    for (const route of adminOnly) {
      const res = await ownerA.call(route.method, fill(route, G1, victimTokenId), SAMPLE_BODIES[`${route.method} ${route.path}`])
      expect({ route: `${route.method} ${route.path}`, status: res.status }).toEqual({ route: `${route.method} ${route.path}`, status: 403 })
    }
    expect(await fingerprint(chat)).toBe(before)
  })

  it('filters every list by the caller’s scope', async () => {
    const mine = await ownerA.get('/api/v1/groups').expect(200)
    expect(mine.body.items.map((g: { id: string }) => g.id)).toEqual([G1])
    const all = await operator.get('/api/v1/groups').expect(200)
    expect(all.body.items.map((g: { id: string }) => g.id)).toEqual([G1, G2])
    const me = await ownerA.get('/api/v1/me').expect(200)
    expect(me.body).toMatchObject({ role: 'owner', allGroups: false, groupIds: [G1] })
  })

  it('documents every mounted route in the OpenAPI document', async () => {
    const doc = await client(chat, null).get('/api/v1/openapi.json').expect(200)
    for (const route of routes) {
      const op = doc.body.paths[openApiPath(route.path)]?.[route.method.toLowerCase()]
      expect({ route: `${route.method} ${route.path}`, documented: Boolean(op) }).toEqual({ route: `${route.method} ${route.path}`, documented: true })
      expect(op['x-qunyun-access']).toEqual(route.access)
      if (route.body) expect(op.requestBody.content['application/json'].schema).toBeDefined()
      if (route.access.roles !== 'public') expect(op.responses['401']).toBeDefined()
    }
    const html = await client(chat, null).get('/docs').expect(200)
    expect(html.text).toContain('openapi.json')
    expect(html.headers['content-type']).toMatch(/text\/html/)
  })
})

describe(`fuzzing the validated routes (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let admin: ApiClient
  let tokenId: number
  beforeAll(async () => {
    chat = await Chat.start({ http: true, groups: GROUPS, configOverrides: { api: { rateLimits: { perToken: GENEROUS, perIp: GENEROUS, failedAuthPerIp: GENEROUS, tokenCreation: GENEROUS } } } })
    admin = await apiAs(chat, 'admin')
    tokenId = (await apiAs(chat, 'operator', { groups: [G1] })).tokenId
  })
  afterAll(async () => { await chat?.close() })

  const junk = fc.oneof(
    fc.jsonValue(),
    fc.dictionary(fc.constantFrom('name', 'role', 'groupIds', 'allGroups', 'labels', 'timezone', 'logText', 'ownerId', 'id', '__proto__', 'constructor'), fc.jsonValue()),
  )
  const queryJunk = fc.dictionary(fc.constantFrom('limit', 'cursor', 'days', 'active', 'includeRevoked', 'groupId', 'since', 'until', 'tokenId', 'route', 'x'), fc.string({ maxLength: 40 }))

  it('never answers 5xx, and a rejected request changes nothing', async () => {
    const routes = chat.runtime.routes
    let requests = 0
    for (const route of routes) {
      await fc.assert(fc.asyncProperty(junk, queryJunk, fc.constantFrom(G1, G2, 'nope@chatroom', '%00', 'a'.repeat(250)), async (body, query, group) => {
        const before = route.access.mutates ? await fingerprint(chat) : ''
        const qs = new URLSearchParams(query).toString()
        const path = fill(route, group, tokenId) + (qs ? `?${qs}` : '')
        const res = await admin.call(route.method, path, route.method === 'GET' || route.method === 'DELETE' ? undefined : body)
        requests++
        expect({ route: `${route.method} ${route.path}`, status: res.status < 500 }).toEqual({ route: `${route.method} ${route.path}`, status: true })
        expect(res.headers['content-type']).toMatch(res.status < 400 && route.contentType ? /text\/csv/ : /application\/json/)
        if (res.status >= 400) {
          expect(res.body.error).toMatchObject({ code: expect.any(String), message: expect.any(String), details: expect.any(Array) })
          if (route.access.mutates) expect(await fingerprint(chat)).toBe(before)
        }
      }), { numRuns: route.access.mutates ? 60 : 40, seed: 20261122 })
    }
    expect(requests).toBeGreaterThan(400)
    // Generous: the run grows with every feature's routes and runs on loaded 2-core CI machines; this is a
    // correctness property, never a timing assertion.
  }, 600_000)

  it('rejects unknown fields instead of assigning them (no mass assignment)', async () => {
    const res = await admin.patch(`/api/v1/groups/${encodeURIComponent(G1)}`, { labels: ['VIP'], ownerId: 'mallory', botId: 'x' })
    expect(res.status).toBe(400)
    expect(res.body.error.details.map((d: { message: string }) => d.message).join(' ')).toMatch(/ownerId|botId|Unrecognized/i)
    const token = await admin.post('/api/v1/tokens', { name: 'x', role: 'owner', id: 1, revokedAt: null })
    expect(token.status).toBe(400)
  })

  it('answers bad bodies with 413, 415 and 400', async () => {
    const big = await admin.patch(`/api/v1/groups/${encodeURIComponent(G1)}`, { labels: ['x'.repeat(300_000)] })
    expect(big.status).toBe(413)
    const form = await admin.patch(`/api/v1/groups/${encodeURIComponent(G1)}`).set('Content-Type', 'text/plain').send('labels=VIP')
    expect(form.status).toBe(415)
    const broken = await admin.patch(`/api/v1/groups/${encodeURIComponent(G1)}`).set('Content-Type', 'application/json').send('{"labels": [')
    expect(broken.status).toBe(400)
    expect(broken.body.error.code).toBe('invalid_json')
    const none = await admin.patch(`/api/v1/groups/${encodeURIComponent(G1)}`)
    expect(none.status).toBe(400)
  })
})

describe(`limits and hardening (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let admin: ApiClient
  beforeAll(async () => {
    chat = await Chat.start({
      http: true, groups: GROUPS,
      configOverrides: { api: { corsOrigins: ['https://admin.example.com'], rateLimits: { perToken: { perMinute: 60, burst: 30 }, perIp: GENEROUS, failedAuthPerIp: { perMinute: 6, burst: 5 }, tokenCreation: { perMinute: 1, burst: 3 } } } },
    })
    admin = await apiAs(chat, 'admin', { name: 'root' })
  })
  afterAll(async () => { await chat?.close() })

  it('limits token creation strictly and answers 429 with Retry-After', async () => {
    const statuses: number[] = []
    let retryAfter: string | undefined
    for (let i = 0; i < 6; i++) {
      const res = await admin.post('/api/v1/tokens', { name: `burst-${i}`, role: 'operator' })
      statuses.push(res.status)
      if (res.status === 429) retryAfter = res.headers['retry-after']
    }
    expect(statuses.filter((s) => s === 201).length).toBeLessThanOrEqual(3)
    expect(statuses).toContain(429)
    expect(Number(retryAfter)).toBeGreaterThan(0)
  })

  it('limits failed authentication per address', async () => {
    const forged = client(chat, `qy_${'B'.repeat(38)}`)
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await forged.get('/api/v1/me')).status)
    // Burst of 5 failures per address (earlier tests in this file may have used one): then 429 only.
    const firstLimited = statuses.indexOf(429)
    expect(firstLimited).toBeGreaterThanOrEqual(3)
    expect(firstLimited).toBeLessThanOrEqual(5)
    expect(statuses.slice(0, firstLimited).every((s) => s === 401)).toBe(true)
    expect(statuses.slice(firstLimited).every((s) => s === 429)).toBe(true)
  })

  it('limits requests per token', async () => {
    const busy = await apiAs(chat, 'operator', { allGroups: true })
    const statuses: number[] = []
    for (let i = 0; i < 35; i++) statuses.push((await busy.get('/api/v1/me')).status)
    expect(statuses.filter((s) => s === 200).length).toBe(30)
    expect(statuses.at(-1)).toBe(429)
  })

  it('sends security headers, and CORS only to allowlisted origins', async () => {
    const anonymous = client(chat, null)
    const res = await anonymous.get('/healthz').set('Origin', 'https://evil.example.com')
    expect(res.headers['access-control-allow-origin']).toBeUndefined()
    expect(res.headers['x-frame-options']).toBe('DENY')
    expect(res.headers['content-security-policy']).toContain("default-src 'none'")
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    const ok = await anonymous.get('/healthz').set('Origin', 'https://admin.example.com')
    expect(ok.headers['access-control-allow-origin']).toBe('https://admin.example.com')
    const preflight = await anonymous.call('OPTIONS', '/api/v1/groups').set('Origin', 'https://admin.example.com').set('Access-Control-Request-Method', 'GET')
    expect(preflight.status).toBe(204)
    expect(preflight.headers['access-control-allow-headers']).toContain('Authorization')
    const denied = await anonymous.call('OPTIONS', '/api/v1/groups').set('Origin', 'https://evil.example.com').set('Access-Control-Request-Method', 'GET')
    expect(denied.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('never leaks a stack trace: an unexpected failure is a 500 with a request id only', async () => {
    // A route that throws an unexpected error, mounted on a throw-away app.
    const ports = createMemoryPorts()
    const boom = defineRoute({ method: 'GET', path: '/api/v1/boom', summary: 'fails', query: z.strictObject({}), access: { roles: 'public', mutates: false }, async handler() { throw new Error('secret internals at /srv/app.ts:42') } })
    const app = createHttpApp({
      routes: [boom], readiness: {}, log: silentLogger, auth: { authenticate: async () => null }, audit: { append: async () => {} },
      rateLimiter: ports.rateLimiter, clock: systemClock, bodyLimit: 1024, corsOrigins: [], trustProxy: false,
      limits: { perToken: GENEROUS_BUCKET, perIp: GENEROUS_BUCKET, failedAuthPerIp: GENEROUS_BUCKET, tokenCreation: GENEROUS_BUCKET },
    })
    const request = (await import('supertest')).default
    const res = await request(app.callback()).get('/api/v1/boom')
    expect(res.status).toBe(500)
    expect(res.body.error.code).toBe('internal')
    expect(JSON.stringify(res.body)).not.toContain('secret internals')
    expect(res.body.error.requestId).toEqual(expect.any(String))
  })
})

const GENEROUS_BUCKET = { capacity: 100_000, refillPerSec: 10_000 }
