import { Chat } from '../../../test/support/chat'
import { apiAs, client, type ApiClient } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE } from '../../../test/support/env'
import { G1, G2, TWO_OWNERS } from '../../../test/support/groups'
import { hashToken, isWellFormedToken } from './access.token-format'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

describe(`tokens, grants and the audit log (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let admin: ApiClient
  beforeAll(async () => {
    chat = await Chat.start({ http: true, groups: TWO_OWNERS })
    admin = await apiAs(chat, 'admin', { name: 'root' })
  })
  afterAll(async () => { await chat?.close() })

  it('creates a token shown once, stores only its hash, records use, and revokes it at once', async () => {
    const created = await admin.post('/api/v1/tokens', { name: '张三的群', role: 'owner', groupIds: [G1] }).expect(201)
    const secret: string = created.body.token
    expect(isWellFormedToken(secret)).toBe(true)
    expect(created.body).toMatchObject({ name: '张三的群', role: 'owner', groupIds: [G1], allGroups: false, revokedAt: null })
    const stored: Array<Record<string, unknown>> = await chat.runtime.db.query('SELECT * FROM qy_api_token WHERE id = ?', [created.body.id])
    expect(stored[0]?.token_hash).toBe(hashToken(secret))
    expect(JSON.stringify(stored)).not.toContain(secret.slice(3))
    const owner = client(chat, secret)
    await owner.get('/api/v1/me').expect(200)
    const listed = await admin.get('/api/v1/tokens').expect(200)
    expect(JSON.stringify(listed.body)).not.toContain(secret.slice(3))
    const used: Array<{ last_used_at: unknown }> = await chat.runtime.db.query('SELECT last_used_at FROM qy_api_token WHERE id = ?', [created.body.id])
    expect(used[0]?.last_used_at).not.toBeNull()
    await admin.del(`/api/v1/tokens/${created.body.id}`).expect(200)
    const after = await owner.get('/api/v1/me')
    expect(after.status).toBe(401)
    expect(after.body.error.code).toBe('invalid_token')
    // A typo is caught by the checksum, before any lookup.
    const typo = secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A')
    expect(isWellFormedToken(typo)).toBe(false)
  })

  it('grants and revokes groups of an owner', async () => {
    const created = await admin.post('/api/v1/tokens', { name: 'grants', role: 'owner', groupIds: [] }).expect(201)
    const owner = client(chat, created.body.token)
    expect((await owner.get('/api/v1/groups').expect(200)).body.items).toEqual([])
    await admin.put(`/api/v1/tokens/${created.body.id}/groups`, { groupIds: [G2] }).expect(200)
    expect((await owner.get('/api/v1/groups').expect(200)).body.items.map((g: { id: string }) => g.id)).toEqual([G2])
    await admin.put(`/api/v1/tokens/${created.body.id}/groups`, { groupIds: [] }).expect(200)
    await owner.get(`/api/v1/groups/${encodeURIComponent(G2)}`).expect(404)
  })

  it('audits every change (who, role, route, group, before/after) without secrets, scoped per owner', async () => {
    const ownerA = await apiAs(chat, 'owner', { groups: [G1], name: 'owner-a' })
    const ownerB = await apiAs(chat, 'owner', { groups: [G2], name: 'owner-b' })
    await ownerA.patch(`/api/v1/groups/${encodeURIComponent(G1)}`, { timezone: 'Asia/Tokyo', labels: ['读书会'] }).set('X-Request-Id', 'audit-req-0001').expect(200)
    await ownerB.put(`/api/v1/groups/${encodeURIComponent(G2)}/rules/activity`, { logText: false }).expect(200)
    const all = await admin.get('/api/v1/audit-log?limit=100').expect(200)
    const patch = all.body.items.find((e: { requestId: string }) => e.requestId === 'audit-req-0001')
    expect(patch).toMatchObject({ tokenName: 'owner-a', role: 'owner', method: 'PATCH', route: '/api/v1/groups/:id', groupId: G1, status: 200 })
    expect(patch.summary.before).toEqual({ timezone: 'Asia/Shanghai', labels: { sha256: expect.any(String) } })
    expect(patch.summary.after.timezone).toBe('Asia/Tokyo')
    expect(JSON.stringify(all.body)).not.toMatch(/qy_[A-Za-z0-9]{30,}/)
    const created = all.body.items.filter((e: { route: string }) => e.route === '/api/v1/tokens')
    expect(created.length).toBeGreaterThanOrEqual(2)
    const mineA = await ownerA.get('/api/v1/audit-log').expect(200)
    expect(mineA.body.items.map((e: { groupId: string }) => e.groupId)).toEqual([G1])
    const mineB = await ownerB.get('/api/v1/audit-log').expect(200)
    expect(mineB.body.items.map((e: { route: string }) => e.route)).toEqual(['/api/v1/groups/:id/rules/activity'])
    const filtered = await admin.get(`/api/v1/audit-log?groupId=${encodeURIComponent(G2)}`).expect(200)
    expect(filtered.body.items).toHaveLength(1)
    const page = await admin.get('/api/v1/audit-log?limit=1').expect(200)
    const next = await admin.get(`/api/v1/audit-log?limit=1&cursor=${page.body.nextCursor}`).expect(200)
    expect(next.body.items[0].id).toBeLessThan(page.body.items[0].id)
    // The change took effect: the group's days are now counted in Tokyo time.
    const group = await admin.get(`/api/v1/groups/${encodeURIComponent(G1)}`).expect(200)
    expect(group.body).toMatchObject({ timezone: 'Asia/Tokyo', labels: ['读书会'] })
  })
})
