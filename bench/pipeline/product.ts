import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ZodType } from 'zod'
import { readRulePack } from '../../src/config/rule-packs'
import { AutoReplyRuleEntity } from '../../src/features/auto-reply/auto-reply.entity'
import { AutoReplyRuleSchema } from '../../src/features/auto-reply/auto-reply.rules'
import { toRow } from '../../src/features/auto-reply/auto-reply.store'
import type { Runtime } from '../../src/main'
import { FAQ_RULES, faqKeyword } from './stream'

/**
 * The product as deployed, for the full pipeline: the default rule pack (rules/default.yaml) with group
 * rules switched on as an owner does it (moderation with the shared lexicon: ads + sensitive lists;
 * check-in and auto-reply are on by default), and 200 auto-reply FAQ rules serving every group.
 */
export function benchRulePack(rulesDir: string, schemas: ReadonlyMap<string, ZodType>): Record<string, unknown> {
  const pack = readRulePack(rulesDir, 'default.yaml', schemas)
  const moderation = { ...(pack.moderation as Record<string, unknown> | undefined), enabled: true, words: { lists: ['file:ads', 'file:sensitive'] } }
  const parsed = schemas.get('moderation')?.safeParse(moderation)
  if (parsed && !parsed.success) throw new Error(`bench moderation rules invalid: ${parsed.error.message}`)
  return { ...pack, moderation }
}

/** Installs the bench pack as the pack of `botId` (before start(); the RuleStore reads the prepared packs). */
export function useBenchPack(runtime: Runtime, botId: string): void {
  const prepared = runtime.prepare()
  const schemas = new Map<string, ZodType>([...prepared.specs].map(([name, spec]) => [name, spec.schema]))
  prepared.packs.set(botId, benchRulePack(runtime.config.rulesDir, schemas))
}

/** Terms of the shared advert lexicon (rules/words/ads.txt), as violating messages use them. */
export function advertTerms(rulesDir: string): string[] {
  return readFileSync(join(rulesDir, 'words', 'ads.txt'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
}

/** Stores the 200 FAQ rules (admin-owned, every group, two keywords each; not timed). */
export async function storeFaqRules(runtime: Runtime, at: number): Promise<void> {
  const rows = []
  for (let i = 0; i < FAQ_RULES; i++) {
    const rule = AutoReplyRuleSchema.parse({
      name: `FAQ ${i + 1}`,
      trigger: { type: 'contains', keywords: [faqKeyword(i), `${faqKeyword(i)}?`] },
      answer: { variants: [{ text: `关于「${faqKeyword(i)}」：请看群公告第 ${i + 1} 条。` }] },
    })
    rows.push({ ...toRow(rule), ownerTokenId: null, position: i, version: 1, createdAt: at, updatedAt: at })
  }
  await runtime.db.getRepository(AutoReplyRuleEntity).insert(rows)
}
