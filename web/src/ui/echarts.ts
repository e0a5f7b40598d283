// The charts chunk: only the ECharts parts the dashboard draws (tree-shaken), loaded lazily by chart.tsx.
import { BarChart, LineChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components'
import { init, use } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'
import type { Series } from './chart'

use([LineChart, BarChart, GridComponent, TooltipComponent, LegendComponent, CanvasRenderer])

/** Draws daily series into `el`; returns a function that disposes the chart. */
export function renderDaily(el: HTMLElement, days: string[], series: Series[]): () => void {
  const chart = init(el, undefined, { renderer: 'canvas' })
  chart.setOption({
    animation: false,
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: days.map((d) => d.slice(5)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: series.map((s) => ({ name: s.name, type: s.kind ?? 'line', data: s.values, smooth: true, showSymbol: false })),
  })
  const resize = (): void => chart.resize()
  window.addEventListener('resize', resize)
  el.dataset.rendered = String(series.reduce((n, s) => n + s.values.length, 0))
  return () => {
    window.removeEventListener('resize', resize)
    chart.dispose()
  }
}
