import { useEffect, useMemo, useState } from 'preact/hooks'
import type { Api, Topics } from '../api'
import { addDays } from '../days'
import { fmt, t } from '../i18n'
import { session } from '../session'
import { useSignal } from '../state'
import { preloadCharts, RankedBars } from '../ui/chart'
import { Card, Empty, Loaded, useLoad } from '../ui/common'
import { CountSelect } from '../ui/controls'
import { GroupTabs } from '../ui/group-tabs'
import { DataTable } from '../ui/table'
import type { PageProps } from './registry'

const RANGES = [7, 30] as const

/** The group's hot topics over the last `days` days up to its today (from the group's own 7-day series). */
async function load(api: Api, groupId: string, days: number): Promise<{ name: string; topics: Topics }> {
  const group = await api.group(groupId)
  const today = group.activity?.to
  const topics = await api.topics(groupId, today ? { from: addDays(today, -(days - 1)), to: today } : {})
  return { name: group.name, topics }
}

/** Hot topics of a group: the most mentioned terms as ranked bars, and the rising ones against the period before. */
export function TopicsPage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const groupId = params.gid!
  const [days, setDays] = useState<number>(7)
  useEffect(preloadCharts, [])
  const [data, reload] = useLoad(() => load(s!.api, groupId, days), [groupId, days])
  return (
    <Loaded load={data} retry={reload}>{(d) => (
      <>
        <header class="page-head">
          <h1>{d.name}</h1>
          <GroupTabs gid={groupId} current="topics" />
        </header>
        <div class="toolbar">
          <CountSelect label="range" options={RANGES} value={days} onValue={setDays} each="lastDays" testId="topics-range" />
          <span class="muted" data-testid="topics-period">{d.topics.from} – {d.topics.to} · {t('vsPeriod', { from: d.topics.previous.from, to: d.topics.previous.to })}</span>
        </div>
        <p class="muted">{t('topicsHelp', { n: d.topics.minCount })}</p>
        <TopicsCards groupId={groupId} topics={d.topics} />
      </>
    )}</Loaded>
  )
}

function TopicsCards({ groupId, topics }: { groupId: string; topics: Topics }): preact.JSX.Element {
  const bars = useMemo(() => topics.top.map((x) => ({ label: x.term, value: x.count })), [topics])
  return (
    <div class="grid2">
      <Card title={t('topTerms')} id="top-terms">
        {bars.length === 0 ? <Empty>{t('noTopics')}</Empty> : <RankedBars title={t('topTerms')} rows={bars} csvName={`topics-${groupId}.csv`} />}
      </Card>
      <Card title={t('risingTerms')} id="rising-terms">
        {topics.rising.length === 0 ? <Empty>{t('noTopics')}</Empty> : (
          <DataTable caption={t('risingTerms')} csvName={`rising-topics-${groupId}.csv`} rows={topics.rising} testId="rising-table" columns={[
            { key: 'term', label: t('term') },
            { key: 'count', label: t('messages'), numeric: true },
            { key: 'previous', label: t('previousCount'), numeric: true },
            { key: 'growth', label: t('growth'), numeric: true, render: (x) => `+${fmt.pct(x.growth)}` },
          ]} />
        )}
      </Card>
    </div>
  )
}
