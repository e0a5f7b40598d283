import { useEffect, useRef, useState } from 'preact/hooks'
import { lang } from '../i18n'
import { t } from '../i18n'
import { useSignal } from '../state'
import { DataTable, type Column } from './table'

export interface Series { name: string; values: number[]; kind?: 'line' | 'bar' }

/**
 * A line/bar chart of daily figures. ECharts is loaded on first use (its own chunk), so pages without
 * charts — and the first paint — do not pay for it. The same data is always available as a table.
 */
export function DailyChart({ title, days, series, csvName }: { title: string; days: string[]; series: Series[]; csvName: string }): preact.JSX.Element {
  const el = useRef<HTMLDivElement>(null)
  const [showTable, setShowTable] = useState(false)
  const [failed, setFailed] = useState(false)
  const language = useSignal(lang)
  useEffect(() => {
    let disposed = false
    let dispose: (() => void) | null = null
    import('./echarts').then(({ renderDaily }) => {
      if (disposed || !el.current) return
      dispose = renderDaily(el.current, days, series)
    }).catch(() => setFailed(true))
    return () => { disposed = true; dispose?.() }
  }, [days, series, language])
  const rows = days.map((day, i) => ({ day, ...Object.fromEntries(series.map((s) => [s.name, s.values[i] ?? 0])) }))
  const columns: Column<Record<string, unknown>>[] = [{ key: 'day', label: t('day') }, ...series.map((s) => ({ key: s.name, label: s.name, numeric: true }))]
  return (
    <figure class="chart">
      <div ref={el} class="chart-canvas" role="img" aria-label={title} data-testid="chart" />
      {failed && <p class="muted">chart unavailable</p>}
      <figcaption>
        <button type="button" class="link" aria-expanded={showTable} onClick={() => setShowTable(!showTable)}>{showTable ? t('hideTable') : t('showTable')}</button>
      </figcaption>
      {showTable && <DataTable caption={`${t('chartData')}: ${title}`} columns={columns} rows={rows} csvName={csvName} testId="chart-table" />}
    </figure>
  )
}
