import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { parseScript, runScript, ScriptError } from '../src/simulation/script'
import { ConfigError } from '../src/config/load'
import { Runtime, StartAborted } from '../src/main'
import { FEATURES } from '../src/features'
import { captureLogger, cleanup, silentLogger, tempDir, testConfig } from './support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const ROOT = join(__dirname, '..')

/**
 * Runs the built CLI as `npm run qunyun -- …` does (scripts/qunyun.js: compiles when dist/ is stale, then
 * runs dist/src/cli.js in the same process); resolves with exit code and output.
 */
function cli(args: string[], env: Record<string, string>, onOutput?: (text: string, child: ReturnType<typeof spawn>) => void, cwd = ROOT): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts/qunyun.js'), ...args], {
      cwd, env: { ...process.env, NODE_ENV: '', QUNYUN_ENV: 'development', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); onOutput?.(out, child) })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('exit', (code) => resolve({ code, out, err }))
  })
}

// Compile dist/ up front when it is stale (once), so that no test's output includes the build's messages.
beforeAll(async () => {
  const built = await cli(['help'], {})
  expect(built.code).toBe(0)
}, 300_000)

/** Whether something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** What `npm start` did, and the process group it ran in. */
interface NpmRun { code: number | null; signal: NodeJS.Signals | null; out: string; err: string; port: number; group: number }

/**
 * `npm start` exactly as a user (or a supervisor) runs it; once the admin API listens, SIGTERM goes to
 * the npm process's PID — only to it. Resolves when npm has exited.
 */
function npmStartThenSigterm(env: Record<string, string>): Promise<NpmRun> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that anything it leaves behind can be found and killed afterwards.
    const npm = spawn('npm', ['start'], { cwd: ROOT, detached: true, env: { ...process.env, NODE_ENV: '', QUNYUN_ENV: 'development', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let port = 0
    npm.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const url = /"message":"admin API listening".*"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out)
      if (url && !port) {
        port = Number(url[1])
        process.kill(npm.pid as number, 'SIGTERM')
      }
    })
    npm.stderr.on('data', (d: Buffer) => { err += d.toString() })
    npm.once('error', reject)
    npm.once('exit', (code, signal) => resolve({ code, signal, out, err, port, group: npm.pid as number }))
  })
}

/** Kills whatever is left in a process group (nothing, when shutdown works). */
function killGroup(group: number): void {
  try { process.kill(-group, 'SIGKILL') } catch { /* already gone */ }
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
    // Each named by the variable that was set.
    expect(result.err).toContain('QUNYUN_PORT=abc: server.port: must be a port number')
    expect(result.err).toContain('QUNYUN_LOG_LEVEL=loud: log.level: ')
    expect(result.err).toContain('QUNYUN_DB_URL=postgres://nope: database.url: ')
  }, 120_000)

  it('reports a config file that is not YAML by file, line and column alone', async () => {
    const dir = tempDir()
    mkdirSync(join(dir, 'config'))
    copyFileSync(join(ROOT, 'config/default.yaml'), join(dir, 'config/default.yaml'))
    writeFileSync(join(dir, 'config/development.yaml'), 'log:\n  level: [debug\n')
    const result = await cli(['start'], { QUNYUN_DATA_DIR: dir }, undefined, dir)
    expect(result.code).toBe(2)
    expect(result.err).toMatch(/^qunyun: invalid configuration:\n {2}- config\/development\.yaml: line 3, column 1: [^\n]+\n$/)
    expect(existsSync(join(dir, 'qunyun.sqlite'))).toBe(false)
  }, 120_000)

  it('refuses a bad puppet setting before opening anything, without a shutdown trace', async () => {
    const dir = tempDir()
    const result = await cli(['start'], { QUNYUN_DATA_DIR: dir, QUNYUN_PORT: '0', WECHATY_PUPPET: 'padlocal', QUNYUN_DB_URL: '', QUNYUN_REDIS_URL: '' })
    expect(result.code).toBe(2)
    expect(result.err).toBe('qunyun: invalid configuration:\n  - WECHATY_PUPPET: unsupported puppet "padlocal" (use wechaty-puppet-service or wechaty-puppet-mock)\n')
    // Nothing was opened, so nothing was stopped or flushed.
    expect(result.out).not.toMatch(/storage ready|stopping|flush failed|TypeError/)
    expect(existsSync(join(dir, 'qunyun.sqlite'))).toBe(false)
  }, 120_000)

  it('validates bots and rule packs before storage opens, and stops cleanly after a failed start', async () => {
    const rulesDir = tempDir()
    writeFileSync(join(rulesDir, 'default.yaml'), 'activity:\n  logText: maybe\nnothing: {}\n')
    const dataDir = tempDir()
    const config = await testConfig({ rulesDir, dataDir })
    const log = captureLogger()
    const runtime = new Runtime(config, { log, http: false, scheduler: false, simulation: false })
    let problems: string[] = []
    try { runtime.prepare() } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      problems = (error as ConfigError).problems
    }
    expect(problems).toEqual([
      expect.stringMatching(new RegExp(`^${rulesDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/default\\.yaml: activity\\.logText: `)),
      `${rulesDir}/default.yaml: nothing: no feature with rules of this name`,
    ])
    await expect(runtime.start()).rejects.toBeInstanceOf(ConfigError)
    expect(runtime.db).toBeUndefined()
    expect(existsSync(join(dataDir, 'qunyun.sqlite'))).toBe(false)
    await runtime.stop()
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([])

    // A start that fails after storage opened (a feature cannot set up) also stops without errors.
    const broken = { name: 'broken', setup: () => { throw new Error('broken feature') } }
    const halfway = new Runtime(await testConfig({ dataDir }), { log, http: false, scheduler: false, simulation: false, bots: [], features: [...FEATURES, broken] })
    await expect(halfway.start()).rejects.toThrow('broken feature')
    expect(halfway.db.isInitialized).toBe(true)
    await halfway.stop()
    expect(halfway.db.isInitialized).toBe(false)
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([])
    expect(log.lines.map((l) => l.message)).toContain('stopped cleanly')
  }, 120_000)

  it('a stop requested during start (a signal while starting) ends the start early and closes what it opened', async () => {
    const log = captureLogger()
    const runtime = new Runtime(await testConfig({ dataDir: tempDir() }), { log, scheduler: false, simulation: false, bots: [] })
    const starting = runtime.start()
    const stopping = runtime.stop()
    await expect(starting).rejects.toBeInstanceOf(StartAborted)
    await stopping
    expect(runtime.address).toBeNull()
    expect(runtime.db?.isInitialized ?? false).toBe(false)
    expect(log.lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([])
    expect(log.lines.map((l) => l.message)).toContain('stopped cleanly')
  }, 120_000)

  it('npm start stops gracefully on SIGTERM to the npm process; a second start does not recompile', async () => {
    const entry = join(ROOT, 'dist/src/cli.js')
    const env = { QUNYUN_DATA_DIR: tempDir(), QUNYUN_PORT: '0', QUNYUN_SIMULATION: 'on', QUNYUN_LOG_FORMAT: 'json', QUNYUN_DB_URL: '', QUNYUN_REDIS_URL: '', WECHATY_PUPPET_SERVICE_TOKEN: '' }
    for (const round of [1, 2]) {
      const built = existsSync(entry) ? statSync(entry).mtimeMs : 0
      const run = await npmStartThenSigterm(env)
      try {
        expect(run.port).toBeGreaterThan(0)
        expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null })
        expect(run.out).toContain('"message":"signal received; shutting down gracefully"')
        expect(run.out).toContain('"message":"stopped cleanly"')
        // npm exits only after the server has: nothing is left serving the port.
        expect(await listening(run.port)).toBe(false)
        // The launcher built the dashboard too (served at /dashboard by the same server).
        expect(existsSync(join(ROOT, 'dist/dashboard/index.html'))).toBe(true)
        if (round === 2) {
          expect(run.err).not.toContain('compiling TypeScript')
          expect(run.err).not.toContain('building the dashboard')
          expect(run.out).not.toContain('tsc -p')
          expect(statSync(entry).mtimeMs).toBe(built)
        }
      } finally {
        killGroup(run.group)
      }
    }
  }, 300_000)

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

describe('qunyun token', () => {
  it('refuses an unknown role, listing the valid ones, before opening the database', async () => {
    const dir = tempDir()
    const env = { QUNYUN_DATA_DIR: dir, QUNYUN_DB_URL: '', QUNYUN_REDIS_URL: '' }
    const king = await cli(['token', 'create', '--role', 'king'], env)
    expect(king.code).toBe(2)
    expect(king.err).toMatch(/^qunyun token: invalid role "king": use one of admin, owner, operator\n/)
    expect(king.out).toBe('')
    const none = await cli(['token', 'create'], env)
    expect(none.code).toBe(2)
    expect(none.err).toMatch(/^qunyun token: --role is required \(admin, owner, operator\)\n/)
    expect(existsSync(join(dir, 'qunyun.sqlite'))).toBe(false)
  }, 120_000)
  it('stats rebuild: checks its arguments before opening anything, and says when the group does not exist', async () => {
    const dir = tempDir()
    const env = { QUNYUN_DATA_DIR: dir, QUNYUN_DB_URL: '', QUNYUN_REDIS_URL: '' }
    const bad = await cli(['stats', 'rebuild', '--group', 'g1@chatroom', '--from', '2026-11-01'], env)
    expect(bad.code).toBe(2)
    expect(bad.err).toMatch(/^qunyun stats: expected rebuild --group ID --from YYYY-MM-DD --to YYYY-MM-DD\n/)
    expect(existsSync(join(dir, 'qunyun.sqlite'))).toBe(false)
    const missing = await cli(['stats', 'rebuild', '--group', 'nope@chatroom', '--from', '2026-11-01', '--to', '2026-11-02'], env)
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('qunyun stats rebuild: no such group')
    expect(missing.out).toBe('')
  }, 180_000)
})
