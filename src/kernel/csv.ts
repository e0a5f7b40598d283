/** Quotes a CSV field (RFC 4180) and neutralises spreadsheet formulas (a leading = + - @ tab or CR). */
export function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value)
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

/**
 * A CSV document: a header and rows, CRLF line ends, and a UTF-8 BOM so spreadsheet apps (Excel) read
 * Chinese text as UTF-8. Every field is quoted where needed and neutralised against formulas.
 */
export function csvDocument(header: readonly string[], rows: Iterable<ReadonlyArray<string | number | null>>): string {
  const lines = [header.map(csvField).join(',')]
  for (const row of rows) lines.push(row.map(csvField).join(','))
  return `\ufeff${lines.join('\r\n')}\r\n`
}

/** Rows per streamed chunk: large enough to keep writes few, small enough to keep memory flat. */
const CHUNK_ROWS = 500

/**
 * The same document as csvDocument, produced piece by piece (BOM and header first, then chunks of rows) for
 * streamed responses: the body is never held whole, and rows may come from an async source (a cursor).
 */
export async function* csvChunks(header: readonly string[], rows: Iterable<ReadonlyArray<string | number | null>> | AsyncIterable<ReadonlyArray<string | number | null>>): AsyncGenerator<string> {
  yield `\ufeff${header.map(csvField).join(',')}\r\n`
  let chunk: string[] = []
  for await (const row of rows) {
    chunk.push(row.map(csvField).join(','))
    if (chunk.length >= CHUNK_ROWS) {
      yield `${chunk.join('\r\n')}\r\n`
      chunk = []
    }
  }
  if (chunk.length > 0) yield `${chunk.join('\r\n')}\r\n`
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
