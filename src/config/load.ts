import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { redactUrl } from '../kernel/url'
import { BotDefinitionSchema, ConfigSchema, type BotDefinition, type Config } from './config.schema'

/** Invalid configuration: every problem, as "path: reason". */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Where configuration comes from; defaults to the process's environment and working directory. */
export interface ConfigSources {
  env?: NodeJS.ProcessEnv
  /** Directory holding default.yaml, test.yaml, production.yaml. */
  configDir?: string
  /** Extra values merged last (tests, CLI flags). */
  overrides?: Record<string, unknown>
}

type Plain = Record<string, unknown>

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Deep-merges plain objects; arrays and scalars from `b` replace those of `a`. */
export function deepMerge(a: Plain, b: Plain): Plain {
  const out: Plain = { ...a }
  for (const [key, value] of Object.entries(b)) {
    const current = out[key]
    out[key] = isPlain(current) && isPlain(value) ? deepMerge(current, value) : value
  }
  return out
}

/**
 * Reads a YAML file that must hold a mapping. Missing or empty files are empty mappings. A file that does
 * not parse yields one problem — "file: line L, column C: reason", yaml's first error only — and null, so
 * callers skip validating it (its values would be missing, and every follow-on problem would bury the real one).
 */
export function readYamlMapping(file: string, problems: string[], label: string = shownPath(file)): Record<string, unknown> | null {
  if (!existsSync(file)) return {}
  let parsed: unknown
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'))
  } catch (error) {
    problems.push(`${label}: ${yamlErrorText(error)}`)
    return null
  }
  if (parsed === null || parsed === undefined) return {}
  if (!isPlain(parsed)) { problems.push(`${label}: must be a YAML mapping`); return null }
  return parsed
}

/** A file's path as the operator knows it: relative to the working directory when inside it. */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file
}

/** "line L, column C: reason" of a YAML syntax error, without yaml's excerpt of the file. */
function yamlErrorText(error: unknown): string {
  if (error instanceof YAMLParseError) {
    const reason = error.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '')
    const at = error.linePos?.[0]
    return at ? `line ${at.line}, column ${at.col}: ${reason}` : reason
  }
  return error instanceof Error ? error.message : String(error)
}

/** A number when the text is one, otherwise the text (so the schema reports the bad value). */
function num(text: string): number | string {
  return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text
}

function set(target: Plain, path: string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    if (!isPlain(node[key])) node[key] = {}
    node = node[key] as Plain
  }
  node[path[path.length - 1] as string] = value
}

/** Environment variables that override configuration, and where they go. */
export const ENV_OVERRIDES: Array<{ name: string; path: string[]; parse?: (v: string) => unknown; doc: string }> = [
  { name: 'QUNYUN_DB_URL', path: ['database', 'url'], doc: 'mysql://user:pass@host:3306/db — use MySQL instead of the embedded SQLite file' },
  { name: 'QUNYUN_REDIS_URL', path: ['redis', 'url'], doc: 'redis://host:6379/0 — use Redis instead of in-process coordination' },
  { name: 'QUNYUN_PORT', path: ['server', 'port'], parse: num, doc: 'admin API port (default 3000)' },
  { name: 'QUNYUN_HOST', path: ['server', 'host'], doc: 'admin API bind address' },
  { name: 'QUNYUN_DATA_DIR', path: ['dataDir'], doc: 'directory of embedded files (default ./data)' },
  { name: 'QUNYUN_LOG_LEVEL', path: ['log', 'level'], doc: 'error | warn | info | debug' },
  { name: 'QUNYUN_LOG_FORMAT', path: ['log', 'format'], doc: 'json | pretty' },
  { name: 'QUNYUN_TIMEZONE', path: ['timezone'], doc: 'default timezone of groups (default Asia/Shanghai)' },
  { name: 'QUNYUN_REPLICA_ID', path: ['replicas', 'id'], doc: "this replica's name in bot leases and outbound claims (default host:pid:random)" },
  { name: 'QUNYUN_MAX_BOTS', path: ['replicas', 'maxBots'], parse: num, doc: 'most bots this replica runs at once (default: no limit)' },
  { name: 'QUNYUN_REPLICA_WEIGHT', path: ['replicas', 'weight'], parse: num, doc: 'this replica takes bots in proportion to its weight among the live weighted replicas (default: none, take any free bot)' },
  { name: 'QUNYUN_LEASE_TTL_MS', path: ['replicas', 'leaseTtlMs'], parse: num, doc: 'bot lease lifetime; takeover within this + renewEveryMs (default 20000)' },
  { name: 'QUNYUN_PSEUDONYM_KEY', path: ['privacy', 'pseudonymKey'], doc: 'HMAC key of member pseudonyms (64 hex digits; default: generated at first start and kept in the database)' },
  { name: 'QUNYUN_METRICS_TOKEN', path: ['metrics', 'token'], doc: 'bearer token for /metrics (default: open)' },
  { name: 'QUNYUN_SIMULATION', path: ['simulation', 'mode'], doc: 'auto | on | off — the built-in simulated community' },
  { name: 'WECHATY_PUPPET', path: ['puppet', 'name'], doc: 'wechaty-puppet-service for a real WeCom account; wechaty-puppet-mock for the simulation' },
  { name: 'WECHATY_PUPPET_SERVICE_ENDPOINT', path: ['puppet', 'endpoint'], doc: 'host:port of the puppet service, when not discovered from the token' },
  { name: 'WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_CLIENT', path: ['puppet', 'tls', 'disable'], parse: (v) => ['1', 'true', 'yes'].includes(v.toLowerCase()), doc: 'true to talk to a puppet service without TLS (old WorkPro gateways)' },
  { name: 'WECHATY_PUPPET_SERVICE_TLS_CA_CERT', path: ['puppet', 'tls', 'caCert'], doc: 'PEM of the CA for the puppet service' },
  { name: 'WECHATY_PUPPET_SERVICE_TLS_SERVER_NAME', path: ['puppet', 'tls', 'serverName'], doc: 'TLS server name of the puppet service' },
]

/** How an environment variable's value is shown in a problem: quoted when unusual, URLs without passwords, long ones cut. */
function shownValue(value: string): string {
  // Shown as typed, unless it carries a password.
  const text = /\/\/[^/@]*:[^@]*@/.test(value) ? redactUrl(value) : value
  const short = text.length > 60 ? `${text.slice(0, 57)}…` : text
  return /^[\w.:/@+*,~-]+$/.test(short) ? short : JSON.stringify(short)
}

/** The value at `path` in a plain tree (undefined when absent). */
function valueAt(tree: Plain, path: ReadonlyArray<PropertyKey>): unknown {
  let node: unknown = tree
  for (const key of path) node = isPlain(node) ? node[String(key)] : undefined
  return node
}

/**
 * Loads configuration: config/default.yaml, then config/<env>.yaml, then environment variables, then
 * overrides; validates it with one schema. Throws ConfigError listing every problem; a problem caused by
 * an environment variable names it (`QUNYUN_PORT=abc: server.port: …`); a file that is not valid YAML is
 * reported alone (where it breaks), without the follow-on problems of its missing values. Synchronous and
 * side-effect free, so it runs before anything starts. The only module that reads process.env.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env
  const configDir = resolve(sources.configDir ?? 'config')
  const problems: string[] = []
  const envName = env.QUNYUN_ENV || (env.NODE_ENV === 'production' || env.NODE_ENV === 'test' ? env.NODE_ENV : 'development')
  const base = readYamlMapping(join(configDir, 'default.yaml'), problems)
  const layer = readYamlMapping(join(configDir, `${envName}.yaml`), problems)
  if (base === null || layer === null) throw new ConfigError(problems)
  let raw = deepMerge(base, layer)
  raw.env = envName
  // Which variable set which value, so problems with those values name the variable the operator typed.
  const fromEnv: Array<{ name: string; value: string; path: string[]; set: unknown }> = []
  if (env.QUNYUN_ENV) fromEnv.push({ name: 'QUNYUN_ENV', value: env.QUNYUN_ENV, path: ['env'], set: envName })
  for (const o of ENV_OVERRIDES) {
    const value = env[o.name]
    if (value === undefined || value === '') continue
    const parsed = o.parse ? o.parse(value) : value
    set(raw, o.path, parsed)
    fromEnv.push({ name: o.name, value, path: o.path, set: parsed })
  }
  if (sources.overrides) raw = deepMerge(raw, sources.overrides)
  const parsed = ConfigSchema.safeParse(raw)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const where = `${issue.path.join('.') || '(root)'}: ${issue.message}`
      // Blame a variable only for its own value (an override may have replaced it since).
      const source = fromEnv.find((e) => e.path.every((key, i) => issue.path[i] === key) && valueAt(raw, e.path) === e.set)
      problems.push(source ? `${source.name}=${shownValue(source.value)}: ${where}` : where)
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems)
  return parsed.data
}

/**
 * Loads bot definitions from the bots directory (one YAML file per bot account) and resolves each bot's
 * token from the environment variable it names.
 */
export function loadBots(config: Config, env: NodeJS.ProcessEnv = process.env): BotDefinition[] {
  const dir = resolve(config.botsDir)
  const problems: string[] = []
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort() : []
  const forced = config.puppet.name
  if (forced && !['wechaty-puppet-service', 'wechaty-puppet-mock', 'mock'].includes(forced)) {
    throw new ConfigError([`WECHATY_PUPPET: unsupported puppet "${forced}" (use wechaty-puppet-service or wechaty-puppet-mock)`])
  }
  const bots: BotDefinition[] = []
  for (const file of files) {
    const raw = readYamlMapping(join(dir, file), problems, `${config.botsDir}/${file}`)
    if (raw === null) continue
    const parsed = BotDefinitionSchema.safeParse(raw)
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${config.botsDir}/${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
      continue
    }
    const def = parsed.data
    const token = env[def.tokenEnv]?.trim() || null
    let resolvedPuppet: BotDefinition['resolvedPuppet']
    if (forced) {
      resolvedPuppet = forced === 'wechaty-puppet-service' ? 'wechaty-puppet-service' : 'mock'
    } else {
      resolvedPuppet = def.puppet === 'auto' ? (token ? 'wechaty-puppet-service' : 'mock') : def.puppet
    }
    let wecomSecrets: BotDefinition['wecomSecrets']
    if (def.channel !== 'puppet' && def.wecom) {
      const w = def.wecom
      const read = (name: string): string => {
        const value = env[name]?.trim() ?? ''
        if (!value) problems.push(`${config.botsDir}/${file}: channel ${def.channel} needs $${name}`)
        return value
      }
      wecomSecrets = {
        secret: read(w.secretEnv), callbackToken: read(w.callbackTokenEnv), encodingAesKey: read(w.aesKeyEnv),
        robotKeys: Object.fromEntries(w.robots.map((r) => [r.groupId, read(r.keyEnv)])),
      }
      if (wecomSecrets.encodingAesKey && !/^[A-Za-z0-9+/]{43}$/.test(wecomSecrets.encodingAesKey)) problems.push(`${config.botsDir}/${file}: $${w.aesKeyEnv} must be the 43-character EncodingAESKey`)
      if (def.channel === 'official') {
        bots.push({ ...def, resolvedPuppet: 'mock', token: null, file, wecomSecrets })
        continue
      }
    }
    if (resolvedPuppet === 'wechaty-puppet-service' && !token) {
      problems.push(`${config.botsDir}/${file}: puppet wechaty-puppet-service needs a token in $${def.tokenEnv}`)
      continue
    }
    bots.push({ ...def, resolvedPuppet, token, file, wecomSecrets })
  }
  const ids = new Set<string>()
  for (const bot of bots) {
    if (ids.has(bot.id)) problems.push(`${config.botsDir}: bot id "${bot.id}" is defined twice`)
    ids.add(bot.id)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  if (bots.length === 0) {
    // No definitions: one default bot, so a fresh checkout still starts.
    const token = env.WECHATY_PUPPET_SERVICE_TOKEN?.trim() || null
    const wantsService = config.puppet.name === 'wechaty-puppet-service' || (!config.puppet.name && token !== null)
    if (wantsService && !token) throw new ConfigError(['WECHATY_PUPPET_SERVICE_TOKEN: required for wechaty-puppet-service'])
    bots.push({ id: 'main', puppet: 'auto', channel: 'puppet', tokenEnv: 'WECHATY_PUPPET_SERVICE_TOKEN', rulePack: 'default.yaml', groups: 'all', resolvedPuppet: wantsService ? 'wechaty-puppet-service' : 'mock', token, file: '(built-in)' })
  }
  return bots
}
