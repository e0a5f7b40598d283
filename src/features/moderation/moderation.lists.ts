import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { In } from 'typeorm'
import type { FeatureTables } from '../../adapters/db/feature-store'
import { matcherFor, WordListRegistry, type TextMatcher } from '../../text/matcher'
import type { WordList } from '../../text/automaton'
import { canSeeOwned, type Principal } from '../../kernel/auth'
import type { Logger } from '../../kernel/logger'
import { servesGroup, type AccessService } from '../../contracts/access'
import { WordListEntity } from './moderation.entity'
import type { ModerationRule } from './moderation.rules'

/** Terms of a list file or upload: one a line; blank lines and lines starting with '#' are skipped. */
export function parseTerms(text: string): string[] {
  const out: string[] = []
  for (const line of text.split(/\r?\n/)) {
    const term = line.trim()
    if (term.length > 0 && !term.startsWith('#')) out.push(term)
  }
  return out
}

/** A word list as the API lists it. */
export interface WordListView {
  id: string
  name: string
  terms: number
  source: 'file' | 'upload'
  updatedAt: string | null
}

/**
 * Word lists: files under rules/words/ (`file:<name>`, global: every owner may list and attach them) and
 * lists uploaded through the API (`list:<id>`, owned by the token that uploaded them; admins' uploads
 * have no owner and are visible to admins only). Each distinct list is compiled once and shared by every
 * group that uses it; a group's matcher adds only its own small additions and exceptions.
 *
 * An uploaded list serves a group only while its owner can see that group (admins' lists: every group):
 * a list attached before its owner lost the group — or by someone else — matches nothing there, so its
 * owner's later edits never change another owner's group.
 */
export class WordLists {
  private readonly registry = new WordListRegistry()
  private readonly files = new Map<string, WordList>()
  private readonly uploaded = new Map<string, { updatedAt: number; ownerTokenId: number | null; list: WordList }>()

  constructor(private readonly db: FeatureTables, private readonly access: Pick<AccessService, 'scopes'>, private readonly log: Logger) {}

  /** Loads rules/words/*.txt. */
  loadFiles(dir: string): void {
    if (!existsSync(dir)) return
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
      const name = basename(file, '.txt').toLowerCase()
      const { list, rejected } = this.registry.getWithReport(parseTerms(readFileSync(join(dir, file), 'utf8')), { id: `file:${name}`, name })
      if (rejected.length > 0) this.log.warn('word list terms ignored (nothing left after normalization)', { list: `file:${name}`, terms: rejected.length })
      this.files.set(`file:${name}`, list)
    }
    this.log.info('word lists loaded', { lists: [...this.files.keys()], terms: [...this.files.values()].reduce((n, l) => n + l.size, 0) })
  }

  /** The lists `by` may see: every file, and the uploads it owns (admins and the system: all). */
  async visible(by: Principal | null): Promise<WordListView[]> {
    const repo = this.db.repo(WordListEntity)
    const rows = await repo.find({ select: { id: true, name: true, termCount: true, ownerTokenId: true, updatedAt: true }, order: { id: 'ASC' } })
    return [
      ...[...this.files].map(([id, list]): WordListView => ({ id, name: id.slice(5), terms: list.size, source: 'file', updatedAt: null })),
      ...rows.filter((r) => canSeeOwned(by, r.ownerTokenId))
        .map((r): WordListView => ({ id: `list:${r.id}`, name: r.name, terms: r.termCount, source: 'upload', updatedAt: new Date(r.updatedAt).toISOString() })),
    ]
  }

  /**
   * Problems with list ids a change names: ids that do not exist and ids `by` may not see get the same
   * words (never confirming that someone else's list exists). Lists the group already uses (`kept`) stay
   * allowed, so an owner can change other settings of a group a co-owner's list serves.
   */
  async problems(ids: readonly string[], by: Principal | null, kept: ReadonlySet<string>): Promise<Array<{ path: string; message: string }>> {
    const asked = ids.filter((id) => !kept.has(id) && !this.files.has(id))
    const numbers = asked.map((id) => /^list:(\d+)$/.exec(id)?.[1]).filter((n): n is string => n !== undefined).map(Number)
    const rows = numbers.length > 0 ? await this.db.repo(WordListEntity).find({ select: { id: true, ownerTokenId: true }, where: { id: In(numbers) } }) : []
    const usable = new Set(rows.filter((r) => canSeeOwned(by, r.ownerTokenId)).map((r) => `list:${r.id}`))
    return asked.filter((id) => !usable.has(id)).map((id) => ({ path: 'words.lists', message: `${id}: no such list` }))
  }

  /** A list by id with its owner (uploaded lists are rebuilt only when they change). */
  private async entry(id: string): Promise<{ list: WordList; ownerTokenId: number | null } | null> {
    const file = this.files.get(id)
    if (file) return { list: file, ownerTokenId: null }
    const m = /^list:(\d+)$/.exec(id)
    if (!m) return null
    const row = await this.db.repo(WordListEntity).findOneBy({ id: Number(m[1]) })
    if (!row) return null
    const cached = this.uploaded.get(id)
    if (cached && cached.updatedAt === row.updatedAt && cached.ownerTokenId === row.ownerTokenId) return cached
    const built = { updatedAt: row.updatedAt, ownerTokenId: row.ownerTokenId, list: this.registry.get(parseTerms(row.terms), { id, name: row.name }) }
    this.uploaded.set(id, built)
    return built
  }

  /** The matcher for a group's word settings: lists that no longer exist, or that do not serve this group, are skipped. */
  async matcher(words: ModerationRule['words'], groupId: string): Promise<TextMatcher> {
    const lists: WordList[] = []
    for (const id of words.lists) {
      const found = await this.entry(id)
      if (!found) continue
      if (found.ownerTokenId !== null && !servesGroup(await this.access.scopes(), found.ownerTokenId, groupId)) continue
      lists.push(found.list)
    }
    return matcherFor({ lists, additions: words.add, exceptions: words.except })
  }
}
