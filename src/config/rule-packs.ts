import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { ZodType } from 'zod'
import { ConfigError, readYamlMapping } from './load'

/** A rule pack's values: one slice per feature, as written in the file (each validated by its schema). */
export type RulePack = Record<string, unknown>

/**
 * Reads and validates a rule pack file (rules/<file>) against the features' schemas, without touching
 * storage, so a bad pack stops the start before anything opens. Throws ConfigError listing every problem.
 */
export function readRulePack(rulesDir: string, file: string, schemas: ReadonlyMap<string, ZodType>): RulePack {
  const label = `${rulesDir}/${file}`
  const path = resolve(join(rulesDir, file))
  if (!existsSync(path)) throw new ConfigError([`${label}: rule pack not found`])
  const problems: string[] = []
  const raw = readYamlMapping(path, problems, label)
  if (raw === null) throw new ConfigError(problems)
  const pack: RulePack = {}
  for (const [feature, value] of Object.entries(raw)) {
    const schema = schemas.get(feature)
    if (!schema) { problems.push(`${label}: ${feature}: no feature with rules of this name`); continue }
    const parsed = schema.safeParse(value ?? {})
    if (!parsed.success) for (const i of parsed.error.issues) problems.push(`${label}: ${[feature, ...i.path].join('.')}: ${i.message}`)
    else pack[feature] = value ?? {}
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return pack
}
