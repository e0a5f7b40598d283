import type { DataSource, EntityMetadata } from 'typeorm'
import type { Needle, PersonalDataStore, ResidueFinding } from '../../kernel/erasure'
import { replaceMemberInJson, type DeclaredPersonalData, type ErasureCount, type ErasureSubject, type PersonalTable } from '../../kernel/personal-data'
import { containsToken, replaceToken } from '../../text/token'
import { dialectOf } from './data-source'
import { withTransaction } from './transaction'

/** Rows per statement: small enough that no batch holds locks for long on MySQL. */
const BATCH = 500

/** A LIKE pattern matching `value` anywhere (`!` escapes, the same on SQLite and MySQL). */
function likeAnywhere(value: string): string {
  return `%${value.replace(/[!%_]/g, '!$&')}%`
}

/** One declared table resolved against the database's metadata (database column names). */
interface Resolved {
  decl: PersonalTable
  table: string
  pk: string[]
  member: string[]
  text: Array<{ name: string; nullable: boolean }>
  names: string[]
  mention: string[]
  /** `mentionKeys` of the declaration, when given. */
  mentionKeys: ReadonlySet<string> | undefined
  /** The in-flight state column (database name) and its values. */
  inFlight: { column: string; values: readonly string[] } | null
  group: string | null
}

/** A row key: its primary-key values in `pk` order. */
type Key = unknown[]

/**
 * The database side of erasure and of the residue scan. Walks the declared tables through TypeORM's
 * metadata (so column names come from the entities), deletes or pseudonymises in batches of primary
 * keys, each batch in its own short transaction; and, for the residue scan, introspects every table the
 * database has — declared or not — so an undeclared table holding a member is found.
 */
export class DbPersonalDataStore implements PersonalDataStore {
  private readonly tables: Resolved[]

  constructor(private readonly db: DataSource, declared: readonly DeclaredPersonalData[]) {
    this.tables = declared.flatMap((d) => d.declaration.tables.map((t) => this.resolve(t)))
  }

  private resolve(decl: PersonalTable): Resolved {
    const meta = this.db.getMetadata(decl.entity)
    const col = (prop: string): string => column(meta, prop)
    return {
      decl,
      table: meta.tableName,
      pk: meta.primaryColumns.map((c) => c.databaseName),
      member: (decl.memberColumns ?? []).map(col),
      text: (decl.textColumns ?? []).map((p) => ({ name: col(p), nullable: meta.findColumnWithPropertyName(p)?.isNullable ?? true })),
      names: (decl.nameColumns ?? []).map(col),
      mention: (decl.mentionColumns ?? []).map(col),
      mentionKeys: decl.mentionKeys ? new Set(decl.mentionKeys) : undefined,
      inFlight: decl.inFlight ? { column: col(decl.inFlight.column), values: decl.inFlight.values } : null,
      group: decl.groupColumn ? col(decl.groupColumn) : null,
    }
  }

  private q(name: string): string { return this.db.driver.escape(name) }

  /** ` AND <group> IN (…)` for an owner's erasure; null when the table cannot be limited to groups. */
  private scope(t: Resolved, groupIds: readonly string[] | undefined): { sql: string; params: unknown[] } | null {
    if (!groupIds) return { sql: '', params: [] }
    if (!t.group) return null
    if (groupIds.length === 0) return { sql: ' AND 1 = 0', params: [] }
    return { sql: ` AND ${this.q(t.group)} IN (${groupIds.map(() => '?').join(',')})`, params: [...groupIds] }
  }

  async names(memberId: string, groupIds: readonly string[] | undefined): Promise<string[]> {
    const out = new Set<string>()
    for (const t of this.tables) {
      const own = t.member[0]
      const scope = this.scope(t, groupIds)
      if (!own || !scope) continue
      for (const n of t.names) {
        const rows = await this.db.query(`SELECT DISTINCT ${this.q(n)} AS v FROM ${this.q(t.table)} WHERE ${this.q(own)} = ?${scope.sql}`, [memberId, ...scope.params]) as Array<{ v: unknown }>
        for (const r of rows) if (typeof r.v === 'string' && r.v.trim() !== '') out.add(r.v)
      }
    }
    return [...out]
  }

  async known(memberId: string, groupIds: readonly string[] | undefined): Promise<boolean> {
    for (const t of this.tables) {
      const own = t.member[0]
      const scope = this.scope(t, groupIds)
      if (!own || !scope) continue
      const rows = await this.db.query(`SELECT 1 AS v FROM ${this.q(t.table)} WHERE ${this.q(own)} = ?${scope.sql} LIMIT 1`, [memberId, ...scope.params]) as unknown[]
      if (rows.length > 0) return true
    }
    return false
  }

  async sampleTexts(memberId: string, limit: number): Promise<string[]> {
    const texts = new Set<string>()
    for (const t of this.tables) {
      const own = t.member[0]
      if (!own || t.decl.dataClass !== 'message-text') continue
      for (const c of t.text) {
        const rows = await this.db.query(`SELECT ${this.q(c.name)} AS v FROM ${this.q(t.table)} WHERE ${this.q(own)} = ? AND ${this.q(c.name)} IS NOT NULL LIMIT 1000`, [memberId]) as Array<{ v: unknown }>
        for (const r of rows) if (typeof r.v === 'string' && [...r.v.trim()].length >= 6) texts.add(r.v.trim())
      }
    }
    // The longest texts are the most distinctive (short ones such as 签到 are everybody's).
    return [...texts].sort((a, b) => b.length - a.length).slice(0, limit)
  }

  async erase(subject: ErasureSubject): Promise<ErasureCount[]> {
    const out: ErasureCount[] = []
    for (const t of this.tables) out.push(await this.eraseTable(t, subject))
    return out
  }

  private async eraseTable(t: Resolved, s: ErasureSubject): Promise<ErasureCount> {
    const count: ErasureCount = { place: `table:${t.table}`, removed: 0, pseudonymised: 0 }
    const scope = this.scope(t, s.groupIds)
    if (!scope) return { ...count, note: 'not limited to groups: erased only by an administrator' }
    const [own, ...refs] = t.member
    const dry = s.dryRun === true
    if (own) {
      if (t.decl.onErase === 'delete') {
        count.removed += await this.eachBatch(t, `${this.q(own)} = ?${scope.sql}`, [s.memberId, ...scope.params], dry, (keys) => this.deleteKeys(t, keys))
      } else {
        const set: string[] = [...t.member.map((c) => `${this.q(c)} = CASE WHEN ${this.q(c)} = ? THEN ? ELSE ${this.q(c)} END`), ...t.text.map((c) => `${this.q(c.name)} = ${c.nullable ? 'NULL' : "''"}`)]
        const params = t.member.flatMap(() => [s.memberId, s.pseudonym])
        count.pseudonymised += await this.eachBatch(t, `${this.q(own)} = ?${scope.sql}`, [s.memberId, ...scope.params], dry, (keys) => this.updateKeys(t, keys, set.join(', '), params))
      }
    }
    for (const ref of refs) {
      count.pseudonymised += await this.eachBatch(t, `${this.q(ref)} = ?${scope.sql}`, [s.memberId, ...scope.params], dry, (keys) => this.updateKeys(t, keys, `${this.q(ref)} = ?`, [s.pseudonym]))
    }
    if (t.mention.length > 0) {
      const m = await this.eraseMentions(t, s, scope)
      count.removed += m.removed
      count.pseudonymised += m.pseudonymised
      if (m.inFlight > 0) count.note = `${m.inFlight} row(s) in flight name the member (pending): left to be delivered or processed; erase again once they are done`
    }
    return count
  }

  /**
   * Mentions of the member's ID (never a name) in the mention columns, page by page in primary-key
   * order (a page at a time in memory): candidates by LIKE, confirmed here — JSON values parsed and
   * matched exactly, free text by whole token. A row is deleted only in a table without a member column
   * whose `onErase` is delete, when the row names the member structurally (see `PersonalTable`);
   * otherwise its mention columns are rewritten with the pseudonym. Rows in flight are counted, untouched.
   */
  private async eraseMentions(t: Resolved, s: ErasureSubject, scope: { sql: string; params: unknown[] }): Promise<{ removed: number; pseudonymised: number; inFlight: number }> {
    const result = { removed: 0, pseudonymised: 0, inFlight: 0 }
    if (s.memberId.trim() === '') return result
    const deletable = t.member.length === 0 && t.decl.onErase === 'delete'
    const likes = t.mention.map((c) => `${this.q(c)} LIKE ? ESCAPE '!'`).join(' OR ')
    const select = [...new Set([...t.pk, ...t.mention, ...(t.inFlight ? [t.inFlight.column] : [])])].map((c) => this.q(c)).join(', ')
    let last: Key | null = null
    for (;;) {
      const after = last ? this.afterKey(t, last) : { sql: '', params: [] }
      const rows = await this.db.query(
        `SELECT ${select} FROM ${this.q(t.table)} WHERE (${likes})${scope.sql}${after.sql} ORDER BY ${t.pk.map((c) => this.q(c)).join(', ')} LIMIT ${BATCH}`,
        [...t.mention.map(() => likeAnywhere(s.memberId)), ...scope.params, ...after.params],
      ) as Array<Record<string, unknown>>
      if (rows.length === 0) return result
      last = t.pk.map((c) => (rows[rows.length - 1] as Record<string, unknown>)[c])
      const deletes: Key[] = []
      const updates: Array<{ key: Key; values: unknown[] }> = []
      for (const r of rows) {
        let structured = 0
        let text = 0
        let json = false
        const values = t.mention.map((c) => {
          const m = rewriteMention(r[c], s, t.mentionKeys)
          structured += m.structured
          text += m.text
          json ||= m.json
          return m.value
        })
        if (structured + text === 0) continue
        if (t.inFlight && t.inFlight.values.includes(String(r[t.inFlight.column]))) { result.inFlight++; continue }
        const key = t.pk.map((c) => r[c])
        if (deletable && (structured > 0 || (!json && text > 0))) deletes.push(key)
        else updates.push({ key, values })
      }
      result.removed += deletes.length
      result.pseudonymised += updates.length
      if (s.dryRun !== true && deletes.length + updates.length > 0) {
        await withTransaction(this.db, async (m) => {
          if (deletes.length > 0) await m.query(`DELETE FROM ${this.q(t.table)} WHERE ${this.keyWhere(t, deletes.length)}`, deletes.flat())
          const set = t.mention.map((c) => `${this.q(c)} = ?`).join(', ')
          for (const u of updates) await m.query(`UPDATE ${this.q(t.table)} SET ${set} WHERE ${this.keyWhere(t, 1)}`, [...u.values, ...u.key])
        })
      }
      if (rows.length < BATCH) return result
    }
  }

  /** ` AND (rows after \`key\` in primary-key order)`, for keyset paging. */
  private afterKey(t: { pk: readonly string[] }, key: Key): { sql: string; params: unknown[] } {
    const ors: string[] = []
    const params: unknown[] = []
    t.pk.forEach((c, i) => {
      const eq = t.pk.slice(0, i).map((p) => `${this.q(p)} = ?`)
      ors.push(`(${[...eq, `${this.q(c)} > ?`].join(' AND ')})`)
      params.push(...key.slice(0, i + 1))
    })
    return { sql: ` AND (${ors.join(' OR ')})`, params }
  }

  /**
   * Runs `apply` on the rows matching `where`, BATCH primary keys at a time, until none match (every
   * batch stops matching once applied). Dry run: counts them. Returns how many rows.
   */
  private async eachBatch(t: Resolved, where: string, params: unknown[], dry: boolean, apply: (keys: Key[]) => Promise<void>): Promise<number> {
    if (dry) {
      const rows = await this.db.query(`SELECT COUNT(*) AS n FROM ${this.q(t.table)} WHERE ${where}`, params) as Array<{ n: unknown }>
      return Number(rows[0]?.n ?? 0)
    }
    let total = 0
    for (;;) {
      const rows = await this.db.query(`SELECT ${t.pk.map((c) => this.q(c)).join(', ')} FROM ${this.q(t.table)} WHERE ${where} LIMIT ${BATCH}`, params) as Array<Record<string, unknown>>
      if (rows.length === 0) return total
      await apply(rows.map((r) => t.pk.map((c) => r[c])))
      total += rows.length
      if (rows.length < BATCH) return total
    }
  }

  /** `(pk1 = ? AND pk2 = ?) OR …` for `n` keys. */
  private keyWhere(t: Resolved, n: number): string {
    const one = `(${t.pk.map((c) => `${this.q(c)} = ?`).join(' AND ')})`
    return new Array<string>(n).fill(one).join(' OR ')
  }

  private deleteKeys(t: Resolved, keys: Key[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve()
    return withTransaction(this.db, async (m) => { await m.query(`DELETE FROM ${this.q(t.table)} WHERE ${this.keyWhere(t, keys.length)}`, keys.flat()) })
  }

  private updateKeys(t: Resolved, keys: Key[], set: string, params: unknown[]): Promise<void> {
    if (keys.length === 0) return Promise.resolve()
    return withTransaction(this.db, async (m) => { await m.query(`UPDATE ${this.q(t.table)} SET ${set} WHERE ${this.keyWhere(t, keys.length)}`, [...params, ...keys.flat()]) })
  }

  /** Candidate rows per page of the residue scan. */
  scanPage = 2_000

  async scan(needles: readonly Needle[]): Promise<ResidueFinding[]> {
    const wanted = needles.filter((n) => n.value.trim() !== '')
    if (wanted.length === 0) return []
    const found: ResidueFinding[] = []
    const patterns = wanted.map((n) => likeAnywhere(n.value))
    for (const { table, columns, pk } of await this.schema()) {
      if (columns.length === 0) continue
      // Candidates by LIKE on any text column, confirmed per column here; every candidate is read, a
      // page at a time (keyset on the primary key; tables without one by offset), so no cap hides a match.
      const counts = new Map<string, number>()
      const likes = columns.flatMap((c) => wanted.map(() => `${this.q(c)} LIKE ? ESCAPE '!'`)).join(' OR ')
      const select = [...new Set([...pk, ...columns])].map((c) => this.q(c)).join(', ')
      const order = pk.length > 0 ? ` ORDER BY ${pk.map((c) => this.q(c)).join(', ')}` : ''
      let last: Key | null = null
      for (let offset = 0; ; offset += this.scanPage) {
        const after = last ? this.afterKey({ pk }, last) : { sql: '', params: [] }
        const page = pk.length > 0 ? ` LIMIT ${this.scanPage}` : ` LIMIT ${this.scanPage} OFFSET ${offset}`
        const rows = await this.db.query(`SELECT ${select} FROM ${this.q(table)} WHERE (${likes})${after.sql}${order}${page}`, [...columns.flatMap(() => patterns), ...after.params]) as Array<Record<string, unknown>>
        for (const r of rows) {
          for (const c of columns) {
            for (let i = 0; i < wanted.length; i++) {
              if (containsToken(asText(r[c]), (wanted[i] as Needle).value)) counts.set(`${c}\u0000${i}`, (counts.get(`${c}\u0000${i}`) ?? 0) + 1)
            }
          }
        }
        if (rows.length < this.scanPage) break
        last = pk.map((c) => (rows[rows.length - 1] as Record<string, unknown>)[c])
      }
      for (const c of columns) {
        wanted.forEach((needle, i) => {
          const count = counts.get(`${c}\u0000${i}`) ?? 0
          if (count > 0) found.push({ place: `table:${table}.${c}`, kind: needle.kind, count })
        })
      }
    }
    return found
  }

  /** Every table of the database with its text-like columns and primary key (introspected, not taken from the declarations). */
  async schema(): Promise<Array<{ table: string; columns: string[]; pk: string[] }>> {
    const textual = /char|text|json|clob|blob|binary/i
    if (dialectOf(this.db) === 'sqlite') {
      const tables = await this.db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name") as Array<{ name: string }>
      const out: Array<{ table: string; columns: string[]; pk: string[] }> = []
      for (const { name } of tables) {
        const cols = await this.db.query(`PRAGMA table_info(${this.q(name)})`) as Array<{ name: string; type: string; pk: number }>
        // SQLite columns without a declared type hold anything.
        const pk = cols.filter((c) => c.pk > 0).sort((x, y) => x.pk - y.pk).map((c) => c.name)
        out.push({ table: name, columns: cols.filter((c) => c.type === '' || textual.test(c.type)).map((c) => c.name), pk })
      }
      return out
    }
    const cols = await this.db.query('SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS d FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION') as Array<{ t: string; c: string; d: string }>
    const keys = await this.db.query("SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION") as Array<{ t: string; c: string }>
    const byTable = new Map<string, string[]>()
    for (const r of cols) {
      const list = byTable.get(r.t) ?? []
      if (textual.test(r.d)) list.push(r.c)
      byTable.set(r.t, list)
    }
    const pkOf = new Map<string, string[]>()
    for (const r of keys) pkOf.set(r.t, [...(pkOf.get(r.t) ?? []), r.c])
    return [...byTable].map(([table, columns]) => ({ table, columns, pk: pkOf.get(table) ?? [] }))
  }
}

/** A column's database name from an entity property name (a declaration naming no such property fails at start). */
function column(meta: EntityMetadata, prop: string): string {
  const c = meta.findColumnWithPropertyName(prop)
  if (!c) throw new Error(`personal data of ${meta.tableName}: no column for property "${prop}"`)
  return c.databaseName
}

/** A database value as text (buffers as UTF-8). */
function asText(v: unknown): string {
  if (v === null || v === undefined) return ''
  if (Buffer.isBuffer(v)) return v.toString('utf8')
  return typeof v === 'string' ? v : String(v as number)
}

/**
 * A mention column's value with the member's id replaced by the pseudonym: JSON (an object or array)
 * parsed, exact values replaced (`replaceMemberInJson`), written back as JSON; other text by whole token.
 */
function rewriteMention(value: unknown, s: ErasureSubject, keys: ReadonlySet<string> | undefined): { value: unknown; structured: number; text: number; json: boolean } {
  if (value === null || value === undefined) return { value, structured: 0, text: 0, json: false }
  const raw = asText(value)
  const head = raw.trimStart()[0]
  if (head === '{' || head === '[') {
    let parsed: unknown
    try { parsed = JSON.parse(raw) } catch { parsed = undefined }
    if (parsed !== undefined) {
      const r = replaceMemberInJson(parsed, s.memberId, s.pseudonym, keys)
      return { value: r.hits > 0 ? JSON.stringify(r.value) : value, structured: r.hits, text: 0, json: true }
    }
  }
  const out = replaceToken(raw, s.memberId, s.pseudonym)
  return out === raw ? { value, structured: 0, text: 0, json: false } : { value: out, structured: 0, text: 1, json: false }
}
