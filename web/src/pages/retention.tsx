import { useState } from 'preact/hooks'
import type { Api, Cohort } from '../api'
import { addDays } from '../days'
import { fmt, t } from '../i18n'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, Loaded, useLoad } from '../ui/common'
import { CountSelect } from '../ui/controls'
import { GroupTabs } from '../ui/group-tabs'
import { DataTable, type Column } from '../ui/table'
import type { PageProps } from './registry'

/** Join weeks the page covers (cohorts), each followed for up to 12 weeks. */
const COHORT_WEEKS = [4, 8, 12] as const
const FOLLOW = 12

/** Cohorts joining in the last `weeks` weeks up to the group's today (from the group's own 7-day series). */
async function load(api: Api, groupId: string, weeks: number): Promise<{ name: string; cohorts: Cohort[] }> {
  const group = await api.group(groupId)
  const today = group.activity?.to
  const range = today ? { from: addDays(today, -(7 * weeks - 1)), to: today } : {}
  const report = await api.retention(groupId, { ...range, weeks: FOLLOW })
  return { name: group.name, cohorts: report.cohorts }
}

/** Shade bucket 0–5 of a rate (a class, not an inline style: the CSP allows the dashboard's own styles only). */
const shade = (rate: number): number => Math.min(5, Math.ceil(rate * 5))

/** Join-week retention cohorts of a group: a table whose cells are shaded like a heatmap. */
export function RetentionPage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const groupId = params.gid!
  const [weeks, setWeeks] = useState<number>(12)
  const [data, reload] = useLoad(() => load(s!.api, groupId, weeks), [groupId, weeks])
  const columns: Column<Cohort>[] = [
    { key: 'week', label: t('cohortWeek') },
    { key: 'joined', label: t('joinedCount'), numeric: true },
    ...Array.from({ length: FOLLOW }, (_, i): Column<Cohort> => ({
      key: `w${i + 1}`, label: t('weekN', { n: i + 1 }), numeric: true,
      render: (c) => { const r = c.rates[i]; return r === null || r === undefined ? <span class="muted">·</span> : <span class={`heat heat-${shade(r)}`} title={`${c.retained[i]} / ${c.joined}`}>{fmt.pct(r)}</span> },
      csv: (c) => c.rates[i] ?? '',
    })),
  ]
  return (
    <>
      <Loaded load={data} retry={reload}>{(d) => (
        <header class="page-head">
          <h1>{d.name}</h1>
          <GroupTabs gid={groupId} current="retention" />
        </header>
      )}</Loaded>
      <Card title={t('retention')} id="retention" actions={
        <CountSelect label="cohorts" options={COHORT_WEEKS} value={weeks} onValue={setWeeks} each="lastWeeks" testId="cohort-weeks" />
      }>
        <p class="muted">{t('retentionHelp')}</p>
        <Loaded load={data} retry={reload}>{(d) => d.cohorts.length === 0 ? <Empty>{t('noCohorts')}</Empty> : (
          <DataTable caption={t('retention')} csvName={`retention-${groupId}.csv`} rows={d.cohorts} testId="retention-table" columns={columns} />
        )}</Loaded>
      </Card>
    </>
  )
}
