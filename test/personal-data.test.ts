import { appendFileSync, createWriteStream, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Chat, type Person } from './support/chat'
import { apiAs, type ApiClient } from './support/api'
import { cleanup, COORDINATION, STORAGE, tempDir } from './support/env'
import { createLogger } from '../src/logging'
import { verifyProof, type LotteryProof } from '../src/features/lottery/lottery.draw'
import { pseudonymOf, type ErasureReceipt, type ResidueFinding } from '../src/kernel/erasure'

afterAll(cleanup, 180_000)

const MINUTE = 60_000
const START = Date.parse('2026-11-23T09:00:00+08:00')
const G1 = 'g1@chatroom'
const G2 = 'g2@chatroom'
const iso = (ms: number): string => new Date(ms).toISOString()

// The member to erase: an id and a name found nowhere else, and message texts only they wrote.
const zoe: Person = { id: 'zoe_7731', name: '周小舟' }
const bob: Person = { id: 'bob', name: '阿强' }
const CHATTER = '我家小猫今天学会了自己开冰箱门真是太神奇了'
const QUESTION = '请问周末读书班的价格是多少呀我想报名'
const IN_G2 = '跑完十公里感觉膝盖有点疼大家有什么建议吗'

/** A runtime with two groups (zoe in both), logging at info to a file the residue scan searches. */
async function start(): Promise<{ chat: Chat; admin: ApiClient; owner: ApiClient; owner2: ApiClient; logFile: string; otherLog: string }> {
  const dir = tempDir()
  const logFile = join(dir, 'qunyun.log')
  const otherLog = join(dir, 'old.log')
  appendFileSync(otherLog, '')
  const stream = createWriteStream(logFile, { flags: 'a' })
  const log = createLogger({ log: { level: 'info', format: 'json' } }, stream)
  const chat = await Chat.start({
    start: START, http: true, log, seed: 7,
    configOverrides: { privacy: { logFiles: [logFile, otherLog] } },
    rules: { g1: { lottery: { batch: { windowMs: 0 } }, 'check-in': { batch: { windowMs: 0 } } }, g2: { 'check-in': { batch: { windowMs: 0 } } } },
    groups: [
      { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: zoe.id, name: zoe.name, joinedAt: START - 40 * 24 * 3_600_000 }, { id: 'bob', name: '阿强' }, { id: 'carol', name: '小雨' }] },
      { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }, { id: zoe.id, name: zoe.name }] },
    ],
  })
  return {
    chat, logFile, otherLog,
    admin: await apiAs(chat, 'admin'),
    owner: await apiAs(chat, 'owner', { groups: [G1] }),
    owner2: await apiAs(chat, 'owner', { groups: [G2] }),
  }
}

/** Rows of a table whose column equals `value`. */
async function rows(chat: Chat, table: string, column: string, value: string): Promise<number> {
  const r: Array<{ n: number | string }> = await chat.runtime.db.query(`SELECT COUNT(*) AS n FROM ${table} WHERE ${column} = ?`, [value])
  return Number(r[0]?.n)
}

/**
 * Zoe's footprint in every feature: checks in, wins a lottery, is warned by moderation, is tagged by hand,
 * triggers an auto-reply (with a per-member cooldown key), chats (message log, activity, stats, tagging),
 * and does the same in a second group of another owner.
 */
async function footprint(chat: Chat, owner: ApiClient): Promise<number> {
  const g1 = chat.group('g1')
  const g2 = chat.group('g2')
  await owner.put(`/api/v1/groups/${encodeURIComponent(G1)}/moderation`, { rules: { enabled: true, duplicates: { enabled: false } } }).expect(200)
  await owner.post('/api/v1/auto-replies', {
    name: '价格', trigger: { type: 'contains', keywords: ['价格'] }, cooldown: { groupSeconds: 0, memberSeconds: 600 }, answer: { variants: [{ text: '读书班 99 元，欢迎报名' }] },
  }).expect(201)
  const lottery = await owner.post('/api/v1/lotteries', {
    title: '读书抽奖', groupIds: [G1], prizes: [{ name: '新书', quantity: 2 }],
    times: { closesAt: iso(START + 60 * MINUTE), drawAt: iso(START + 70 * MINUTE) },
  }).expect(201)
  const id = lottery.body.id as number
  await owner.post(`/api/v1/lotteries/${id}/open`).expect(200)
  await chat.rehearsal.quiesce()
  chat.skip()

  await g1.say(zoe, '签到')
  g1.expectReply(/签到/, zoe)
  await g1.say(zoe, CHATTER)
  await g1.say(zoe, QUESTION)
  g1.expectReply(/读书班 99 元/)
  await g1.say(zoe, '参与抽奖')
  g1.expectReply(/已参与「读书抽奖」/, zoe)
  await g1.say(bob, '参与抽奖')
  g1.expectReply(/已参与「读书抽奖」/, bob)
  await g1.say(zoe, '资料请 加.V.信 领取')
  g1.expectReply(/第 1 次提醒/, zoe)
  await owner.post(`/api/v1/groups/${encodeURIComponent(G1)}/tagging/members/${zoe.id}/tags`, { tag: '讲师' }).expect(201)
  await g2.say(zoe, '签到')
  g2.expectReply(/签到/, zoe)
  await g2.say(zoe, IN_G2)

  await chat.rehearsal.advanceTo(START + 60 * MINUTE)
  expect(await chat.runtime.scheduler.runFenced('lottery.tick', new Date(chat.clock.now()))).toBe('ran')
  await chat.rehearsal.advanceTo(START + 70 * MINUTE)
  expect(await chat.runtime.scheduler.runFenced('lottery.tick', new Date(chat.clock.now()))).toBe('ran')
  await chat.rehearsal.quiesce()
  const announcement = g1.expectReply(/开奖啦/)
  expect(announcement.mentions).toContain(zoe.id)
  chat.skip()
  await chat.runtime.flush()
  return id
}

/** Places of findings, tables without their column. */
const places = (findings: readonly ResidueFinding[]): string[] => [...new Set(findings.map((f) => (f.place.startsWith('table:') ? f.place.replace(/\.[^.]*$/, '') : f.place)))].sort()

describe(`erasure of a member and the residue scan (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('erases a member from every table, key and cache; the residue scan then finds nothing; proofs still verify', async () => {
    const env = await start()
    chat = env.chat
    const { admin, owner, logFile, otherLog } = env
    const lotteryId = await footprint(chat, owner)
    const residue = `/api/v1/members/${zoe.id}/residue?name=${encodeURIComponent(zoe.name)}&text=${encodeURIComponent(CHATTER)}&text=${encodeURIComponent(IN_G2)}`

    // The scan is not vacuous: before erasure it finds the id, the name and the texts in many places …
    appendFileSync(otherLog, `an old line naming ${zoe.id} before logs were pseudonymised\n`)
    const before = (await admin.get(residue).expect(200)).body as { clean: boolean; findings: ResidueFinding[] }
    expect(before.clean).toBe(false)
    const found = places(before.findings)
    for (const table of ['qy_member', 'qy_message_log', 'qy_checkin', 'qy_checkin_member', 'qy_points_ledger', 'qy_lottery_entry', 'qy_lottery_winner', 'qy_moderation_event', 'qy_tagging_tag', 'qy_tagging_member', 'qy_activity_daily', 'qy_stats_member_day', 'qy_outbound']) {
      expect(found).toContain(`table:${table}`)
    }
    expect(found).toContain(`log:${otherLog}`)
    expect(before.findings.some((f) => f.kind === 'message text' && f.place.startsWith('table:qy_message_log'))).toBe(true)
    expect(before.findings.some((f) => f.kind === 'name')).toBe(true)
    // … and a per-member cooldown key of the auto-reply (coordination keys are searched too).
    expect(before.findings.some((f) => f.place.startsWith('key:'))).toBe(true)
    // The log the runtime wrote at info names members only by pseudonym.
    expect(readFileSync(logFile, 'utf8')).not.toContain(zoe.id)
    expect(readFileSync(logFile, 'utf8')).toContain(chat.runtime.erasure.pseudonym(zoe.id).slice(0, 16))

    // Exports can leave the house pseudonymised: member ids become pseudonyms (the ids lottery proofs use), names are left out.
    const pseudo = chat.runtime.erasure.pseudonym(zoe.id)
    const g1 = encodeURIComponent(G1)
    for (const path of [`/api/v1/groups/${g1}/members.csv`, `/api/v1/groups/${g1}/stats/top-members.csv`, `/api/v1/groups/${g1}/check-ins/export.csv`, `/api/v1/lotteries/${lotteryId}/winners.csv`]) {
      const plain = (await owner.get(path).expect(200)).text
      expect({ path, id: plain.includes(zoe.id) }).toEqual({ path, id: true })
      const csv = (await owner.get(`${path}${path.includes('?') ? '&' : '?'}pseudonymise=1`).expect(200)).text
      expect({ path, id: csv.includes(zoe.id), name: csv.includes(zoe.name), pseudonym: csv.includes(pseudo) }).toEqual({ path, id: false, name: false, pseudonym: true })
    }
    await owner.get(`/api/v1/groups/${g1}/stats/top-members.csv?pseudonymise=maybe`).expect(400)

    // The preview counts and changes nothing.
    const preview = (await admin.del(`/api/v1/members/${zoe.id}?dryRun=1`).expect(200)).body as ErasureReceipt
    expect(preview.dryRun).toBe(true)
    expect(preview.removed).toBeGreaterThan(10)
    expect(await rows(chat, 'qy_member', 'member_id', zoe.id)).toBe(2)

    const receipt = (await admin.del(`/api/v1/members/${zoe.id}`).expect(200)).body as ErasureReceipt
    const pseudonym = chat.runtime.erasure.pseudonym(zoe.id)
    expect(receipt).toMatchObject({ pseudonym, scope: 'all', dryRun: false })
    expect(receipt.removed).toBe(preview.removed)
    expect(JSON.stringify(receipt)).not.toContain(zoe.id)
    const at = (place: string): ErasureReceipt['places'][number] | undefined => receipt.places.find((p) => p.place === place)
    expect(at('table:qy_member')?.removed).toBe(2)
    expect(at('table:qy_checkin')?.removed).toBe(2)
    expect(at('table:qy_lottery_winner')?.pseudonymised).toBe(1)
    expect(at('table:qy_lottery_entry')?.pseudonymised).toBe(1)
    expect(at('table:qy_moderation_event')?.removed).toBeGreaterThanOrEqual(1)
    expect(at('keys:coordination')?.removed).toBeGreaterThanOrEqual(1)
    expect(at('cache:moderation.strike-book')?.removed).toBe(1)

    // Nothing left: every table (introspected), every key, the log files.
    appendFileSync(otherLog, '')
    const after = (await admin.get(residue).expect(200)).body as { clean: boolean; findings: ResidueFinding[] }
    // The old log line written before pseudonymised logs is the one place erasure cannot rewrite.
    expect(after.findings.filter((f) => f.place !== `log:${otherLog}`)).toEqual([])

    // The scan reads the schema, not the declarations: a table nobody declared is searched too.
    await chat.runtime.db.query('CREATE TABLE qy_probe_undeclared (note VARCHAR(200))')
    await chat.runtime.db.query('INSERT INTO qy_probe_undeclared (note) VALUES (?)', [`left behind by a careless feature: ${zoe.id}`])
    const caught = (await admin.get(residue).expect(200)).body as { clean: boolean; findings: ResidueFinding[] }
    expect(caught.findings.filter((f) => f.place.startsWith('table:'))).toEqual([{ place: 'table:qy_probe_undeclared.note', kind: 'member id', count: 1 }])
    await chat.runtime.db.query('DROP TABLE qy_probe_undeclared')

    // The lottery stays verifiable: its proof never named the member; the winner row holds the pseudonym.
    const proof = (await admin.get(`/api/v1/lotteries/${lotteryId}/proof`).expect(200)).body as LotteryProof
    expect(verifyProof(proof)).toEqual([])
    expect(proof.rounds[0]?.winners).toContain(pseudonym)
    const detail = await admin.get(`/api/v1/lotteries/${lotteryId}`).expect(200)
    expect(detail.body.winners.map((w: { memberId: string }) => w.memberId)).toContain(pseudonym)

    // Idempotent: a second erasure finds no member left and touches nothing.
    await admin.del(`/api/v1/members/${zoe.id}`).expect(404)

    // Audited, naming the member by pseudonym only.
    const audit: Array<{ path: string; summary: string | null }> = await chat.runtime.db.query("SELECT path, summary FROM qy_audit WHERE method = 'DELETE' ORDER BY id")
    expect(audit.length).toBe(2)
    for (const a of audit) {
      expect(a.path).toBe(`/api/v1/members/${pseudonym}`)
      expect(`${a.path} ${a.summary ?? ''}`).not.toContain(zoe.id)
    }
  }, 240_000)

  it("lets an owner erase a member from their own groups only; the preview never names other owners' data", async () => {
    const env = await start()
    chat = env.chat
    const { owner, owner2 } = env
    await footprint(chat, owner)
    const g2Before = await rows(chat, 'qy_message_log', 'group_id', G2)

    const preview = (await owner.del(`/api/v1/members/${zoe.id}?dryRun=1`).expect(200)).body as ErasureReceipt
    expect(preview.scope).toEqual({ groups: 1 })
    // Tables that cannot be limited to a group are left to administrators (said without any count).
    const proofs = preview.places.find((p) => p.place === 'table:qy_lottery_draw')
    expect(proofs).toEqual({ place: 'table:qy_lottery_draw', removed: 0, pseudonymised: 0, note: expect.stringMatching(/administrator/) })
    // Another group of the owner's is refused like a missing group.
    const other = await owner.del(`/api/v1/members/${zoe.id}?groupId=${encodeURIComponent(G2)}`).expect(404)
    const missing = await owner.del(`/api/v1/members/${zoe.id}?groupId=${encodeURIComponent('nope@chatroom')}`).expect(404)
    expect({ ...other.body.error, requestId: 0 }).toEqual({ ...missing.body.error, requestId: 0 })

    const receipt = (await owner.del(`/api/v1/members/${zoe.id}`).expect(200)).body as ErasureReceipt
    expect(receipt.removed).toBe(preview.removed)
    // Gone from g1, untouched in g2 (another owner's group).
    const inGroup = async (group: string): Promise<number> => {
      const r: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_member WHERE member_id = ? AND group_id = ?', [zoe.id, group])
      return Number(r[0]?.n)
    }
    expect(await inGroup(G1)).toBe(0)
    expect(await inGroup(G2)).toBe(1)
    expect(await rows(chat, 'qy_message_log', 'group_id', G2)).toBe(g2Before)
    const left: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_message_log WHERE sender_id = ? AND group_id = ?', [zoe.id, G1])
    expect(Number(left[0]?.n)).toBe(0)
    // The other owner's preview still counts their own data.
    const theirs = (await owner2.del(`/api/v1/members/${zoe.id}?dryRun=1`).expect(200)).body as ErasureReceipt
    expect(theirs.places.find((p) => p.place === 'table:qy_member')?.removed).toBe(1)
  }, 240_000)

  it('keeps the pseudonym key across restarts (generated once, stored in the database), or uses the configured one', async () => {
    const sqlitePath = STORAGE === 'sqlite' ? join(tempDir(), 'keep.sqlite') : undefined
    chat = await Chat.start({ start: START, sqlitePath })
    const first = chat.runtime.erasure.pseudonym(zoe.id)
    expect(first).toMatch(/^[0-9a-f]{64}$/)
    await chat.rehearsal.restart()
    expect(chat.runtime.erasure.pseudonym(zoe.id)).toBe(first)
    await chat.close()
    const key = 'ab'.repeat(32)
    chat = await Chat.start({ start: START, configOverrides: { privacy: { pseudonymKey: key } } })
    expect(chat.runtime.erasure.pseudonym(zoe.id)).toBe(pseudonymOf(Buffer.from(key, 'hex'), zoe.id))
    expect(chat.runtime.erasure.pseudonym(zoe.id)).not.toBe(first)
  }, 120_000)
})
