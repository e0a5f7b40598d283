// The charts chunk: only the ECharts parts the dashboard draws (tree-shaken), loaded lazily by chart.tsx.
import { BarChart, HeatmapChart, LineChart } from 'echarts/charts'
import { GridComponent, LegendComponent, TooltipComponent, VisualMapComponent } from 'echarts/components'
import { init, use, type EChartsCoreOption } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'
import type { HeatData, Series } from './chart'

use([LineChart, BarChart, HeatmapChart, GridComponent, TooltipComponent, LegendComponent, VisualMapComponent, CanvasRenderer])

/** Draws an option into `el`, marks how many data points it drew, and returns a disposer. */
function draw(el: HTMLElement, option: EChartsCoreOption, points: number): () => void {
  const chart = init(el, undefined, { renderer: 'canvas' })
  chart.setOption({ animation: false, ...option })
  const resize = (): void => chart.resize()
  window.addEventListener('resize', resize)
  el.dataset.rendered = String(points)
  return () => {
    window.removeEventListener('resize', resize)
    chart.dispose()
  }
}

/** Draws daily series into `el` (series with `stack` are stacked); returns a function that disposes the chart. */
export function renderDaily(el: HTMLElement, days: string[], series: Series[]): () => void {
  return draw(el, {
    tooltip: { trigger: 'axis' },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 32, bottom: 28 },
    xAxis: { type: 'category', data: days.map((d) => d.slice(5)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: series.map((s) => ({ name: s.name, type: s.kind ?? 'line', data: s.values, smooth: true, showSymbol: false, ...(s.stack ? { stack: s.stack } : {}) })),
  }, series.reduce((n, s) => n + s.values.length, 0))
}

/** Draws ranked horizontal bars (the first label on top). */
export function renderBars(el: HTMLElement, name: string, labels: string[], values: number[]): () => void {
  return draw(el, {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: [...labels].reverse() },
    series: [{ name, type: 'bar', data: [...values].reverse(), label: { show: true, position: 'right' } }],
  }, values.length)
}

/** Draws a heatmap (x labels × y labels, one value per cell). */
export function renderHeatmap(el: HTMLElement, data: HeatData): () => void {
  const max = Math.max(1, ...data.cells.map((c) => c[2]))
  return draw(el, {
    tooltip: { position: 'top' },
    grid: { left: 48, right: 16, top: 8, bottom: 56 },
    xAxis: { type: 'category', data: data.x, splitArea: { show: true } },
    yAxis: { type: 'category', data: data.y, splitArea: { show: true } },
    visualMap: { min: 0, max, calculable: false, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120 },
    series: [{ name: data.name, type: 'heatmap', data: data.cells }],
  }, data.cells.length)
}
