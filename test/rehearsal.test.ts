import { runScript, type TranscriptEntry } from '../src/simulation/script'
import { cleanup, silentLogger, testConfig } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

/** A group of four for the scripts below. */
const GROUP = `
groups:
  - id: club
    name: 打卡群
    members:
      - { id: alice, name: Alice, role: owner, joinedAt: -30d }
      - { id: bob, name: 阿强, joinedAt: -30d }
      - { id: carol, name: 小雨, joinedAt: -30d }
      - { id: dave, name: Dave, joinedAt: -30d }
`

const offset = (entry: TranscriptEntry, start: string): number => Date.parse(entry.at) - Date.parse(start)

/** Offsets from the start of the transcript entries of one kind. */
const times = (result: { start: string; transcript: TranscriptEntry[] }, kind: TranscriptEntry['kind']): number[] =>
  result.transcript.filter((t) => t.kind === kind).map((t) => offset(t, result.start))

const ASKERS = ['alice', 'bob', 'carol', 'dave']

/** Members ask for the leaderboards (answered at once, one reply each) at `asks`, then someone says hello. */
function leaderboardScript(asks: string[], hello: string, head = ''): string {
  const steps = asks.map((at, i) => `  - { at: ${at}, group: club, from: ${ASKERS[i % 4]}, say: ${i % 2 === 0 ? '排行榜' : '积分榜'} }`)
  return `start: "2026-11-23T09:00:00+08:00"\n${head}${GROUP}\ntimeline:\n${steps.join('\n')}\n  - { at: ${hello}, group: club, from: ${ASKERS[asks.length % 4]}, say: 大家好 }\n`
}

describe('rehearsal timing (qunyun simulate)', () => {
  it('sends an answer still held in a batch window when the script ends, at the time the window closes', async () => {
    const config = await testConfig()
    const result = await runScript(`
start: "2026-11-23T07:00:00+08:00"
${GROUP}
timeline:
  - { at: +0s, group: club, from: bob, say: 签到 }
  - { at: +1s, group: club, from: carol, say: 签到 }
`, { config, log: silentLogger })
    const says = result.transcript.filter((t) => t.kind === 'bot.say')
    // Bob's answer goes out at once; Carol's waits for the 5-second batch window — and is not lost.
    expect(says.map((s) => [offset(s, result.start), s.mentions])).toEqual([[0, ['bob']], [5_000, ['carol']]])
    expect(says[1]?.text).toMatch(/签到成功！今天第 2 个签到/)
    expect(result.summary.botMessages).toBe(2)
    expect(result.end).toBe('2026-11-22T23:00:05.000Z')
  })

  it('delivers every message at its scripted time while earlier replies wait for the group’s sending limit', async () => {
    // Two sends at once per group, then one every 10 s; no random pause, so send times are exact.
    const config = await testConfig({ outbound: { perGroup: { perMinute: 6, burst: 2 }, jitterMs: [0, 0] } })
    const result = await runScript(leaderboardScript(['+0s', '+100ms', '+200ms', '+300ms'], '+1s'), { config, log: silentLogger })
    expect(times(result, 'message')).toEqual([0, 100, 200, 300, 1_000])
    // Replies go out when the bucket allows: two at once, then 10 s apart (token-bucket rounding: ±5 ms).
    const replies = times(result, 'bot.say')
    expect(replies).toHaveLength(4)
    for (const [i, expected] of [0, 100, 10_000, 20_000].entries()) expect(Math.abs((replies[i] as number) - expected)).toBeLessThanOrEqual(5)
  })

  it('keeps scripted times with the production sending limits and random pauses', async () => {
    const config = await testConfig({ outbound: { perAccount: { perMinute: 20, burst: 3 }, perGroup: { perMinute: 6, burst: 2 }, jitterMs: [800, 2500] } })
    const result = await runScript(leaderboardScript(['+0s', '+300ms', '+600ms'], '+900ms', 'seed: 3\n'), { config, log: silentLogger })
    expect(times(result, 'message')).toEqual([0, 300, 600, 900])
    const replies = times(result, 'bot.say')
    expect(replies).toHaveLength(3)
    // Each reply after its question plus the random pause (0.8–2.5 s), in order; the third waits for a token.
    expect(replies[0]).toBeGreaterThanOrEqual(800)
    expect(replies[0]).toBeLessThanOrEqual(2_500)
    expect(replies[1]).toBeGreaterThanOrEqual((replies[0] as number) + 800)
    expect(replies[2]).toBeGreaterThanOrEqual(10_000)
  })
})
