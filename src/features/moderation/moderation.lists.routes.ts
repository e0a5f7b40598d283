import type { z } from 'zod'
import type { FeatureTables } from '../../adapters/db/feature-store'
import { ownerFor } from '../../kernel/auth'
import { defineRoute, HttpError, ownedNotFound, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import { WordListEntity } from './moderation.entity'
import { parseTerms, type WordLists } from './moderation.lists'
import { CreateListBody, ListParams, ReplaceListBody } from './moderation.schema'

/** Uploaded word lists are owned by the token that uploaded them. */
const WORD_LIST = { kind: 'word list' }
/** Largest word list accepted in one upload (one term a line). */
const MAX_LIST_TERMS = 20_000

/** The terms of an upload, or a 400 naming what is wrong with them. */
function termsOf(text: string): string[] {
  const terms = parseTerms(text)
  if (terms.length > MAX_LIST_TERMS) throw new HttpError(400, 'invalid_input', `at most ${MAX_LIST_TERMS} terms`, [{ path: 'body.text', message: 'too many terms' }])
  const long = terms.findIndex((t) => t.length > 100)
  if (long >= 0) throw new HttpError(400, 'invalid_input', 'a term is longer than 100 characters', [{ path: 'body.text', message: `line ${long + 1}` }])
  return terms
}

/** Word lists: the deployment's files and owners' uploads (each owner sees and edits only their own). */
export function wordListRoutes(deps: { db: FeatureTables; clock: Clock; lists: WordLists }): RouteDefinition[] {
  const { db } = deps
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/word-lists', summary: 'Word lists: files under rules/words and the uploaded lists you own (admins: all)',
      access: { roles: ['admin', 'owner', 'operator'], mutates: false, owned: WORD_LIST },
      async handler({ auth }) { return { items: await deps.lists.visible(auth) } },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/word-lists', summary: 'Create a word list from text (one term a line)',
      body: CreateListBody, access: { roles: ['admin', 'owner'], mutates: true },
      async handler({ body, auth, audit }) {
        const terms = termsOf(body.text)
        const inserted = await db.repo(WordListEntity).insert({ name: body.name, terms: terms.join('\n'), termCount: terms.length, ownerTokenId: ownerFor(auth), updatedAt: deps.clock.now() })
        const id = `list:${Number(inserted.identifiers[0]?.id)}`
        audit({ target: id, after: { name: body.name, terms: terms.length } })
        return { id, name: body.name, terms: terms.length }
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/word-lists/:listId', summary: "Replace a list's terms (text, one term a line)", params: ListParams,
      body: ReplaceListBody, access: { roles: ['admin', 'owner'], mutates: true, owned: { ...WORD_LIST, param: 'listId' } },
      findOwned: ({ listId }: z.infer<typeof ListParams>) => db.repo(WordListEntity).findOne({ select: { ownerTokenId: true }, where: { id: listId } }),
      async handler({ params, body, audit }) {
        const row = await db.repo(WordListEntity).findOneBy({ id: params.listId })
        if (!row) throw ownedNotFound(WORD_LIST.kind)
        const terms = termsOf(body.text)
        // updatedAt changes, so every replica rebuilds this list's automaton on next use.
        await db.repo(WordListEntity).update({ id: row.id }, { terms: terms.join('\n'), termCount: terms.length, updatedAt: Math.max(deps.clock.now(), row.updatedAt + 1) })
        audit({ target: `list:${row.id}`, before: { terms: row.termCount }, after: { terms: terms.length } })
        return { id: `list:${row.id}`, name: row.name, terms: terms.length }
      },
    }),
  ]
}
