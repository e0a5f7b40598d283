import type { ApiError, JsonSchema } from './api'

/**
 * Validates a value against the JSON Schema the OpenAPI document publishes for a route's body — the one
 * generated from the server's zod schema — so the form shows the server's own limits before saving.
 * Covers what zod's JSON Schema output uses (types, enums, bounds, lengths, patterns, items, required,
 * additionalProperties, unions). The server validates again; its 400 details are shown the same way.
 */
export interface Problem { path: string; message: string }

const typeOf = (value: unknown): string => {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

function typeMatches(expected: string, actual: string): boolean {
  return expected === actual || (expected === 'number' && actual === 'integer')
}

/** Compiles a pattern once; an unsupported one (server-side syntax) is skipped rather than guessed. */
const patterns = new Map<string, RegExp | null>()
function regex(pattern: string): RegExp | null {
  if (!patterns.has(pattern)) {
    try { patterns.set(pattern, new RegExp(pattern, 'u')) } catch { patterns.set(pattern, null) }
  }
  return patterns.get(pattern) ?? null
}

/** The server's 400 details as problems at the form's fields (paths without the leading `body.`). */
export const fromServer = (error: ApiError): Problem[] => error.details.map((d) => ({ path: d.path.replace(/^body\.?/, ''), message: d.message }))

export function validate(schema: JsonSchema, value: unknown, path = ''): Problem[] {
  const out: Problem[] = []
  const add = (message: string): void => { out.push({ path, message }) }
  if (schema.anyOf || schema.oneOf) {
    const options = (schema.anyOf ?? schema.oneOf) as JsonSchema[]
    const results = options.map((s) => validate(s, value, path))
    if (results.some((r) => r.length === 0)) return out
    // The closest option's problems say most.
    return results.sort((a, b) => a.length - b.length)[0] ?? [{ path, message: 'no option matches' }]
  }
  for (const s of schema.allOf ?? []) out.push(...validate(s, value, path))
  const actual = typeOf(value)
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type]
    if (!types.some((t) => typeMatches(t, actual))) {
      add(`expected ${types.join(' or ')}`)
      return out
    }
  }
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) add(`must be ${JSON.stringify(schema.const)}`)
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) add(`one of: ${schema.enum.map(String).join(', ')}`)
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) add(`≥ ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum) add(`≤ ${schema.maximum}`)
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) add(`> ${schema.exclusiveMinimum}`)
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) add(`< ${schema.exclusiveMaximum}`)
  }
  if (typeof value === 'string') {
    const length = [...value].length
    if (schema.minLength !== undefined && length < schema.minLength) add(schema.minLength === 1 ? 'required' : `at least ${schema.minLength} characters`)
    if (schema.maxLength !== undefined && length > schema.maxLength) add(`at most ${schema.maxLength} characters`)
    const re = schema.pattern === undefined ? null : regex(schema.pattern)
    if (re && !re.test(value)) add(`must match ${schema.pattern}`)
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) add(`at least ${schema.minItems} item(s)`)
    if (schema.maxItems !== undefined && value.length > schema.maxItems) add(`at most ${schema.maxItems} item(s)`)
    if (schema.items) value.forEach((item, i) => out.push(...validate(schema.items as JsonSchema, item, join(path, String(i)))))
  }
  if (actual === 'object') {
    const obj = value as Record<string, unknown>
    for (const key of schema.required ?? []) if (!(key in obj)) out.push({ path: join(path, key), message: 'required' })
    for (const [key, v] of Object.entries(obj)) {
      const sub = schema.properties?.[key]
      if (sub) out.push(...validate(sub, v, join(path, key)))
      else if (schema.additionalProperties === false) out.push({ path: join(path, key), message: 'unknown field' })
      else if (typeof schema.additionalProperties === 'object') out.push(...validate(schema.additionalProperties, v, join(path, key)))
    }
  }
  return out
}

const join = (path: string, key: string): string => (path ? `${path}.${key}` : key)

/** The input kind of a field: simple ones get a control, the rest a JSON editor validated the same way. */
export function fieldKind(schema: JsonSchema): 'boolean' | 'number' | 'string' | 'enum' | 'strings' | 'object' | 'json' {
  if (schema.enum && schema.enum.every((e) => typeof e === 'string')) return 'enum'
  const type = Array.isArray(schema.type) ? null : schema.type
  if (type === 'boolean') return 'boolean'
  if (type === 'integer' || type === 'number') return 'number'
  if (type === 'string') return 'string'
  if (type === 'array' && schema.items && !Array.isArray(schema.items.type) && schema.items.type === 'string' && !schema.items.enum) return 'strings'
  if (type === 'object' && schema.properties && schema.additionalProperties === false) return 'object'
  return 'json'
}
