import { Chat, bob, carol } from './support/chat'
import { cleanup, COORDINATION, STORAGE } from './support/env'
import { apiAs, client, type ApiClient } from './support/api'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

describe(`admin API base (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  let api: ApiClient
  beforeAll(async () => {
    chat = await Chat.start({
      http: true,
      start: Date.parse('2026-11-23T02:00:00Z'),
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }] },
        { id: 'g3', name: '团购群', members: [{ id: 'erin', name: 'Erin', role: 'owner' }] },
      ],
    })
    const g1 = chat.group('g1')
    await g1.say(bob, '第一天')
    await chat.rehearsal.advance(86_400_000)
    await g1.say(bob, '第二天')
    await g1.say(carol, '我也在')
    await chat.runtime.flush()
    api = await apiAs(chat, 'admin')
  })
  afterAll(async () => { await chat?.close() })

  it('answers health and readiness', async () => {
    await api.get('/healthz').expect(200, { status: 'ok' })
    const ready = await api.get('/readyz').expect(200)
    expect(ready.body).toEqual({ status: 'ready', checks: { database: true, coordination: true, bots: true } })
  })

  it('lists groups with cursor pagination', async () => {
    const first = await api.get('/api/v1/groups?limit=2').expect(200)
    expect(first.body.items.map((g: { id: string }) => g.id)).toEqual(['g1@chatroom', 'g2@chatroom'])
    expect(first.body.items[0]).toMatchObject({ name: '读书会', memberCount: 3, botId: 'rehearsal', active: true, timezone: 'Asia/Shanghai' })
    expect(first.body.items[0].joinedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    const second = await api.get(`/api/v1/groups?limit=2&cursor=${first.body.nextCursor}`).expect(200)
    expect(second.body.items.map((g: { id: string }) => g.id)).toEqual(['g3@chatroom'])
    expect(second.body.nextCursor).toBeNull()
  })

  it('shows one group with its activity of the last 7 days', async () => {
    const res = await api.get(`/api/v1/groups/${encodeURIComponent('g1@chatroom')}`).expect(200)
    expect(res.body).toMatchObject({ id: 'g1@chatroom', name: '读书会', memberCount: 3 })
    expect(res.body.activity.days).toHaveLength(7)
    expect(res.body.activity.to).toBe('2026-11-24')
    expect(res.body.activity.days.slice(-2)).toEqual([
      { day: '2026-11-23', messages: 1, activeMembers: 1 },
      { day: '2026-11-24', messages: 2, activeMembers: 2 },
    ])
    const activity = await api.get(`/api/v1/groups/${encodeURIComponent('g1@chatroom')}/activity?days=2`).expect(200)
    expect(activity.body.topMembers[0]).toEqual({ memberId: 'bob', name: '阿强', messages: 2, chars: 6 })
    expect(activity.body.hours[10]).toBe(3)
  })

  it('answers bad input with 4xx and a JSON error body, never 5xx', async () => {
    const cases: Array<[string, number, string]> = [
      ['/api/v1/groups?limit=1000', 400, 'invalid_input'],
      ['/api/v1/groups?limit=abc', 400, 'invalid_input'],
      ['/api/v1/groups?ownerId=x', 400, 'invalid_input'],
      ['/api/v1/groups?cursor=!!!', 400, 'invalid_cursor'],
      ['/api/v1/groups/nope@chatroom', 404, 'not_found'],
      [`/api/v1/groups/${'x'.repeat(300)}`, 400, 'invalid_input'],
      ['/api/v1/groups/g1@chatroom/activity?days=0', 400, 'invalid_input'],
      ['/api/v1/nothing-here', 404, 'not_found'],
    ]
    for (const [path, status, code] of cases) {
      const res = await api.get(path)
      expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({ path, status, code })
      expect(res.body.error.message).toEqual(expect.any(String))
      expect(res.body.error.requestId).toEqual(expect.any(String))
    }
    const invalid = await api.get('/api/v1/groups?limit=1000')
    expect(invalid.body.error.details).toEqual([{ path: 'query.limit', message: expect.any(String) }])
    const wrongMethod = await api.post('/api/v1/groups', {})
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.body.error.code).toBe('method_not_allowed')
  })

  it('answers a call without a usable token with 401 saying how to create one', async () => {
    const anonymous = client(chat, null)
    const missing = await anonymous.get('/api/v1/groups').expect(401)
    expect(missing.body.error.code).toBe('unauthenticated')
    expect(missing.body.error.message).toContain('npm run -s qunyun -- token create --role admin')
    const wrong = await client(chat, 'qy_not-a-token').get('/api/v1/groups').expect(401)
    expect(wrong.body.error.code).toBe('invalid_token')
    expect(wrong.body.error.message).toContain('npm run -s qunyun -- token create --role admin')
  })

  it('echoes a sane request id and replaces an unsafe one', async () => {
    const mine = await api.get('/healthz').set('X-Request-Id', 'req-12345678')
    expect(mine.headers['x-request-id']).toBe('req-12345678')
    const unsafe = await api.get('/healthz').set('X-Request-Id', 'bad id\twith spaces')
    expect(unsafe.headers['x-request-id']).not.toBe('bad id\twith spaces')
    expect(unsafe.headers['x-content-type-options']).toBe('nosniff')
  })
})
