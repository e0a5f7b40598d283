import { useEffect, useRef, useState } from 'preact/hooks'
import { lang } from '../i18n'
import { t } from '../i18n'
import { useSignal } from '../state'
import type * as Charts from './echarts'
import { DataTable, type Column } from './table'

/** One line or bar series; series with the same `stack` are stacked. */
export interface Series { name: string; values: number[]; kind?: 'line' | 'bar'; stack?: string }

/** A heatmap: column labels, row labels, and [column, row, value] cells. */
export interface HeatData { name: string; x: string[]; y: string[]; cells: Array<[number, number, number]> }

/** Starts loading the charts chunk now (a page that will draw one calls it while its data loads). */
export function preloadCharts(): void {
  import('./echarts').catch(() => undefined)
}

type Renderer = (charts: typeof Charts, el: HTMLElement) => () => void

/**
 * A chart drawn by ECharts, which is loaded on first use (its own chunk), so pages without charts — and
 * the first paint — do not pay for it. Its data is always available as a table beside it.
 */
function LazyChart({ title, render, deps, table, tall }: { title: string; render: Renderer; deps: unknown[]; table: () => preact.JSX.Element; tall?: boolean }): preact.JSX.Element {
  const el = useRef<HTMLDivElement>(null)
  const [showTable, setShowTable] = useState(false)
  const [failed, setFailed] = useState(false)
  const language = useSignal(lang)
  useEffect(() => {
    let disposed = false
    let dispose: (() => void) | null = null
    import('./echarts').then((charts) => {
      if (disposed || !el.current) return
      dispose = render(charts, el.current)
    }).catch(() => setFailed(true))
    return () => { disposed = true; dispose?.() }
  }, [...deps, language])
  return (
    <figure class="chart">
      <div ref={el} class={tall ? 'chart-canvas tall' : 'chart-canvas'} role="img" aria-label={title} data-testid="chart" />
      {failed && <p class="muted">chart unavailable</p>}
      <figcaption>
        <button type="button" class="link" aria-expanded={showTable} onClick={() => setShowTable(!showTable)}>{showTable ? t('hideTable') : t('showTable')}</button>
      </figcaption>
      {showTable && table()}
    </figure>
  )
}

/** A line/bar chart of daily figures, with its data as a table. */
export function DailyChart({ title, days, series, csvName }: { title: string; days: string[]; series: Series[]; csvName: string }): preact.JSX.Element {
  const rows = days.map((day, i) => ({ day, ...Object.fromEntries(series.map((s) => [s.name, s.values[i] ?? 0])) }))
  const columns: Column<Record<string, unknown>>[] = [{ key: 'day', label: t('day') }, ...series.map((s) => ({ key: s.name, label: s.name, numeric: true }))]
  return <LazyChart title={title} deps={[days, series]} render={(c, el) => c.renderDaily(el, days, series)}
    table={() => <DataTable caption={`${t('chartData')}: ${title}`} columns={columns} rows={rows} csvName={csvName} testId="chart-table" />} />
}

/** Ranked bars (a term and its count per row), with the same rows as a table. */
export function RankedBars({ title, rows, csvName }: { title: string; rows: Array<{ label: string; value: number }>; csvName: string }): preact.JSX.Element {
  const labels = rows.map((r) => r.label)
  const values = rows.map((r) => r.value)
  return <LazyChart title={title} deps={[rows]} tall={rows.length > 10} render={(c, el) => c.renderBars(el, title, labels, values)}
    table={() => <DataTable caption={`${t('chartData')}: ${title}`} columns={[{ key: 'label', label: t('term') }, { key: 'value', label: t('messages'), numeric: true }]} rows={rows} csvName={csvName} testId="chart-table" />} />
}

/** A heatmap with its data as a table (one row per y label, one column per x label). */
export function HeatmapChart({ title, data, csvName }: { title: string; data: HeatData; csvName: string }): preact.JSX.Element {
  const rows = data.y.map((label, yi) => ({ label, ...Object.fromEntries(data.x.map((x, xi) => [x, data.cells.find((c) => c[0] === xi && c[1] === yi)?.[2] ?? 0])) }))
  const columns: Column<Record<string, unknown>>[] = [{ key: 'label', label: '' }, ...data.x.map((x) => ({ key: x, label: x, numeric: true }))]
  return <LazyChart title={title} deps={[data]} render={(c, el) => c.renderHeatmap(el, data)}
    table={() => <DataTable caption={`${t('chartData')}: ${title}`} columns={columns} rows={rows} csvName={csvName} testId="chart-table" />} />
}
