import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseScript, runScript, ScriptError } from '../src/simulation/script'
import { cleanup, silentLogger, tempDir, testConfig } from './support/env'

afterAll(cleanup)

const ROOT = join(__dirname, '..')

/** Runs the CLI through ts-node as a user would run `qunyun …`; resolves with exit code and output. */
function cli(args: string[], env: Record<string, string>, onOutput?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli.ts', ...args], {
      cwd: ROOT, env: { ...process.env, NODE_ENV: '', QUNYUN_ENV: 'development', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); onOutput?.(out, child) })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('exit', (code) => resolve({ code, out, err }))
  })
}

describe('qunyun simulate', () => {
  it('plays a scripted conversation and returns the transcript', async () => {
    const config = await testConfig()
    const text = `
start: "2026-11-23T09:00:00+08:00"
groups:
  - id: club
    name: 读书会
    members:
      - { id: alice, name: Alice, role: owner, joinedAt: -30d }
      - { id: bob, name: 阿强 }
timeline:
  - { at: +0s, group: club, from: alice, say: 早上好 }
  - { at: +1m, group: club, join: [{ id: carol, name: 小雨 }], by: alice }
  - { at: +2m, group: club, from: carol, say: 大家好, mentions: [alice] }
  - { at: +3m, group: club, leave: [bob] }
`
    const result = await runScript(text, { config, log: silentLogger })
    expect(result.start).toBe('2026-11-23T01:00:00.000Z')
    expect(result.transcript.map((t) => [t.at, t.kind, t.actor, t.text ?? t.members?.join(',')])).toEqual([
      ['2026-11-23T01:00:00.000Z', 'message', 'alice', '早上好'],
      ['2026-11-23T01:01:00.000Z', 'join', 'alice', 'carol'],
      ['2026-11-23T01:02:00.000Z', 'message', 'carol', '大家好'],
      ['2026-11-23T01:03:00.000Z', 'leave', 'bob', 'bob'],
    ])
    expect(result.summary).toMatchObject({ messages: 2, joins: 1, leaves: 1, botMessages: 0 })
  })

  it('rejects bad scripts with every problem and its place', () => {
    const bad = `
groups:
  - id: club
    name: 读书会
    members: [{ id: alice }]
timeline:
  - { at: soon, group: club, from: alice, say: hi }
  - { at: +1m, group: nowhere, from: alice, say: hi }
  - { at: +2m, group: club, from: mallory, say: hi }
  - { at: +1m, group: club, from: alice, say: back in time }
  - { at: +3m, group: club, leave: [bob] }
`
    expect(() => parseScript(bad)).toThrow(ScriptError)
    // Format and logic problems together, in the order they appear in the file.
    try { parseScript(bad); throw new Error('should have failed') } catch (error) {
      expect((error as ScriptError).problems).toEqual([
        expect.stringMatching(/^timeline\.0\.at: use an offset/),
        'timeline.1.group: no group "nowhere" in groups',
        'timeline.2.from: "mallory" is not a member of "club" at this point',
        'timeline.3.at: time goes backwards (steps must be in time order)',
        'timeline.4.leave: "bob" is not in "club"',
      ])
    }
    const fixed = bad.replace('at: soon', 'at: +0s')
    try { parseScript(fixed); throw new Error('should have failed') } catch (error) {
      expect((error as ScriptError).problems).toEqual([
        'timeline.1.group: no group "nowhere" in groups',
        'timeline.2.from: "mallory" is not a member of "club" at this point',
        'timeline.3.at: time goes backwards (steps must be in time order)',
        'timeline.4.leave: "bob" is not in "club"',
      ])
    }
    expect(() => parseScript('groups: [oops')).toThrow(/not valid YAML/)
  })

  it('checks rule overrides against the features’ schemas, and who invites or renames', () => {
    const script = `
seed: seven
groups:
  - id: club
    name: 读书会
    members: [{ id: alice, role: owner }, { id: bob }]
rules:
  club: { check-in: { batch: { windowMs: -1 } }, lottery2: {} }
  other: { activity: { logText: false } }
timeline:
  - { at: +0s, group: club, join: [carol], by: mallory }
  - { at: +1m, group: club, rename: 新名字, by: zoe }
  - { at: +2m, group: club, from: carol, say: 我是新来的 }
`
    try { parseScript(script); throw new Error('should have failed') } catch (error) {
      expect((error as ScriptError).problems).toEqual([
        expect.stringMatching(/^rules\.club\.check-in\.batch\.windowMs: /),
        expect.stringMatching(/^rules\.club\.lottery2: no feature "lottery2" \(one of .*check-in/),
        'rules.other: no group "other" in groups',
        expect.stringMatching(/^seed: /),
        'timeline.0.by: "mallory" is not a member of "club" at this point',
        'timeline.1.by: "zoe" is not a member of "club" at this point',
      ])
    }
  })

  it('exits non-zero with a clear message on a bad script', async () => {
    const dir = tempDir()
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'groups: []\ntimeline:\n  - { at: soon, group: club, from: mallory, say: hi }\n')
    const result = await cli(['simulate', '--script', file], {})
    expect(result.code).toBe(2)
    expect(result.err).toContain('groups')
    // Every problem at once, format and logic together; nothing on stdout.
    expect(result.err).toContain('timeline.0.at: use an offset')
    expect(result.err).toContain('timeline.0.group: no group "club" in groups')
    expect(result.out).toBe('')
    const missing = await cli(['simulate'], {})
    expect(missing.code).toBe(2)
    expect(missing.err).toContain('--script FILE is required')
  }, 120_000)

  it('prints only the transcript JSON on stdout, so it can be piped', async () => {
    const result = await cli(['simulate', '--script', 'test/fixtures/rehearsal-basic.yaml'], { QUNYUN_LOG_LEVEL: 'debug', QUNYUN_LOG_FORMAT: 'json' })
    expect(result.code).toBe(0)
    const parsed = JSON.parse(result.out) as { start: string; transcript: Array<{ kind: string; actor: string; at: string }> }
    expect(parsed.start).toBe('2026-11-23T01:00:00.000Z')
    // Bob's 签到 at +40s is answered by the bot, after it.
    const checkIn = parsed.transcript.findIndex((t) => t.kind === 'message' && t.actor === 'bob' && t.at === '2026-11-23T01:00:40.000Z')
    expect(checkIn).toBeGreaterThanOrEqual(0)
    expect(parsed.transcript.slice(checkIn).some((t) => t.kind === 'bot.say')).toBe(true)
  }, 120_000)
})

describe('qunyun start', () => {
  it('prints every configuration problem and exits non-zero', async () => {
    const result = await cli(['start'], { QUNYUN_PORT: 'abc', QUNYUN_LOG_LEVEL: 'loud', QUNYUN_DB_URL: 'postgres://nope' })
    expect(result.code).toBe(2)
    expect(result.err).toContain('server.port')
    expect(result.err).toContain('log.level')
    expect(result.err).toContain('database.url')
  }, 120_000)

  it('runs the simulated community, answers curl, and stops cleanly on SIGTERM', async () => {
    const dir = tempDir()
    let port = 0
    let signalled = false
    let groupsSeen = -1
    const env = { QUNYUN_DATA_DIR: dir, QUNYUN_PORT: '0', QUNYUN_SIMULATION: 'on', QUNYUN_LOG_FORMAT: 'json', QUNYUN_DB_URL: '', QUNYUN_REDIS_URL: '', WECHATY_PUPPET_SERVICE_TOKEN: '' }
    // An operator token made with the CLI, as an operator would before calling the API.
    const created = await cli(['token', 'create', '--role', 'operator', '--all-groups', '--name', 'ci'], env)
    expect(created.code).toBe(0)
    expect(created.err).toContain('not shown again')
    const token = created.out.trim()
    expect(token).toMatch(/^qy_[A-Za-z0-9]{38}$/)
    const result = await cli(['start'], env, (out, child) => {
      const listening = /"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out)
      if (listening && !port) port = Number(listening[1])
      if (!signalled && port && out.includes('groups synced at login')) {
        signalled = true
        void fetch(`http://127.0.0.1:${port}/api/v1/groups`, { headers: { Authorization: `Bearer ${token}` } })
          .then(async (res) => { groupsSeen = ((await res.json()) as { items: unknown[] }).items.length })
          .catch(() => undefined)
          .finally(() => child.kill('SIGTERM'))
      }
    })
    expect(result.code).toBe(0)
    expect(groupsSeen).toBe(4)
    expect(result.out).toContain('SIMULATION')
    expect(result.out).toContain('stopped cleanly')
    // JSON lines in production format, never message text at info level.
    const lines = result.out.trim().split('\n').map((l) => JSON.parse(l) as { level: string; message: string })
    expect(lines.every((l) => typeof l.level === 'string')).toBe(true)
  }, 240_000)
})
