import { z, type ZodType } from 'zod'
/** Quotes a CSV field (RFC 4180) and neutralises spreadsheet formulas (a leading = + - @ tab or CR). */
export function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value)
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

/** Columns of an export that hold member ids (by header), and member names. */
const MEMBER_HEADER = /^(member_?id|inviter_?id|winner_?id|sender_?id)$/i
const NAME_HEADER = /^(name|member_?name)$/i

/** How a CSV document is written. */
export interface CsvOptions {
  /**
   * Writes member-id columns as pseudonyms (HMAC with the deployment key) and leaves member names out, so
   * an export can leave the house without naming anyone (`?pseudonymise=1` on every export naming members).
   */
  pseudonym?: (memberId: string) => string
}

/** The query option of exports naming members, to spread into their (strict) query schema. */
export const CSV_PSEUDONYMISE = {
  pseudonymise: z.enum(['1', '0', 'true', 'false']).transform((v) => v === '1' || v === 'true').optional(),
}

/** An export's query schema with `pseudonymise` added (the schema must be an object schema). */
export function withPseudonymise<Q>(schema: ZodType<Q>): ZodType<Q & { pseudonymise?: boolean }> {
  if (!(schema instanceof z.ZodObject)) throw new Error('withPseudonymise needs an object schema')
  return schema.extend(CSV_PSEUDONYMISE) as unknown as ZodType<Q & { pseudonymise?: boolean }>
}

/** The CSV options for a request: pseudonyms when it asked for them. */
export function csvOptions(query: { pseudonymise?: boolean }, pseudonym: (memberId: string) => string): CsvOptions {
  return query.pseudonymise ? { pseudonym } : {}
}

/**
 * A CSV document: a header and rows, CRLF line ends, and a UTF-8 BOM so spreadsheet apps (Excel) read
 * Chinese text as UTF-8. Every field is quoted where needed and neutralised against formulas.
 */
export function csvDocument(header: readonly string[], rows: Iterable<ReadonlyArray<string | number | null>>, options: CsvOptions = {}): string {
  const lines = [header.map(csvField).join(',')]
  const p = options.pseudonym
  const ids = p ? header.flatMap((h, i) => (MEMBER_HEADER.test(h) ? [i] : [])) : []
  const names = p ? header.flatMap((h, i) => (NAME_HEADER.test(h) ? [i] : [])) : []
  for (const row of rows) {
    if (!p) { lines.push(row.map(csvField).join(',')); continue }
    const out = [...row]
    // An erased member's rows hold their pseudonym already (64 hex digits): kept as it is.
    for (const i of ids) { const v = out[i]; if (typeof v === 'string' && v !== '' && !/^[0-9a-f]{64}$/.test(v)) out[i] = p(v) }
    for (const i of names) out[i] = ''
    lines.push(out.map(csvField).join(','))
  }
  return `\ufeff${lines.join('\r\n')}\r\n`
}

/** Minimal RFC 4180 CSV parser (quotes, escaped quotes, commas and newlines inside quotes, CRLF, a BOM). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  const input = text.replace(/^\ufeff/, '')
  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string
    if (quoted) {
      if (c === '"' && input[i + 1] === '"') { field += '"'; i++ } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"' && field === '') quoted = true
    else if (c === ',') { row.push(field); field = '' } else if (c === '\n' || c === '\r') {
      if (c === '\r' && input[i + 1] === '\n') i++
      row.push(field); field = ''
      if (row.some((f) => f.trim() !== '')) rows.push(row)
      row = []
    } else field += c
  }
  row.push(field)
  if (row.some((f) => f.trim() !== '')) rows.push(row)
  return rows
}
