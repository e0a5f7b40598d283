import { IsNull } from 'typeorm'
import type { FeatureStore } from '../../adapters/db/feature-store'
import { ownerFor } from '../../kernel/auth'
import { csvDocument, parseCsv } from '../../kernel/csv'
import { defineRoute, type ErrorDetail, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import { AutoReplyRuleEntity } from './auto-reply.entity'
import { AutoReplyRuleSchema, type AutoReplyRule } from './auto-reply.rules'
import { ImportBody } from './auto-reply.schema'
import { toLive, toRow, type AutoReplyStore } from './auto-reply.store'
import { checkScope, nextPosition, OWNERS } from './auto-reply.view'

const MATCH_TYPES = ['exact', 'contains', 'startsWith', 'any', 'regex'] as const

/** Rules as a FAQ spreadsheet: CSV export of the caller's rules, CSV import with a report of bad rows. */
export function csvRoutes(deps: { db: FeatureStore; clock: Clock; store: AutoReplyStore }): RouteDefinition[] {
  const repo = () => deps.db.repo(AutoReplyRuleEntity)
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/auto-replies/export.csv', summary: 'Rules as CSV (keywords, match, answer, name, enabled)',
      access: OWNERS, contentType: 'text/csv; charset=utf-8',
      async handler({ auth }) {
        const owner = ownerFor(auth)
        const rows = await repo().find({ where: owner === null ? {} : { ownerTokenId: owner }, order: { position: 'ASC', id: 'ASC' } })
        return csvDocument(['keywords', 'match', 'answer', 'name', 'enabled'], rows.map((row) => {
          const r = toLive(row)
          const keywords = r.trigger.type === 'regex' ? r.trigger.pattern : r.trigger.keywords.join('|')
          return [keywords, r.trigger.type, r.answer.variants[0]?.text ?? '', r.name, String(r.enabled)]
        }))
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/auto-replies/import', summary: 'Import a FAQ from CSV (keywords, match, answer[, name]); reports bad rows',
      body: ImportBody, access: { roles: ['admin', 'owner'], mutates: true },
      async handler({ body, auth, audit }) {
        checkScope({ scope: body.scope }, auth, 'body.')
        const rows = parseCsv(body.csv)
        const header = rows[0]?.map((h) => h.trim().toLowerCase()) ?? []
        const hasHeader = header.includes('keywords') && header.includes('answer')
        const col = (name: string, fallback: number): number => (hasHeader ? header.indexOf(name) : fallback)
        const at = { keywords: col('keywords', 0), match: col('match', 1), answer: col('answer', 2), name: col('name', 3) }
        const valid: AutoReplyRule[] = []
        const errors: Array<{ row: number; problems: ErrorDetail[] }> = []
        rows.slice(hasHeader ? 1 : 0).forEach((cells, i) => {
          const rowNumber = i + (hasHeader ? 2 : 1)
          const get = (c: number): string => (c >= 0 ? (cells[c] ?? '').trim() : '')
          const match = get(at.match) || 'contains'
          const keywords = get(at.keywords)
          if (!(MATCH_TYPES as readonly string[]).includes(match)) {
            errors.push({ row: rowNumber, problems: [{ path: 'match', message: `one of ${MATCH_TYPES.join(', ')}` }] })
            return
          }
          const trigger = match === 'regex' ? { type: 'regex', pattern: keywords } : { type: match, keywords: keywords.split(/[|｜,，、]/).map((k) => k.trim()).filter(Boolean) }
          const parsed = AutoReplyRuleSchema.safeParse({
            name: get(at.name) || keywords.slice(0, 50) || `row ${rowNumber}`, trigger, scope: body.scope, answer: { variants: [{ text: get(at.answer) }] },
          })
          if (parsed.success) valid.push(parsed.data)
          else errors.push({ row: rowNumber, problems: parsed.error.issues.map((p) => ({ path: p.path.join('.'), message: p.message })) })
        })
        const owner = ownerFor(auth)
        let position = await nextPosition(deps.db)
        const now = deps.clock.now()
        await deps.db.transaction(async (m) => {
          if (body.mode === 'replace') await m.repo(AutoReplyRuleEntity).delete(owner === null ? { ownerTokenId: IsNull() } : { ownerTokenId: owner })
          for (const rule of valid) {
            await m.repo(AutoReplyRuleEntity).insert({ ...toRow(rule), ownerTokenId: owner, position, version: 1, createdAt: now, updatedAt: now })
            position += 10
          }
        })
        await deps.store.changed()
        audit({ target: 'auto-reply:import', after: { mode: body.mode, imported: valid.length, rejected: errors.length } })
        return { imported: valid.length, rejected: errors.length, errors }
      },
    }),
  ]
}
