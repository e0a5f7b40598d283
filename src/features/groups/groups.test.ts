import { InvitationReceived } from '../../kernel/events'
import { Chat, alice, carol } from '../../../test/support/chat'
import { cleanup, STORAGE } from '../../../test/support/env'
import { apiAs } from '../../../test/support/api'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

describe(`groups registry (${STORAGE})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('registers groups and members with roles at login', async () => {
    chat = await Chat.start({
      groups: [{ id: 'g1', name: '测试群', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强', role: 'admin' }, { id: 'carol', name: '小雨🌸' }] }],
    })
    const groups: Array<{ id: string; name: string; owner_id: string; member_count: number }> = await chat.runtime.db.query('SELECT id, name, owner_id, member_count FROM qy_group')
    expect(groups).toEqual([{ id: 'g1@chatroom', name: '测试群', owner_id: 'alice', member_count: 3 }])
    const members: Array<{ member_id: string; role: string; name: string }> = await chat.runtime.db.query('SELECT member_id, role, name FROM qy_member ORDER BY member_id')
    expect(members).toEqual([
      { member_id: 'alice', role: 'owner', name: 'Alice' },
      { member_id: 'bob', role: 'admin', name: '阿强' },
      { member_id: 'carol', role: 'member', name: '小雨🌸' },
    ])
  })

  it('records joins with inviter and time, leaves, and renames', async () => {
    chat = await Chat.start()
    const g1 = chat.group('g1')
    const dave = { id: 'dave', name: '新同学' }
    await chat.rehearsal.advance(60_000)
    const joinedAt = chat.clock.now()
    await g1.join([dave], alice)
    await g1.leave([carol])
    await g1.rename('测试群·二期', alice)
    const dm: Array<{ joined_at: string | number; inviter_id: string; active: number | boolean }> = await chat.runtime.db.query("SELECT joined_at, inviter_id, active FROM qy_member WHERE member_id = 'dave'")
    expect(Number(dm[0]?.joined_at)).toBe(joinedAt)
    expect(dm[0]?.inviter_id).toBe('alice')
    const cm: Array<{ active: number | boolean }> = await chat.runtime.db.query("SELECT active FROM qy_member WHERE member_id = 'carol'")
    expect(Boolean(cm[0]?.active)).toBe(false)
    const events: Array<{ kind: string; member_id: string | null; actor_id: string | null }> = await chat.runtime.db.query('SELECT kind, member_id, actor_id FROM qy_group_event ORDER BY id')
    expect(events).toEqual([
      { kind: 'joined', member_id: 'dave', actor_id: 'alice' },
      { kind: 'left', member_id: 'carol', actor_id: 'carol' },
      { kind: 'renamed', member_id: null, actor_id: 'alice' },
    ])
    const g: Array<{ name: string; member_count: number }> = await chat.runtime.db.query('SELECT name, member_count FROM qy_group')
    expect(g).toEqual([{ name: '测试群·二期', member_count: 3 }])
    // A message from the newcomer carries their join time into the pipeline.
    await g1.say(dave, '大家好')
  })

  it('stores a member first seen through a message', async () => {
    chat = await Chat.start()
    chat.rehearsal.world.contact('ghost', '潜水员')
    await chat.group('g1').say({ id: 'ghost', name: '潜水员' }, '冒个泡')
    const rows: Array<{ name: string; joined_at: unknown }> = await chat.runtime.db.query("SELECT name, joined_at FROM qy_member WHERE member_id = 'ghost'")
    expect(rows).toEqual([{ name: '潜水员', joined_at: null }])
  })

  it('accepts room invitations from allowed inviters only', async () => {
    chat = await Chat.start({ configOverrides: { groups: { acceptInvitations: true, inviterAllowlist: ['alice'] } } })
    const world = chat.rehearsal.world
    world.contact('mallory', 'Mallory')
    world.mocker.createRoom({ id: 'new-room@chatroom', topic: '新群', memberIdList: ['alice', 'mallory'] })
    world.mocker.createRoom({ id: 'spam-room@chatroom', topic: '广告群', memberIdList: ['mallory'] })
    const joined = chat.rehearsal.waitFor((o) => o.kind === 'event' && o.event.type === 'group.synced' && o.event.groupId === 'new-room@chatroom')
    world.puppet.invite({ id: 'inv-1', inviterId: 'alice', roomId: 'new-room@chatroom', topic: '新群', memberCount: 2 })
    await joined
    const declined = chat.rehearsal.waitFor((o) => o.kind === 'event' && InvitationReceived.is(o.event) && o.event.invitationId === 'inv-2')
    world.puppet.invite({ id: 'inv-2', inviterId: 'mallory', roomId: 'spam-room@chatroom', topic: '广告群', memberCount: 1 })
    await declined
    await chat.rehearsal.quiesce()
    expect(chat.pending().filter((a) => a.kind === 'acceptInvitation').map((a) => a.invitationId)).toEqual(['inv-1'])
    const groups: Array<{ id: string }> = await chat.runtime.db.query('SELECT id FROM qy_group ORDER BY id')
    expect(groups.map((g) => g.id)).toEqual(['g1@chatroom', 'new-room@chatroom'])
    const events: Array<{ kind: string }> = await chat.runtime.db.query("SELECT kind FROM qy_group_event WHERE kind LIKE 'invitation%' ORDER BY id")
    expect(events.map((e) => e.kind)).toEqual(['invitation_accepted', 'invitation_declined'])
  })
})

describe(`directory names (${STORAGE})`, () => {
  it('keeps every member’s own name after a multi-row sync (ids that sort differently from insertion order)', async () => {
    const crowd = Array.from({ length: 12 }, (_, i) => ({ id: `m${i}`, name: `成员${i}` }))
    const chat = await Chat.start({ groups: [{ id: 'g1', name: 'x', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, ...crowd] }] })
    try {
      const directory = chat.runtime.directory
      for (const m of crowd) expect((await directory?.member('g1@chatroom', m.id, '?'))?.name).toBe(m.name)
    } finally { await chat.close() }
  })
})

describe(`members list route (${STORAGE})`, () => {
  it('searches by name or id (wildcards literal), sorts, pages, counts, and keeps other owners out', async () => {
    const crowd = Array.from({ length: 12 }, (_, i) => ({ id: `m${String(i).padStart(2, '0')}`, name: `成员${String(i).padStart(2, '0')}` }))
    const chat = await Chat.start({
      http: true,
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强_100%', role: 'admin' }, ...crowd] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }] },
      ],
    })
    try {
      await chat.group('g1').leave([{ id: 'm11', name: '成员11' }])
      const owner = await apiAs(chat, 'owner', { groups: ['g1@chatroom'] })
      const path = `/api/v1/groups/${encodeURIComponent('g1@chatroom')}/members`
      const ids = (body: { items: Array<{ memberId: string }> }): string[] => body.items.map((m) => m.memberId)

      const first = await owner.get(`${path}?limit=5`).expect(200)
      expect(first.body).toMatchObject({ total: 13, offset: 0, limit: 5 })
      expect(ids(first.body)).toEqual(['alice', 'm00', 'm01', 'm02', 'm03'])
      expect(first.body.items[0]).toEqual({ memberId: 'alice', name: 'Alice', role: 'owner', active: true, joinedAt: null, leftAt: null })
      const last = await owner.get(`${path}?limit=5&offset=10`).expect(200)
      expect(ids(last.body)).toEqual(['m09', 'm10', 'bob'])
      expect(ids((await owner.get(`${path}?sort=-name&limit=2`).expect(200)).body)).toEqual(['bob', 'm10'])
      expect(ids((await owner.get(`${path}?sort=memberId&limit=3`).expect(200)).body)).toEqual(['alice', 'bob', 'm00'])

      const search = await owner.get(`${path}?q=${encodeURIComponent('成员0')}`).expect(200)
      expect(search.body.total).toBe(10)
      expect(ids((await owner.get(`${path}?q=ALICE`).expect(200)).body)).toEqual(['alice'])
      // % and _ are matched literally, not as wildcards.
      expect(ids((await owner.get(`${path}?q=${encodeURIComponent('_100%')}`).expect(200)).body)).toEqual(['bob'])
      expect((await owner.get(`${path}?q=${encodeURIComponent('%')}`).expect(200)).body.total).toBe(1)

      const gone = await owner.get(`${path}?active=false`).expect(200)
      expect(gone.body.items).toEqual([expect.objectContaining({ memberId: 'm11', active: false, leftAt: expect.any(String) })])
      expect((await owner.get(`${path}?active=all`).expect(200)).body.total).toBe(14)

      await owner.get(`${path}?sort=secret`).expect(400)
      await owner.get(`${path}?limit=101`).expect(400)
      const other = await apiAs(chat, 'owner', { groups: ['g2@chatroom'] })
      await other.get(path).expect(404)
      await other.get(`/api/v1/groups/${encodeURIComponent('nope@chatroom')}/members`).expect(404)
    } finally { await chat.close() }
  })
})
