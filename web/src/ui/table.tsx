import type { ComponentChildren } from 'preact'
import { toCsv, download } from '../csv'
import { t } from '../i18n'

export interface Column<R> {
  key: string
  label: string
  /** Cell content (default: the row's value at `key`). */
  render?: (row: R) => ComponentChildren
  /** Value exported to CSV (default: the row's value at `key`). */
  csv?: (row: R) => unknown
  numeric?: boolean
  /** Sorting controlled by the caller: the header becomes a button. */
  sort?: { active: 'asc' | 'desc' | null; toggle: () => void }
}

const value = (row: unknown, key: string): unknown => (row as Record<string, unknown>)[key]

/** A table with an "Export CSV" button (every table exports the rows it shows, or all rows via `exportRows`). */
export function DataTable<R>({ columns, rows, caption, csvName, exportRows, testId }: {
  columns: Column<R>[]; rows: R[]; caption: string; csvName: string; exportRows?: () => Promise<R[]>; testId?: string
}): preact.JSX.Element {
  const exportCsv = async (): Promise<void> => {
    const all = exportRows ? await exportRows() : rows
    download(csvName, toCsv(columns.map((c) => c.key), all.map((r) => columns.map((c) => (c.csv ? c.csv(r) : value(r, c.key))))))
  }
  return (
    <div class="table-wrap" data-testid={testId}>
      <div class="table-tools"><button type="button" class="small" onClick={() => { void exportCsv() }}>{t('exportCsv')}</button></div>
      <table>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>{columns.map((c) => (
            <th key={c.key} scope="col" class={c.numeric ? 'num' : undefined} aria-sort={c.sort?.active === 'asc' ? 'ascending' : c.sort?.active === 'desc' ? 'descending' : undefined}>
              {c.sort ? <button type="button" class="link" onClick={c.sort.toggle}>{c.label}{c.sort.active === 'asc' ? ' ▲' : c.sort.active === 'desc' ? ' ▼' : ''}</button> : c.label}
            </th>
          ))}</tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>{columns.map((c) => <td key={c.key} class={c.numeric ? 'num' : undefined}>{c.render ? c.render(row) : String(value(row, c.key) ?? '—')}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
