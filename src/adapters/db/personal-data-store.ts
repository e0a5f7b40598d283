import type { DataSource, EntityMetadata } from 'typeorm'
import type { Needle, PersonalDataStore, ResidueFinding } from '../../kernel/erasure'
import type { DeclaredPersonalData, ErasureCount, ErasureSubject, PersonalTable } from '../../kernel/personal-data'
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

  async erase(subject: ErasureSubject, names: readonly string[]): Promise<ErasureCount[]> {
    const out: ErasureCount[] = []
    for (const t of this.tables) out.push(await this.eraseTable(t, subject, names))
    return out
  }

  private async eraseTable(t: Resolved, s: ErasureSubject, names: readonly string[]): Promise<ErasureCount> {
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
      const mentioned = await this.mentioning(t, [s.memberId, ...names], scope)
      if (t.member.length === 0 && t.decl.onErase === 'delete') {
        if (!dry) for (let i = 0; i < mentioned.length; i += BATCH) await this.deleteKeys(t, mentioned.slice(i, i + BATCH).map((m) => m.key))
        count.removed += mentioned.length
      } else {
        if (!dry) {
          for (let i = 0; i < mentioned.length; i += BATCH) {
            await withTransaction(this.db, async (m) => {
              for (const row of mentioned.slice(i, i + BATCH)) {
                const set = t.mention.map((c) => `${this.q(c)} = ?`).join(', ')
                const values = t.mention.map((c) => pseudonymise(row.values[c], s, names))
                await m.query(`UPDATE ${this.q(t.table)} SET ${set} WHERE ${this.keyWhere(t, 1)}`, [...values, ...row.key])
              }
            })
          }
        }
        count.pseudonymised += mentioned.length
      }
    }
    return count
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

  /**
   * Rows whose mention columns contain one of the needles as a whole token: candidates by LIKE (paged by
   * offset, nothing changes meanwhile), confirmed in JavaScript (so `m1` is not found inside `m10`).
   */
  private async mentioning(t: Resolved, needles: readonly string[], scope: { sql: string; params: unknown[] }): Promise<Array<{ key: Key; values: Record<string, unknown> }>> {
    const wanted = needles.filter((n) => n.trim() !== '')
    if (wanted.length === 0) return []
    const likes = t.mention.flatMap((c) => wanted.map(() => `${this.q(c)} LIKE ? ESCAPE '!'`))
    const params = [...t.mention.flatMap(() => wanted.map(likeAnywhere)), ...scope.params]
    const select = [...new Set([...t.pk, ...t.mention])].map((c) => this.q(c)).join(', ')
    const order = t.pk.map((c) => this.q(c)).join(', ')
    const out: Array<{ key: Key; values: Record<string, unknown> }> = []
    for (let offset = 0; ; offset += BATCH) {
      const rows = await this.db.query(`SELECT ${select} FROM ${this.q(t.table)} WHERE (${likes.join(' OR ')})${scope.sql} ORDER BY ${order} LIMIT ${BATCH} OFFSET ${offset}`, params) as Array<Record<string, unknown>>
      for (const r of rows) {
        if (t.mention.some((c) => typeof r[c] === 'string' && wanted.some((n) => containsToken(r[c] as string, n)))) out.push({ key: t.pk.map((c) => r[c]), values: r })
      }
      if (rows.length < BATCH) return out
    }
  }

  async scan(needles: readonly Needle[]): Promise<ResidueFinding[]> {
    const wanted = needles.filter((n) => n.value.trim() !== '')
    if (wanted.length === 0) return []
    const found: ResidueFinding[] = []
    for (const { table, columns } of await this.schema()) {
      for (const c of columns) {
        const likes = wanted.map(() => `${this.q(c)} LIKE ? ESCAPE '!'`).join(' OR ')
        const rows = await this.db.query(`SELECT ${this.q(c)} AS v FROM ${this.q(table)} WHERE ${likes} LIMIT 10000`, wanted.map((n) => likeAnywhere(n.value))) as Array<{ v: unknown }>
        for (const needle of wanted) {
          const count = rows.filter((r) => containsToken(asText(r.v), needle.value)).length
          if (count > 0) found.push({ place: `table:${table}.${c}`, kind: needle.kind, count })
        }
      }
    }
    return found
  }

  /** Every table of the database with its text-like columns (introspected, not taken from the declarations). */
  async schema(): Promise<Array<{ table: string; columns: string[] }>> {
    const textual = /char|text|json|clob|blob|binary/i
    if (dialectOf(this.db) === 'sqlite') {
      const tables = await this.db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name") as Array<{ name: string }>
      const out: Array<{ table: string; columns: string[] }> = []
      for (const { name } of tables) {
        const cols = await this.db.query(`PRAGMA table_info(${this.q(name)})`) as Array<{ name: string; type: string }>
        // SQLite columns without a declared type hold anything.
        out.push({ table: name, columns: cols.filter((c) => c.type === '' || textual.test(c.type)).map((c) => c.name) })
      }
      return out
    }
    const cols = await this.db.query('SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS d FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION') as Array<{ t: string; c: string; d: string }>
    const byTable = new Map<string, string[]>()
    for (const r of cols) {
      const list = byTable.get(r.t) ?? []
      if (textual.test(r.d)) list.push(r.c)
      byTable.set(r.t, list)
    }
    return [...byTable].map(([table, columns]) => ({ table, columns }))
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

/** A mention column's value with the member's id and names replaced by the pseudonym. */
function pseudonymise(value: unknown, s: ErasureSubject, names: readonly string[]): unknown {
  if (typeof value !== 'string') return value
  let out = replaceToken(value, s.memberId, s.pseudonym)
  for (const n of names) out = replaceToken(out, n, s.pseudonym)
  return out
}
