import { useEffect, useMemo, useState } from 'preact/hooks'
import { LIFECYCLE, type Api, type GroupTotals, type HeatCell, type MixPoint, type OverviewFigure, type QuietGroup, type StatsOverview } from '../api'
import { addDays } from '../days'
import { fmt, t, type MessageKey } from '../i18n'
import { href } from '../router'
import { session } from '../session'
import { useSignal } from '../state'
import { DailyChart, HeatmapChart, preloadCharts, type HeatData } from '../ui/chart'
import { Card, Empty, Loaded, useLoad } from '../ui/common'
import { CountSelect } from '../ui/controls'
import { groupNames } from '../ui/group-names'
import { DataTable } from '../ui/table'

const ZERO: Omit<GroupTotals, 'groupId'> = { messages: 0, text: 0, media: 0, card: 0, other: 0, activeDays: 0, joins: 0, leaves: 0, checkins: 0, autoReplyHits: 0, moderationHits: 0, moderationActions: 0 }

/** Ranges the overview offers (days ending today, in the server's timezone). */
const RANGES = [7, 30, 90] as const

interface Report {
  overview: StatsOverview; heat: HeatCell[]; mix: MixPoint[]; table: GroupTotals[]
  alerts: { to: string; weeks: number; groups: QuietGroup[] }; names: Map<string, string>
}

/**
 * Every cross-group report of the range. Seven days is the server's default range (all requests at once);
 * a longer one ends at the alerts' `to`, the server's today.
 */
async function load(api: Api, days: number): Promise<Report> {
  const alertsLoad = api.statsAlerts()
  let range = {}
  if (days !== 7) {
    const { to } = await alertsLoad
    range = { from: addDays(to, -(days - 1)), to }
  }
  const [alerts, overview, heat, mix, table, names] = await Promise.all([alertsLoad,
    api.statsOverview(range), api.statsHeatmap(range), api.statsLifecycle(range), api.statsGroups(range), groupNames(api),
  ])
  // Groups without a figure in the range are listed too (with zeros): a silent group is what an operator looks for.
  const listed = new Set(table.groups.map((g) => g.groupId))
  const silent = [...names.keys()].filter((id) => !listed.has(id)).sort().map((groupId): GroupTotals => ({ groupId, ...ZERO }))
  return { overview, heat: heat.cells, mix: mix.mix, table: [...table.groups, ...silent], alerts, names }
}

const KPIS: Array<{ key: OverviewFigure; label: MessageKey }> = [
  { key: 'messages', label: 'messages' }, { key: 'activeMembers', label: 'activeMembers' }, { key: 'dau', label: 'dau' },
  { key: 'members', label: 'memberCount' }, { key: 'netGrowth', label: 'netGrowth' }, { key: 'moderationHits', label: 'moderation' },
]

/** Cross-group overview: KPIs with change, weekday × hour heatmap, lifecycle mix, dead-group alerts, per-group table. */
export function OverviewPage(): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const [days, setDays] = useState<number>(7)
  useEffect(preloadCharts, [])
  const [report, reload] = useLoad(() => load(api, days), [days])
  return (
    <>
      <header class="page-head">
        <h1>{t('overview')}</h1>
        <div class="toolbar">
          <CountSelect label="range" options={RANGES} value={days} onValue={setDays} each="lastDays" testId="range" />
        </div>
      </header>
      <Loaded load={report} retry={reload}>{(r) => <Report report={r} />}</Loaded>
    </>
  )
}

function Report({ report }: { report: Report }): preact.JSX.Element {
  const { overview, names } = report
  const name = (id: string): string => names.get(id) ?? id
  const weekdays = t('weekdayNames').split(',')
  const heat = useMemo<HeatData>(() => ({
    name: t('messages'), x: Array.from({ length: 24 }, (_, h) => String(h)), y: weekdays,
    cells: report.heat.map((c) => [c.hour, c.weekday, c.messages] as [number, number, number]),
  }), [report])
  const mixDays = useMemo(() => report.mix.map((p) => p.day), [report])
  const mixSeries = useMemo(() => LIFECYCLE.map((st) => ({ name: t(`state_${st}`), values: report.mix.map((p) => p[st]), kind: 'bar' as const, stack: 'members' })), [report])
  const totalMessages = report.heat.reduce((n, c) => n + c.messages, 0)
  const mixTotal = report.mix.reduce((n, p) => n + LIFECYCLE.reduce((m, st) => m + p[st], 0), 0)
  return (
    <>
      <p class="muted" data-testid="overview-range">{overview.current.from} – {overview.current.to} · {t('vsPeriod', { from: overview.previous.from, to: overview.previous.to })}</p>
      <div class="kpis">
        {KPIS.map((k) => {
          const change = overview.change[k.key] ?? null
          return (
            <div class="kpi" key={k.key} data-testid={`kpi-${k.key}`}>
              <div class="kpi-label">{t(k.label)}</div>
              <div class="kpi-value">{fmt.n(overview.current[k.key])}</div>
              <div class={`kpi-change ${change === null ? '' : change > 0 ? 'up' : change < 0 ? 'down' : ''}`}>
                {change === null ? '—' : `${change > 0 ? '▲' : change < 0 ? '▼' : '＝'} ${fmt.pct(Math.abs(change))}`} <span class="muted">{t('vsPrevPeriod')}</span>
              </div>
            </div>
          )
        })}
      </div>
      <div class="grid2">
        <Card title={t('heatmap')} id="heatmap">
          {totalMessages === 0 ? <Empty>{t('noMessages')}</Empty> : <HeatmapChart title={t('heatmap')} data={heat} csvName="heatmap.csv" />}
        </Card>
        <Card title={t('lifecycleMix')} id="lifecycle-mix">
          {mixTotal === 0 ? <Empty>{t('noLifecycle')}</Empty> : <DailyChart title={t('lifecycleMix')} days={mixDays} series={mixSeries} csvName="lifecycle-mix.csv" />}
        </Card>
      </div>
      <Card title={t('deadGroups')} id="alerts">
        <p class="muted">{t('deadGroupsHelp', { weeks: report.alerts.weeks })}</p>
        {report.alerts.groups.length === 0 ? <Empty>{t('noDeadGroups')}</Empty> : (
          <DataTable caption={t('deadGroups')} csvName="dead-groups.csv" rows={report.alerts.groups} testId="alerts-table" columns={[
            { key: 'groupId', label: t('groupName'), render: (g) => <a href={href('groups', g.groupId)}>{name(g.groupId)}</a> },
            { key: 'lastWeekMessages', label: t('lastWeekMessages'), numeric: true, render: (g) => fmt.n(g.lastWeekMessages) },
            { key: 'threshold', label: t('threshold'), numeric: true, render: (g) => fmt.n(g.threshold) },
            { key: 'weeks', label: t('weeksCompared'), numeric: true },
          ]} />
        )}
      </Card>
      <Card title={t('perGroup')} id="per-group">
        {report.table.length === 0 ? <Empty>{t('noMessages')}</Empty> : (
          <DataTable caption={t('perGroup')} csvName="groups-totals.csv" rows={report.table} testId="per-group-table" columns={[
            { key: 'groupId', label: t('groupName'), render: (g) => <a href={href('groups', g.groupId)}>{name(g.groupId)}</a>, csv: (g) => g.groupId },
            { key: 'messages', label: t('messages'), numeric: true, render: (g) => fmt.n(g.messages) },
            { key: 'activeDays', label: t('speakerDays'), numeric: true, render: (g) => fmt.n(g.activeDays) },
            { key: 'joins', label: t('joins'), numeric: true },
            { key: 'leaves', label: t('leaves'), numeric: true },
            { key: 'checkins', label: t('checkIn'), numeric: true },
            { key: 'autoReplyHits', label: t('autoReply'), numeric: true },
            { key: 'moderationHits', label: t('moderation'), numeric: true },
          ]} />
        )}
      </Card>
    </>
  )
}
