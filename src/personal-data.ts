import { getMetadataArgsStorage } from 'typeorm'
import { CORE_PERSONAL_DATA } from './adapters/db/core.entity'
import { WECOM_PERSONAL_DATA } from './adapters/wecom/wecom.entity'
import type { DeclaredPersonalData, PersonalDataDeclaration } from './kernel/personal-data'
import { dataMap } from './kernel/erasure'
import { ageText } from './kernel/retention'

/**
 * Every personal-data declaration of the program: the core tables' and each feature's, in registry order.
 * Retention purges, erasure, the residue scan and the data map all walk this one list.
 */
export function declaredPersonalData(features: ReadonlyArray<{ name: string; personalData?: PersonalDataDeclaration }>): DeclaredPersonalData[] {
  const out: DeclaredPersonalData[] = [{ owner: 'core', declaration: CORE_PERSONAL_DATA }, { owner: 'wecom', declaration: WECOM_PERSONAL_DATA }]
  for (const f of features) if (f.personalData) out.push({ owner: f.name, declaration: f.personalData })
  return out
}

/** Database columns that name a member: any entity with one must declare the table and the column. */
export const MEMBER_COLUMN = /^(member_id|sender_id|inviter_id|actor_id|owner_id|winner_id|contact_id|puppet_id|official_id)$/

/**
 * Tables holding member ids that no declaration covers, and member-id columns a declaration leaves out
 * (`table.column`). The declaration-coverage test requires none, so a table added without its
 * `personalData` fails the build.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM entity constructors of any shape
export function undeclaredMemberColumns(entities: readonly Function[], declared: readonly DeclaredPersonalData[]): string[] {
  const storage = getMetadataArgsStorage()
  const tables = new Map<unknown, Set<string>>()
  for (const d of declared) {
    for (const t of d.declaration.tables) tables.set(t.entity, new Set([...(t.memberColumns ?? []), ...(t.mentionColumns ?? [])]))
  }
  const problems: string[] = []
  for (const entity of entities) {
    const table = storage.tables.find((t) => t.target === entity)?.name ?? entity.name
    const covered = tables.get(entity)
    for (const c of storage.columns.filter((col) => col.target === entity)) {
      const name = c.options.name ?? c.propertyName
      if (!MEMBER_COLUMN.test(name)) continue
      if (!covered) problems.push(`${table}: holds member ids (${name}) but no feature declares it in personalData`)
      else if (!covered.has(c.propertyName)) problems.push(`${table}.${name}: a member-id column missing from its personalData memberColumns`)
    }
  }
  return problems
}

/** The table name of an entity class (from its decorator; no database needed). */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM entity constructors of any shape
export function tableOf(entity: Function): string {
  return getMetadataArgsStorage().tables.find((t) => t.target === entity)?.name ?? entity.name
}

/** The data map as a Markdown table (`qunyun data-map`; the README's "Personal data" section shows it). */
export function dataMapMarkdown(declared: readonly DeclaredPersonalData[]): string {
  const cell = (v: readonly string[] | string | null): string => (Array.isArray(v) ? (v.length > 0 ? v.join(', ') : '—') : (v ?? '—')) as string
  const lines = [
    '| table | feature | data class | aged by | member columns | text / mention columns | on erasure | owner may erase |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ]
  // The map's entries follow the declarations' order: the retention column is read from the same tables.
  const tables = declared.flatMap((d) => d.declaration.tables)
  for (const [i, e] of dataMap(declared, tableOf).entries()) {
    const table = tables[i]
    lines.push(`| \`${e.table}\` | ${e.owner} | ${e.dataClass} | ${table ? ageText(table, e.table) : cell(e.timeColumn)} | ${cell(e.memberColumns)} | ${cell([...e.textColumns, ...e.mentionColumns])} | ${e.onErase} | ${e.ownerErasable ? 'yes (their groups)' : 'admin only'} |`)
  }
  return `${lines.join('\n')}\n`
}
