/**
 * A rebuild never wipes rollups the message log can no longer back (review finding 3: an owner's shorter
 * retention purged the log; rows gone otherwise), and never rebuilds a day other processes may still hold
 * unwritten counts of (finding 11: a `qunyun stats rebuild` process flushes only its own buffers).
 */
import { Chat, type Person } from '../../../test/support/chat'
import { apiAs } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE, tempDir, testConfig } from '../../../test/support/env'
import { G1 } from '../../../test/support/groups'
import { STATS_REBUILD, type StatsRebuild } from '../../contracts/stats'

afterAll(cleanup, 180_000)

const shanghai = (date: string, time = '10:00:00'): number => Date.parse(`${date}T${time}+08:00`)
const bob: Person = { id: 'bob', name: '阿强' }
const carol: Person = { id: 'carol', name: '小雨🌸' }

/** g1's rollup rows of one day that a rebuild rewrites (sorted, as text). */
async function rollups(chat: Chat, day: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const [table, columns] of [['qy_stats_group_day', 'messages, text_count, active'], ['qy_stats_member_day', 'member_id, messages'], ['qy_stats_term_day', 'term, n'], ['qy_stats_group_hour', 'hour, messages, speakers']] as const) {
    const rows: Array<Record<string, unknown>> = await chat.runtime.db.query(`SELECT ${columns} FROM ${table} WHERE group_id = ? AND day = ?`, [G1, day])
    out[table] = rows.map((r) => Object.values(r).map(String).join('|')).sort()
  }
  return out
}

describe(`stats rebuild and the log's retention (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat | undefined
  afterEach(async () => { await chat?.close(); chat = undefined })

  it("refuses days an owner's shorter retention purged from the log, and ranges whose log rows are gone while rollups count them", async () => {
    chat = await Chat.start({ start: shanghai('2026-10-01'), http: true })
    const owner = await apiAs(chat, 'owner', { groups: [G1] })
    await owner.put('/api/v1/retention/policy', { 'message-metadata': 30 }).expect(200)
    const g1 = chat.group('g1')
    await g1.say(bob, '大家好 今天天气不错')
    await g1.say(carol, '周末一起爬山')
    await chat.runtime.flush()
    await chat.rehearsal.advanceTo(shanghai('2026-11-18'))
    await g1.say(bob, '读书会下周见')
    await chat.runtime.flush()
    const october = await rollups(chat, '2026-10-01')
    expect(october.qy_stats_group_day).toEqual(['2|2|2'])
    expect(october.qy_stats_term_day.length).toBeGreaterThan(0)
    await chat.rehearsal.advanceTo(shanghai('2026-11-20'))
    // (The daily job may have purged them already while the clock moved; either way they are gone now.)
    await chat.runtime.retention.purge('message-metadata', { source: 'api' })
    const logged: Array<{ n: number | string }> = await chat.runtime.db.query('SELECT COUNT(*) AS n FROM qy_message_log WHERE group_id = ?', [G1])
    expect(Number(logged[0]?.n)).toBe(1)

    const rebuild: StatsRebuild = chat.runtime.host.service(STATS_REBUILD)
    // The group keeps 30 days of log (its owner's policy), not the deployment's 180.
    await expect(rebuild.rebuild(G1, '2026-10-01', '2026-10-01')).rejects.toThrow(/message log holds complete days from 2026-10-22 only \(retention 30 days\)/)
    expect(await rollups(chat, '2026-10-01')).toEqual(october)

    // Within the retention, but the day's log rows are gone (here deleted by hand): refused, rollups kept.
    const before = await rollups(chat, '2026-11-18')
    expect(before.qy_stats_group_day).toEqual(['1|1|1'])
    await chat.runtime.db.query('DELETE FROM qy_message_log WHERE group_id = ?', [G1])
    await expect(rebuild.rebuild(G1, '2026-11-18', '2026-11-18')).rejects.toThrow(/holds no messages from 2026-11-18 to 2026-11-18 but the rollups count 1/)
    expect(await rollups(chat, '2026-11-18')).toEqual(before)
    // A range with neither log rows nor counted messages is fine (nothing to lose).
    await expect(rebuild.rebuild(G1, '2026-11-17', '2026-11-17')).resolves.toMatchObject({ messages: 0 })
  }, 180_000)

  it("a rebuild in another process refuses a day the server may still hold counts of, and afterwards matches the server's rollups", async () => {
    const config = await testConfig()
    const sqlitePath = `${tempDir()}/shared.sqlite`
    const start = shanghai('2026-12-01', '23:59:00')
    // The server takes messages; a second runtime on the same database stands for `qunyun stats rebuild`.
    chat = await Chat.start({ start, config, sqlitePath })
    const cli = await Chat.start({ start, config, sqlitePath })
    try {
      const g1 = chat.group('g1')
      await g1.say(bob, '今晚的直播 回放 在哪里')
      await g1.say(carol, '直播 回放 在群公告')
      // The server's rollups go out with the next flush; its term counts wait for the next term write.
      await chat.runtime.flush()
      for (const c of [chat, cli]) await c.rehearsal.advanceTo(shanghai('2026-12-02', '00:00:30'))
      const rebuild: StatsRebuild = cli.runtime.host.service(STATS_REBUILD)
      await expect(rebuild.rebuild(G1, '2026-12-01', '2026-12-01')).rejects.toThrow(/2026-12-01 may still have unwritten counts in running processes/)

      // Past the settling time every process has written the day: the rebuild gives the server's own figures.
      for (const c of [chat, cli]) await c.rehearsal.advanceTo(shanghai('2026-12-02', '00:03:00'))
      await chat.runtime.flush()
      const live = await rollups(chat, '2026-12-01')
      expect(live.qy_stats_term_day).toContain('直播|2')
      await expect(rebuild.rebuild(G1, '2026-12-01', '2026-12-01')).resolves.toMatchObject({ messages: 2, content: true })
      await chat.runtime.flush()
      expect(await rollups(chat, '2026-12-01')).toEqual(live)
    } finally {
      await cli.close()
    }
  }, 180_000)
})
