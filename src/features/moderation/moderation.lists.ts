import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { DataSource } from 'typeorm'
import { matcherFor, WordListRegistry, type TextMatcher } from '../../text/matcher'
import type { WordList } from '../../text/automaton'
import type { Logger } from '../../kernel/logger'
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

/**
 * Word lists: files under rules/words/ (`file:<name>`) and lists uploaded through the API (`list:<id>`).
 * Each distinct list is compiled once and shared by every group that uses it; a group's matcher adds
 * only its own small additions and exceptions.
 */
export class WordLists {
  private readonly registry = new WordListRegistry()
  private readonly files = new Map<string, WordList>()
  private readonly uploaded = new Map<string, { updatedAt: number; list: WordList }>()

  constructor(private readonly db: DataSource, private readonly log: Logger) {}

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

  /** Ids of every list a group may attach (files and uploaded). */
  async ids(): Promise<string[]> {
    const rows = await this.db.getRepository(WordListEntity).find({ select: { id: true } })
    return [...this.files.keys(), ...rows.map((r) => `list:${r.id}`)]
  }

  /** A list by id (uploaded lists are rebuilt only when they change). */
  async get(id: string): Promise<WordList | null> {
    const file = this.files.get(id)
    if (file) return file
    const m = /^list:(\d+)$/.exec(id)
    if (!m) return null
    const row = await this.db.getRepository(WordListEntity).findOneBy({ id: Number(m[1]) })
    if (!row) return null
    const cached = this.uploaded.get(id)
    if (cached && cached.updatedAt === row.updatedAt) return cached.list
    const list = this.registry.get(parseTerms(row.terms), { id, name: row.name })
    this.uploaded.set(id, { updatedAt: row.updatedAt, list })
    return list
  }

  /** The matcher for a group's word settings (lists that no longer exist are skipped). */
  async matcher(words: ModerationRule['words']): Promise<TextMatcher> {
    const lists: WordList[] = []
    for (const id of words.lists) {
      const list = await this.get(id)
      if (list) lists.push(list)
    }
    return matcherFor({ lists, additions: words.add, exceptions: words.except })
  }
}
