import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ConfigError, deepMerge, ENV_OVERRIDES, loadBots, loadConfig } from './load'
import { BotDefinitionSchema, ConfigSchema, isTimezone, type Config } from './config.schema'

const CONFIG_DIR = resolve(__dirname, '../../config')

const temps: string[] = []
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `qunyun-${prefix}-`))
  temps.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true })
})

/** Calls `fn`, expecting a ConfigError; returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return error as ConfigError
  }
  throw new Error('expected a ConfigError, nothing was thrown')
}

/** The real defaults, isolated from the process environment. */
const load = (env: NodeJS.ProcessEnv = {}, overrides?: Record<string, unknown>): Config =>
  loadConfig({ env, configDir: CONFIG_DIR, overrides })

describe('loadConfig', () => {
  describe('defaults from config/', () => {
    it('loads default.yaml as the development environment', () => {
      const config = load()
      expect(config.env).toBe('development')
      expect(config.server).toEqual({ host: '127.0.0.1', port: 3000 })
      expect(config.dataDir).toBe('./data')
      expect(config.database).toEqual({ url: null, sqliteFile: 'qunyun.sqlite', logging: false, writerThread: false })
      expect(config.redis.url).toBeNull()
      expect(config.log).toEqual({ level: 'info', format: 'pretty' })
      expect(config.timezone).toBe('Asia/Shanghai')
      expect(config.puppet.name).toBeNull()
      expect(config.outbound.perGroup).toEqual({ perMinute: 6, burst: 2 })
      expect(config.outbound.jitterMs).toEqual([800, 2500])
      expect(config.botsDir).toBe('bots')
    })

    it('does not read process.env when an env is given', () => {
      const saved = process.env.QUNYUN_PORT
      process.env.QUNYUN_PORT = '4444'
      try {
        expect(load().server.port).toBe(3000)
      } finally {
        if (saved === undefined) delete process.env.QUNYUN_PORT
        else process.env.QUNYUN_PORT = saved
      }
    })

    it('the loaded defaults satisfy the schema as they are', () => {
      expect(ConfigSchema.safeParse(load()).success).toBe(true)
    })
  })

  describe('environment files', () => {
    it('NODE_ENV=test merges test.yaml over the defaults', () => {
      const config = load({ NODE_ENV: 'test' })
      expect(config.env).toBe('test')
      expect(config.server.port).toBe(0)
      expect(config.server.host).toBe('127.0.0.1') // untouched keys keep the default
      expect(config.dataDir).toBe('./data/test')
      expect(config.log.level).toBe('warn')
      expect(config.log.format).toBe('pretty')
      expect(config.outbound.jitterMs).toEqual([0, 0])
      expect(config.outbound.perGroup).toEqual({ perMinute: 6000, burst: 1000 })
      expect(config.outbound.maxAttempts).toBe(4)
      expect(config.simulation.mode).toBe('off')
    })

    it('NODE_ENV=production picks production.yaml', () => {
      const config = load({ NODE_ENV: 'production' })
      expect(config.env).toBe('production')
      expect(config.server).toEqual({ host: '0.0.0.0', port: 3000 })
      expect(config.log.format).toBe('json')
      expect(config.simulation.mode).toBe('off')
    })

    it('another NODE_ENV means development', () => {
      expect(load({ NODE_ENV: 'staging' }).env).toBe('development')
    })

    it('QUNYUN_ENV wins over NODE_ENV', () => {
      const config = load({ NODE_ENV: 'production', QUNYUN_ENV: 'test' })
      expect(config.env).toBe('test')
      expect(config.server.port).toBe(0)
    })

    it('an unknown QUNYUN_ENV is a problem on "env", naming the variable', () => {
      const error = configError(() => load({ QUNYUN_ENV: 'staging' }))
      expect(error.problems).toHaveLength(1)
      expect(error.problems[0]).toMatch(/^QUNYUN_ENV=staging: env: /)
    })
  })

  describe('environment variables', () => {
    it('QUNYUN_DB_URL, QUNYUN_REDIS_URL, QUNYUN_PORT, QUNYUN_DATA_DIR override the files', () => {
      const config = load({
        NODE_ENV: 'test',
        QUNYUN_DB_URL: 'mysql://u:p@db:3306/qunyun',
        QUNYUN_REDIS_URL: 'rediss://cache:6380/1',
        QUNYUN_PORT: '8080',
        QUNYUN_DATA_DIR: '/var/lib/qunyun',
      })
      expect(config.database.url).toBe('mysql://u:p@db:3306/qunyun')
      expect(config.redis.url).toBe('rediss://cache:6380/1')
      expect(config.server.port).toBe(8080)
      expect(config.dataDir).toBe('/var/lib/qunyun')
      // Siblings of overridden keys are kept.
      expect(config.database.sqliteFile).toBe('qunyun.sqlite')
      expect(config.redis.keyPrefix).toBe('qunyun:')
    })

    it('the other documented variables land where they say', () => {
      const config = load({
        QUNYUN_HOST: '0.0.0.0',
        QUNYUN_LOG_LEVEL: 'debug',
        QUNYUN_LOG_FORMAT: 'json',
        QUNYUN_TIMEZONE: 'Europe/Berlin',
        QUNYUN_SIMULATION: 'on',
        WECHATY_PUPPET: 'wechaty-puppet-service',
        WECHATY_PUPPET_SERVICE_ENDPOINT: '10.0.0.1:8788',
        WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_CLIENT: 'TRUE',
        WECHATY_PUPPET_SERVICE_TLS_CA_CERT: '-----BEGIN CERTIFICATE-----',
        WECHATY_PUPPET_SERVICE_TLS_SERVER_NAME: 'puppet.local',
      })
      expect(config.server.host).toBe('0.0.0.0')
      expect(config.log).toEqual({ level: 'debug', format: 'json' })
      expect(config.timezone).toBe('Europe/Berlin')
      expect(config.simulation.mode).toBe('on')
      expect(config.puppet).toMatchObject({
        name: 'wechaty-puppet-service',
        endpoint: '10.0.0.1:8788',
        tls: { disable: true, caCert: '-----BEGIN CERTIFICATE-----', serverName: 'puppet.local' },
      })
    })

    it.each([['1', true], ['yes', true], ['true', true], ['0', false], ['no', false], ['false', false]])(
      'WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_CLIENT=%s → tls.disable %s',
      (value, expected) => {
        expect(load({ WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_CLIENT: value }).puppet.tls.disable).toBe(expected)
      },
    )

    it('ignores empty variables', () => {
      const config = load({ QUNYUN_PORT: '', QUNYUN_DB_URL: '', QUNYUN_LOG_LEVEL: '' })
      expect(config.server.port).toBe(3000)
      expect(config.database.url).toBeNull()
      expect(config.log.level).toBe('info')
    })

    it('overrides are merged last, over environment variables', () => {
      const config = load({ QUNYUN_PORT: '8080' }, { server: { port: 9090 }, outbound: { jitterMs: [1, 2] } })
      expect(config.server).toEqual({ host: '127.0.0.1', port: 9090 })
      expect(config.outbound.jitterMs).toEqual([1, 2])
      expect(config.outbound.maxAttempts).toBe(4)
    })

    it('every override has a name, a path and documentation', () => {
      const names = ENV_OVERRIDES.map((o) => o.name)
      expect(new Set(names).size).toBe(names.length)
      for (const o of ENV_OVERRIDES) {
        expect(o.path.length).toBeGreaterThan(0)
        expect(o.doc.length).toBeGreaterThan(0)
      }
      expect(names).toEqual(expect.arrayContaining(['QUNYUN_DB_URL', 'QUNYUN_REDIS_URL', 'QUNYUN_PORT', 'QUNYUN_DATA_DIR', 'WECHATY_PUPPET']))
    })
  })

  describe('invalid configuration', () => {
    it('lists every problem with its path, all in one error', () => {
      const error = configError(() => load(
        { QUNYUN_PORT: 'abc', QUNYUN_DB_URL: 'postgres://x', QUNYUN_LOG_LEVEL: 'loud' },
        { bogus: true },
      ))
      expect(error.name).toBe('ConfigError')
      // A problem caused by a variable starts with it ("NAME=value: "), then the path as for any other.
      const paths = error.problems.map((p) => p.replace(/^[A-Z_]+=\S*: /, '')).map((p) => p.slice(0, p.indexOf(': ')))
      expect(paths.sort()).toEqual(['(root)', 'database.url', 'log.level', 'server.port'])
      expect(error.problems).toHaveLength(4)
      expect(error.problems).toEqual(expect.arrayContaining([
        'QUNYUN_PORT=abc: server.port: must be a port number (0–65535; 0 picks a free one)',
        'QUNYUN_DB_URL=postgres://x: database.url: must be a mysql://user:pass@host:port/db URL',
        expect.stringMatching(/^QUNYUN_LOG_LEVEL=loud: log\.level: .*"error"/),
        expect.stringMatching(/^\(root\): .*bogus/),
      ]))
      // The message lists them too.
      expect(error.message).toMatch(/^invalid configuration:\n/)
      for (const problem of error.problems) expect(error.message).toContain(`  - ${problem}`)
    })

    it('reports an unknown nested key with its parent path, alongside other problems', () => {
      const error = configError(() => load(
        { QUNYUN_REDIS_URL: 'http://cache', QUNYUN_TIMEZONE: 'Mars/Olympus_Mons' },
        { server: { hostname: 'x' } },
      ))
      expect(error.problems).toEqual(expect.arrayContaining([
        expect.stringMatching(/^server: .*hostname/),
        'QUNYUN_REDIS_URL=http://cache: redis.url: must be a redis:// or rediss:// URL',
        'QUNYUN_TIMEZONE=Mars/Olympus_Mons: timezone: unknown IANA timezone',
      ]))
      expect(error.problems).toHaveLength(3)
    })

    it.each([
      ['QUNYUN_PORT', '70000', 'server.port'],
      ['QUNYUN_PORT', '3000.5', 'server.port'],
      ['QUNYUN_PORT', ' ', 'server.port'],
      ['QUNYUN_LOG_FORMAT', 'xml', 'log.format'],
      ['QUNYUN_SIMULATION', 'maybe', 'simulation.mode'],
      ['QUNYUN_DB_URL', 'mysql:/broken', 'database.url'],
    ])('%s=%j is a problem on %s, naming the variable and its value', (name, value, path) => {
      const error = configError(() => load({ [name]: value }))
      expect(error.problems).toHaveLength(1)
      const shown = /^[\w.:/-]+$/.test(value) ? value : JSON.stringify(value)
      expect(error.problems[0]?.startsWith(`${name}=${shown}: ${path}: `)).toBe(true)
    })

    it('says what a port must be, not what zod expected', () => {
      expect(configError(() => load({ QUNYUN_PORT: 'abc' })).problems)
        .toEqual(['QUNYUN_PORT=abc: server.port: must be a port number (0–65535; 0 picks a free one)'])
      expect(configError(() => load({}, { server: { port: 70000 } })).problems)
        .toEqual(['server.port: must be a port number (0–65535; 0 picks a free one)'])
    })

    it('never prints a password from a variable', () => {
      const error = configError(() => load({ QUNYUN_DB_URL: 'postgres://qunyun:s3cret@db:5432/qunyun' }))
      expect(error.problems).toEqual(['QUNYUN_DB_URL=postgres://qunyun:***@db:5432/qunyun: database.url: must be a mysql://user:pass@host:port/db URL'])
      expect(error.message).not.toContain('s3cret')
    })

    it('blames a value replaced by an override on the override, not on the variable', () => {
      const error = configError(() => load({ QUNYUN_PORT: '8080' }, { server: { port: -1 } }))
      expect(error.problems).toEqual([expect.stringMatching(/^server\.port: /)])
    })

    it('cross-field rules report their path', () => {
      const jitter = configError(() => load({}, { outbound: { jitterMs: [500, 100] } }))
      expect(jitter.problems).toEqual([expect.stringMatching(/^outbound\.jitterMs: min must be ≤ max/)])
      const members = configError(() => load({}, { simulation: { minMembers: 100, maxMembers: 50 } }))
      expect(members.problems).toEqual(['simulation.minMembers: minMembers must be ≤ maxMembers'])
    })
  })

  describe('YAML files', () => {
    it('reports a YAML syntax error with the file name, line and column, and nothing else', () => {
      const dir = tempDir('cfg')
      writeFileSync(join(dir, 'default.yaml'), 'server:\n  port: [1, 2\n')
      const error = configError(() => loadConfig({ env: {}, configDir: dir }))
      const file = join(dir, 'default.yaml')
      expect(error.problems[0]?.startsWith(`${file}: `)).toBe(true)
      expect(error.message).toContain(file)
      // Only the syntax error: no follow-on "server: expected object" problems, no excerpt of the file.
      expect(error.problems).toEqual([expect.stringMatching(new RegExp(`^${escape(file)}: line 3, column 1: \\S.*[^:]$`))])
      expect(error.message.trim().split('\n')).toHaveLength(2)
    })

    it('reports a syntax error in the environment file with that file name', () => {
      const dir = tempDir('cfg')
      writeFileSync(join(dir, 'default.yaml'), 'dataDir: ./d\n')
      writeFileSync(join(dir, 'test.yaml'), 'log: {level: warn\n')
      const error = configError(() => loadConfig({ env: { NODE_ENV: 'test' }, configDir: dir }))
      expect(error.problems.some((p) => p.startsWith(`${join(dir, 'test.yaml')}: `))).toBe(true)
      expect(error.problems.some((p) => p.startsWith(`${join(dir, 'default.yaml')}: `))).toBe(false)
      expect(error.problems).toEqual([expect.stringMatching(new RegExp(`^${escape(join(dir, 'test.yaml'))}: line 2, column 1: `))])
    })

    it('rejects a file that is not a mapping', () => {
      const dir = tempDir('cfg')
      writeFileSync(join(dir, 'default.yaml'), '- a\n- b\n')
      const error = configError(() => loadConfig({ env: {}, configDir: dir }))
      expect(error.problems).toContain(`${join(dir, 'default.yaml')}: must be a YAML mapping`)
    })

    it('treats an empty file as empty and missing directories as no files', () => {
      const dir = tempDir('cfg')
      writeFileSync(join(dir, 'default.yaml'), '# only a comment\n')
      const error = configError(() => loadConfig({ env: {}, configDir: dir }))
      // Only schema problems (required keys), no file problems.
      expect(error.problems.every((p) => !p.includes(dir))).toBe(true)
      expect(error.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^server: /), expect.stringMatching(/^dataDir: /)]))
    })

    it('a complete config in a temp dir loads', () => {
      const dir = tempDir('cfg')
      // Reuse the real defaults via overrides of an empty directory.
      const full = load()
      const { env: _env, ...rest } = full
      const config = loadConfig({ env: {}, configDir: dir, overrides: { ...rest, dataDir: '/tmp/x' } })
      expect(config.dataDir).toBe('/tmp/x')
    })
  })
})

describe('deepMerge', () => {
  it('merges plain objects deeply and replaces arrays and scalars', () => {
    expect(deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: { e: 1 } })).toEqual({ a: { b: 1, c: [3] }, d: { e: 1 } })
  })

  it('does not mutate its inputs', () => {
    const a = { x: { y: 1 } }
    deepMerge(a, { x: { z: 2 } })
    expect(a).toEqual({ x: { y: 1 } })
  })
})

describe('isTimezone', () => {
  it('accepts IANA names and rejects others', () => {
    expect(isTimezone('Asia/Shanghai')).toBe(true)
    expect(isTimezone('UTC')).toBe(true)
    expect(isTimezone('Mars/Base')).toBe(false)
  })
})

describe('loadBots', () => {
  /** A config whose bots come from a fresh temp dir with `files`. */
  function withBots(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): Config {
    const dir = tempDir('bots')
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
    return load(env, { botsDir: dir })
  }

  const OFFICIAL = [
    'id: corp', 'channel: official', 'wecom:', '  corpId: wwcorp0001', '  robots:', '    - { groupId: wrGroup1, keyEnv: ROBOT_KEY_1 }',
    '  corpTags: { 活跃: etACTIVE01 }',
  ].join('\n')
  const WECOM_ENV = { WECOM_SECRET: 's3cret', WECOM_CALLBACK_TOKEN: 'cbtoken', WECOM_ENCODING_AES_KEY: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', ROBOT_KEY_1: 'robot-key' }

  it('an official-API bot reads its secrets from the variables it names and needs no puppet token', () => {
    const [bot] = loadBots(withBots({ 'corp.yaml': OFFICIAL }), WECOM_ENV)
    expect(bot).toMatchObject({ id: 'corp', channel: 'official', wecom: { corpId: 'wwcorp0001', apiBase: 'https://qyapi.weixin.qq.com', timestampWindowSeconds: 300, corpTags: { 活跃: 'etACTIVE01' } } })
    expect(bot?.wecomSecrets).toEqual({ secret: 's3cret', callbackToken: 'cbtoken', encodingAesKey: WECOM_ENV.WECOM_ENCODING_AES_KEY, robotKeys: { wrGroup1: 'robot-key' } })
  })

  it('an official-API bot without its secrets, a bad EncodingAESKey or a wecom section is a ConfigError naming each', () => {
    expect(() => loadBots(withBots({ 'corp.yaml': OFFICIAL }), { ...WECOM_ENV, WECOM_SECRET: '', ROBOT_KEY_1: '' })).toThrow(/WECOM_SECRET[\s\S]*ROBOT_KEY_1/)
    expect(() => loadBots(withBots({ 'corp.yaml': OFFICIAL }), { ...WECOM_ENV, WECOM_ENCODING_AES_KEY: 'short' })).toThrow(/43-character EncodingAESKey/)
    expect(() => loadBots(withBots({ 'corp.yaml': 'id: corp\nchannel: both' }), {})).toThrow(/wecom: channel official or both needs a wecom section/)
  })

  it('gives one built-in mock bot when the bots dir is empty', () => {
    const bots = loadBots(withBots({}), {})
    expect(bots).toEqual([{
      id: 'main', puppet: 'auto', tokenEnv: 'WECHATY_PUPPET_SERVICE_TOKEN', rulePack: 'default.yaml', groups: 'all',
      resolvedPuppet: 'mock', token: null, file: '(built-in)', channel: 'puppet',
    }])
  })

  it('gives the built-in bot when the bots dir does not exist', () => {
    const config = load({}, { botsDir: join(tempDir('bots'), 'missing') })
    expect(loadBots(config, {}).map((b) => [b.id, b.file])).toEqual([['main', '(built-in)']])
  })

  it('the built-in bot uses the puppet service when WECHATY_PUPPET_SERVICE_TOKEN is set', () => {
    const bots = loadBots(withBots({}), { WECHATY_PUPPET_SERVICE_TOKEN: ' puppet_workpro_abc ' })
    expect(bots).toHaveLength(1)
    expect(bots[0]).toMatchObject({ id: 'main', resolvedPuppet: 'wechaty-puppet-service', token: 'puppet_workpro_abc' })
  })

  it('the built-in bot with WECHATY_PUPPET=wechaty-puppet-service and no token is a ConfigError', () => {
    const config = withBots({}, { WECHATY_PUPPET: 'wechaty-puppet-service' })
    const error = configError(() => loadBots(config, {}))
    expect(error.problems).toEqual(['WECHATY_PUPPET_SERVICE_TOKEN: required for wechaty-puppet-service'])
  })

  it('ignores files that are not YAML', () => {
    const config = withBots({ 'README.md': '# bots', 'notes.txt': 'id: x' })
    expect(loadBots(config, {}).map((b) => b.file)).toEqual(['(built-in)'])
  })

  it('puppet auto with its token variable set resolves to wechaty-puppet-service (token trimmed)', () => {
    const config = withBots({ 'sales.yaml': 'id: sales\nname: 销售助手\npuppet: auto\ntokenEnv: SALES_TOKEN\n' })
    const bots = loadBots(config, { SALES_TOKEN: '  tok-123\n' })
    expect(bots).toEqual([{
      id: 'sales', name: '销售助手', puppet: 'auto', tokenEnv: 'SALES_TOKEN', rulePack: 'default.yaml', groups: 'all',
      resolvedPuppet: 'wechaty-puppet-service', token: 'tok-123', file: 'sales.yaml', channel: 'puppet',
    }])
  })

  it('puppet auto without a token (unset or blank) resolves to mock', () => {
    const config = withBots({ 'a.yaml': 'id: a\ntokenEnv: A_TOKEN\n', 'b.yml': 'id: b\ntokenEnv: B_TOKEN\n' })
    const bots = loadBots(config, { B_TOKEN: '   ' })
    expect(bots.map((b) => [b.id, b.resolvedPuppet, b.token])).toEqual([['a', 'mock', null], ['b', 'mock', null]])
  })

  it('puppet auto reads the token only from the variable the bot names', () => {
    const config = withBots({ 'a.yaml': 'id: a\ntokenEnv: A_TOKEN\n' })
    expect(loadBots(config, { WECHATY_PUPPET_SERVICE_TOKEN: 'other' })[0]?.resolvedPuppet).toBe('mock')
  })

  it('wechaty-puppet-service without a token is a ConfigError naming the file and variable', () => {
    const config = withBots({ 'ops.yaml': 'id: ops\npuppet: wechaty-puppet-service\ntokenEnv: OPS_TOKEN\n' })
    const error = configError(() => loadBots(config, {}))
    expect(error.problems).toEqual([`${config.botsDir}/ops.yaml: puppet wechaty-puppet-service needs a token in $OPS_TOKEN`])
  })

  it('puppet mock stays mock even with a token', () => {
    const config = withBots({ 'm.yaml': 'id: m\npuppet: mock\n' })
    expect(loadBots(config, { WECHATY_PUPPET_SERVICE_TOKEN: 't' })[0]).toMatchObject({ resolvedPuppet: 'mock', token: 't' })
  })

  it('rejects duplicate bot ids across files', () => {
    const config = withBots({ 'one.yaml': 'id: same\n', 'two.yaml': 'id: same\n', 'three.yaml': 'id: other\n' })
    const error = configError(() => loadBots(config, {}))
    expect(error.problems).toEqual([`${config.botsDir}: bot id "same" is defined twice`])
  })

  it('returns bots in file-name order', () => {
    const config = withBots({ 'b.yaml': 'id: bravo\n', 'a.yaml': 'id: alpha\n', 'c.yml': 'id: charlie\n' })
    expect(loadBots(config, {}).map((b) => b.id)).toEqual(['alpha', 'bravo', 'charlie'])
  })

  it('WECHATY_PUPPET=wechaty-puppet-mock forces mock for every bot, whatever its file and token say', () => {
    const config = withBots(
      { 's.yaml': 'id: s\npuppet: wechaty-puppet-service\n', 'a.yaml': 'id: a\npuppet: auto\n' },
      { WECHATY_PUPPET: 'wechaty-puppet-mock' },
    )
    const bots = loadBots(config, { WECHATY_PUPPET_SERVICE_TOKEN: 'tok' })
    expect(bots.map((b) => [b.id, b.resolvedPuppet])).toEqual([['a', 'mock'], ['s', 'mock']])
  })

  it('WECHATY_PUPPET=wechaty-puppet-service forces the service (which then needs the token)', () => {
    const config = withBots({ 'm.yaml': 'id: m\npuppet: mock\n' }, { WECHATY_PUPPET: 'wechaty-puppet-service' })
    expect(loadBots(config, { WECHATY_PUPPET_SERVICE_TOKEN: 'tok' })[0]?.resolvedPuppet).toBe('wechaty-puppet-service')
    expect(configError(() => loadBots(config, {})).problems).toEqual([`${config.botsDir}/m.yaml: puppet wechaty-puppet-service needs a token in $WECHATY_PUPPET_SERVICE_TOKEN`])
  })

  it('rejects an unsupported WECHATY_PUPPET', () => {
    const config = withBots({ 'a.yaml': 'id: a\n' }, { WECHATY_PUPPET: 'wechaty-puppet-padlocal' })
    const error = configError(() => loadBots(config, {}))
    expect(error.problems).toEqual(['WECHATY_PUPPET: unsupported puppet "wechaty-puppet-padlocal" (use wechaty-puppet-service or wechaty-puppet-mock)'])
    // Also with an empty bots directory (the built-in bot), and listed once however many files there are.
    expect(() => loadBots(withBots({}, { WECHATY_PUPPET: 'wechaty-puppet-padlocal' }), {})).toThrow(ConfigError)
    const many = configError(() => loadBots(withBots({ 'a.yaml': 'id: a\n', 'b.yaml': 'id: b\n' }, { WECHATY_PUPPET: 'wechaty-puppet-padlocal' }), {}))
    expect(many.problems).toHaveLength(1)
  })

  it('reports schema problems of a bot file with the file name and field path, together with other files', () => {
    const config = withBots({
      'bad-id.yaml': 'id: Main Bot\n',
      'bad-puppet.yaml': 'id: ok\npuppet: padlocal\nextra: 1\n',
      'not-a-map.yaml': '- 1\n',
    })
    const error = configError(() => loadBots(config, {}))
    const dir = config.botsDir
    expect(error.problems).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^${escape(dir)}/bad-id\\.yaml: id: lowercase letters`)),
      expect.stringMatching(new RegExp(`^${escape(dir)}/bad-puppet\\.yaml: puppet: `)),
      expect.stringMatching(new RegExp(`^${escape(dir)}/bad-puppet\\.yaml: \\(root\\): .*extra`)),
      `${join(resolve(dir), 'not-a-map.yaml')}: must be a YAML mapping`,
    ]))
  })

  it('reports a bot file that is not valid YAML once, with line and column, beside the other files\' problems', () => {
    const config = withBots({ 'broken.yaml': 'id: a\nname: [x\n', 'bad-id.yaml': 'id: Main Bot\n' })
    const error = configError(() => loadBots(config, {}))
    expect(error.problems).toEqual([
      expect.stringMatching(new RegExp(`^${escape(config.botsDir)}/bad-id\\.yaml: id: lowercase letters`)),
      expect.stringMatching(new RegExp(`^${escape(config.botsDir)}/broken\\.yaml: line \\d+, column \\d+: `)),
    ])
  })

  it('fills bot defaults from the schema', () => {
    expect(BotDefinitionSchema.parse({ id: 'x' })).toEqual({ id: 'x', puppet: 'auto', tokenEnv: 'WECHATY_PUPPET_SERVICE_TOKEN', rulePack: 'default.yaml', groups: 'all', channel: 'puppet' })
  })

  it('the repository bots/ definitions load', () => {
    const config = load({}, { botsDir: resolve(__dirname, '../../bots') })
    const bots = loadBots(config, {})
    expect(bots.length).toBeGreaterThan(0)
    // No tokens in this env: every auto bot is simulated.
    for (const bot of bots) if (bot.puppet !== 'wechaty-puppet-service') expect(bot.resolvedPuppet).toBe('mock')
  })
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
