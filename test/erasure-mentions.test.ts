import { Chat, type Person } from './support/chat'
import { apiAs } from './support/api'
import { cleanup } from './support/env'
import { DbPersonalDataStore } from '../src/adapters/db/personal-data-store'
import { logPath } from '../src/adapters/http/app'
import type { ErasureReceipt } from '../src/kernel/erasure'
import { DetailCache } from '../src/features/groups/groups.cache'
import { RawJson } from '../src/kernel/routes'

afterAll(cleanup, 180_000)

const START = Date.parse('2026-11-23T09:00:00+08:00')
const G1 = 'g1@chatroom'
const G2 = 'g2@chatroom'
const enc = encodeURIComponent

// A member whose display name is text other people's data holds by chance ("24" hours, "读书班 24 元").
const zoe: Person = { id: 'zoe_4401', name: '24' }
const bob: Person = { id: 'bob', name: '阿强' }

describe('erasure matches the member by id, never by display name', () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('keeps rule values valid (rewritten through the rules store), other people\'s outbound rows and pending actions', async () => {
    chat = await Chat.start({
      start: START, http: true, seed: 7,
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: zoe.id, name: zoe.name }, { id: bob.id, name: bob.name }] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }, { id: zoe.id, name: zoe.name }] },
      ],
    })
    const admin = await apiAs(chat, 'admin')
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    await owner.put(`/api/v1/groups/${enc(G1)}/moderation`, { rules: { enabled: true, allowlist: [zoe.id, bob.id] } }).expect(200)
    await owner.post('/api/v1/auto-replies', { name: 'p', trigger: { type: 'contains', keywords: ['价格'] }, answer: { variants: [{ text: '读书班 24 元' }] } }).expect(201)
    const g1 = chat.group('g1')
    await g1.say(zoe, 'hello there')
    await g1.say(bob, '价格')
    g1.expectReply(/读书班 24 元/)
    await chat.rehearsal.quiesce()
    await chat.runtime.flush()
    const db = chat.runtime.db
    const [reply] = await db.query("SELECT id, bot_id AS bot FROM qy_outbound WHERE payload LIKE '%读书班 24 元%'") as Array<{ id: number; bot: string }>
    expect(reply).toBeDefined()
    const bot = (reply as { bot: string }).bot
    const insert = async (payload: object, status: string): Promise<void> => {
      await db.query('INSERT INTO qy_outbound (bot_id, group_id, kind, payload, status, attempts, queued_at) VALUES (?, ?, ?, ?, ?, 0, ?)',
        [(payload as { botId: string }).botId, G1, (payload as { kind: string }).kind, JSON.stringify(payload), status, chat.clock.now()])
    }
    // A delivered mention of zoe (goes), a pending removal of zoe (stays: in flight), bob's reply (stays).
    await insert({ kind: 'say', botId: bot, groupId: G1, text: '@24 欢迎', mentions: [zoe.id] }, 'done')
    // Pending on a bot no replica runs, so it stays pending while the test looks.
    await insert({ kind: 'remove', botId: 'bot-offline', groupId: G1, memberId: zoe.id, reason: 'ads' }, 'pending')
    const outbound = async (): Promise<Array<{ id: number; status: string; payload: string }>> => db.query('SELECT id, status, payload FROM qy_outbound ORDER BY id')
    const before = await outbound()
    const versionBefore = await chat.runtime.rules.latest(G1, 'moderation')

    const preview = (await admin.del(`/api/v1/members/${zoe.id}?dryRun=1`).expect(200)).body as ErasureReceipt
    const at = (r: ErasureReceipt, place: string): ErasureReceipt['places'][number] | undefined => r.places.find((p) => p.place === place)
    expect(at(preview, 'table:qy_outbound')).toMatchObject({ removed: 1, pseudonymised: 0 })
    expect(at(preview, 'rules:current')).toMatchObject({ pseudonymised: 1 })
    expect(await outbound()).toEqual(before)
    expect(await chat.runtime.rules.latest(G1, 'moderation')).toBe(versionBefore)

    const receipt = (await admin.del(`/api/v1/members/${zoe.id}`).expect(200)).body as ErasureReceipt
    const pseudonym = chat.runtime.erasure.pseudonym(zoe.id)
    expect(at(receipt, 'table:qy_outbound')).toMatchObject({ removed: 1 })
    expect(at(receipt, 'table:qy_outbound')?.note).toMatch(/1 row\(s\) in flight/)

    // Rule values: valid JSON everywhere, the number 24 untouched, zoe replaced in the allowlist only.
    for (const table of ['qy_group_rule', 'qy_rule_version']) {
      const values = await db.query(`SELECT value FROM ${table}`) as Array<{ value: string }>
      for (const v of values) expect(() => JSON.parse(v.value) as unknown).not.toThrow()
      expect(values.some((v) => v.value.includes(zoe.id))).toBe(false)
    }
    const moderation = (await owner.get(`/api/v1/groups/${enc(G1)}/moderation`).expect(200)).body as { rules: { allowlist: string[]; newcomer: { hours: number } } }
    expect(moderation.rules.allowlist).toEqual([pseudonym, bob.id])
    expect(moderation.rules.newcomer.hours).toBe(24)
    // Through the store's write path: a new version by "erasure", and the live (cached) rules changed.
    const [latest] = await chat.runtime.rules.versions(G1, 'moderation', 1)
    expect(latest).toMatchObject({ version: versionBefore + 1, author: 'erasure' })
    const live = (await chat.runtime.rules.forGroup(G1)).slice('moderation') as { allowlist: string[] }
    expect(live.allowlist).toEqual([pseudonym, bob.id])

    // Outbound: bob's reply (whose text holds zoe's name) kept; the delivered mention gone; the pending removal kept as it was.
    const after = await outbound()
    expect(after.map((r) => r.id)).toEqual(before.filter((r) => !r.payload.includes('@24 欢迎')).map((r) => r.id))
    expect(after.find((r) => r.payload.includes('读书班 24 元'))).toBeDefined()
    expect(after.find((r) => r.status === 'pending' && r.payload.includes(zoe.id))).toBeDefined()
  }, 120_000)

  it('refuses an id that is no member in the caller\'s scope; owners see only their groups\' caches', async () => {
    chat = await Chat.start({
      start: START, http: true, seed: 7,
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: zoe.id, name: zoe.name }] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }, { id: zoe.id, name: zoe.name }, { id: 'carol', name: '小雨' }] },
      ],
    })
    const admin = await apiAs(chat, 'admin')
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    const owner2 = await apiAs(chat, 'owner', { groups: [G2] })
    await chat.group('g1').say(zoe, 'hello there')
    await chat.group('g2').say(zoe, 'hello there')
    await chat.rehearsal.quiesce()
    await chat.runtime.flush()
    const keysBefore = (await chat.runtime.ports.keys.search(['bot'])).length
    // A bot or group id, or a typo: nothing touched.
    for (const id of ['corp', 'bot', G1, 'nobody']) {
      const r = await admin.del(`/api/v1/members/${enc(id)}`).expect(404)
      expect(r.body.error?.code ?? r.body.code).toBe('unknown_member')
    }
    expect((await chat.runtime.ports.keys.search(['bot'])).length).toBe(keysBefore)
    // carol is a member of g2 only: unknown to g1's owner.
    await owner.del('/api/v1/members/carol?dryRun=1').expect(404)
    await owner2.del('/api/v1/members/carol?dryRun=1').expect(200)

    await owner.del(`/api/v1/members/${zoe.id}`).expect(200)
    await owner2.del(`/api/v1/members/${zoe.id}?dryRun=1`).expect(200)
  }, 120_000)

  it('pages through every candidate row in the residue scan (a real match after many near-misses is found)', async () => {
    chat = await Chat.start({ start: START, groups: [{ id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }] }] })
    const db = chat.runtime.db
    const table = `qy_probe_scan_${process.pid}`
    await db.query(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, note VARCHAR(200))`)
    try {
      // Near-misses (zoe_44010 is not zoe_4401) first, the real one last.
      for (let i = 1; i <= 7; i++) await db.query(`INSERT INTO ${table} (id, note) VALUES (?, ?)`, [i, `x ${zoe.id}0 y`])
      await db.query(`INSERT INTO ${table} (id, note) VALUES (?, ?)`, [8, `left: ${zoe.id}`])
      const store = new DbPersonalDataStore(db, [])
      store.scanPage = 3
      const found = await store.scan([{ kind: 'member id', value: zoe.id }])
      expect(found).toEqual([{ place: `table:${table}.note`, kind: 'member id', count: 1 }])
    } finally {
      await db.query(`DROP TABLE ${table}`)
    }
  }, 120_000)

  it("counts and drops only the caller's groups' cached details", () => {
    const cache = new DetailCache(() => 0, 60_000)
    cache.set(G1, new RawJson(JSON.stringify({ top: [zoe.id] })))
    cache.set(G2, new RawJson(JSON.stringify({ top: [zoe.id] })))
    expect(cache.dropMentioning(zoe.id, true)).toBe(2)
    expect(cache.dropMentioning(zoe.id, true, [G1])).toBe(1)
    expect(cache.dropMentioning(zoe.id, false, [G1])).toBe(1)
    expect(cache.get(G2)).toBeDefined()
    expect(cache.get(G1)).toBeUndefined()
  })

  it('logs request paths without member ids', () => {
    expect(logPath(`/api/v1/members/${zoe.id}`)).toBe('/api/v1/members/:memberId')
    expect(logPath(`/api/v1/groups/g1%40chatroom/tagging/members/${zoe.id}/tags`)).toBe('/api/v1/groups/g1%40chatroom/tagging/members/:memberId/tags')
    expect(logPath('/api/v1/groups/g1/members.csv')).toBe('/api/v1/groups/g1/members.csv')
  })
})
