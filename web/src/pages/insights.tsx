import { useState } from 'preact/hooks'
import type { Api, BestTime, Questions } from '../api'
import { addDays } from '../days'
import { fmt, t } from '../i18n'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, Loaded, useLoad } from '../ui/common'
import { CountSelect } from '../ui/controls'
import { GroupTabs } from '../ui/group-tabs'
import { DataTable } from '../ui/table'
import type { PageProps } from './registry'

const RANGES = [7, 30] as const

/** Both reports over the last `days` days up to the group's today (the group's own 7-day series ends there). */
async function load(api: Api, groupId: string, days: number): Promise<{ name: string; best: BestTime; questions: Questions }> {
  const group = await api.group(groupId)
  const today = group.activity?.to
  const range = today ? { from: addDays(today, -(days - 1)), to: today } : {}
  const [best, questions] = await Promise.all([api.bestTime(groupId, { ...range, top: 5 }), api.questions(groupId, range)])
  return { name: group.name, best, questions }
}

const slotName = (weekday: number, hour: number): string => `${t('weekdayNames').split(',')[weekday] ?? weekday} ${String(hour).padStart(2, '0')}:00`
const pctOr = (v: number | null): string => (v === null ? '—' : fmt.pct(v))
const minutesOr = (v: number | null): string => (v === null ? '—' : t('minutesN', { n: fmt.n(v) }))

/** A group's best time to post (weekday × hour slots ranked by audience and response) and its question resolution. */
export function InsightsPage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const groupId = params.gid!
  const [days, setDays] = useState<number>(30)
  const [data, reload] = useLoad(() => load(s!.api, groupId, days), [groupId, days])
  return (
    <Loaded load={data} retry={reload}>{(d) => (
      <>
        <header class="page-head">
          <h1>{d.name}</h1>
          <GroupTabs gid={groupId} current="insights" />
        </header>
        <div class="toolbar">
          <CountSelect label="range" options={RANGES} value={days} onValue={setDays} each="lastDays" testId="insights-range" />
          <span class="muted" data-testid="insights-period">{d.questions.from} – {d.questions.to} · {d.questions.timezone}</span>
        </div>
        <div class="kpis">
          <div class="kpi" data-testid="q-total"><div class="kpi-label">{t('questionsAsked')}</div><div class="kpi-value">{fmt.n(d.questions.total.questions)}</div>
            <div class="kpi-change">{t('answeredN', { n: fmt.n(d.questions.total.resolved), a: fmt.n(d.questions.total.byAutoReply) })}</div></div>
          <div class="kpi" data-testid="q-rate"><div class="kpi-label">{t('resolutionRate')}</div><div class="kpi-value">{pctOr(d.questions.total.resolutionRate)}</div></div>
          <div class="kpi" data-testid="q-median"><div class="kpi-label">{t('medianToAnswer')}</div><div class="kpi-value">{minutesOr(d.questions.total.medianMinutesToAnswer)}</div></div>
        </div>
        <div class="grid2">
          <Card title={t('bestTime')} id="best-time">
            <p class="muted">{t('bestTimeHelp')}</p>
            {d.best.best.length === 0 ? <Empty>{t('noMessages')}</Empty> : (
              <DataTable caption={t('bestTime')} csvName={`best-time-${groupId}.csv`} rows={d.best.best} testId="best-time-table" columns={[
                { key: 'slot', label: t('slot'), render: (x) => slotName(x.weekday, x.hour), csv: (x) => `${x.weekday}:${x.hour}` },
                { key: 'avgSpeakers', label: t('avgSpeakers'), numeric: true },
                { key: 'responseRate', label: t('responseRate'), numeric: true, render: (x) => fmt.pct(x.responseRate), csv: (x) => x.responseRate },
                { key: 'score', label: t('slotScore'), numeric: true },
                { key: 'messages', label: t('messages'), numeric: true },
              ]} />
            )}
          </Card>
          <Card title={t('questionsByDay')} id="questions">
            {d.questions.total.questions === 0 ? <Empty>{t('noQuestions')}</Empty> : (
              <DataTable caption={t('questionsByDay')} csvName={`questions-${groupId}.csv`} rows={d.questions.days.filter((x) => x.questions > 0)} testId="questions-table" columns={[
                { key: 'day', label: t('day') },
                { key: 'questions', label: t('questionsAsked'), numeric: true },
                { key: 'resolved', label: t('resolved'), numeric: true },
                { key: 'byAutoReply', label: t('byAutoReply'), numeric: true },
                { key: 'resolutionRate', label: t('resolutionRate'), numeric: true, render: (x) => pctOr(x.resolutionRate), csv: (x) => x.resolutionRate ?? '' },
                { key: 'medianMinutesToAnswer', label: t('medianToAnswer'), numeric: true, render: (x) => minutesOr(x.medianMinutesToAnswer), csv: (x) => x.medianMinutesToAnswer ?? '' },
              ]} />
            )}
          </Card>
        </div>
      </>
    )}</Loaded>
  )
}
