import { useEffect, useMemo, useState } from 'preact/hooks'
import type { Activity, Api, AutoReplyStats, Leaderboard, Member, MemberSort, ModerationStats } from '../api'
import { fmt, t } from '../i18n'
import { session } from '../session'
import { useSignal } from '../state'
import { DailyChart, preloadCharts } from '../ui/chart'
import { Card, Empty, ErrorBox, Loaded, useLoad } from '../ui/common'
import { Pager } from '../ui/controls'
import { GroupTabs } from '../ui/group-tabs'
import { DataTable } from '../ui/table'
import type { PageProps } from './registry'

/** Sum of the last `n` values and of the `n` before them. */
function periods(values: number[], n: number): { current: number; previous: number } {
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
  return { current: sum(values.slice(-n)), previous: sum(values.slice(-2 * n, -n)) }
}

function Kpi({ label, current, previous, testId }: { label: string; current: number; previous: number | null; testId: string }): preact.JSX.Element {
  const change = previous === null ? null : current - previous
  return (
    <div class="kpi" data-testid={testId}>
      <div class="kpi-label">{label}</div>
      <div class="kpi-value">{fmt.n(current)}</div>
      {change !== null && (
        <div class={`kpi-change ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`}>
          {change > 0 ? '▲' : change < 0 ? '▼' : '＝'} {fmt.n(Math.abs(change))}{previous ? ` (${fmt.pct(change / previous)})` : ''} <span class="muted">{t('vsPrev')}</span>
        </div>
      )}
    </div>
  )
}

interface Figures {
  activity: Activity
  checkIns: PromiseSettledResult<number[]>
  moderation: PromiseSettledResult<number[]>
  autoReply: PromiseSettledResult<number[]>
  moderationRows: PromiseSettledResult<ModerationStats['items']>
  autoReplyRows: PromiseSettledResult<AutoReplyStats['items']>
  leaderboard: PromiseSettledResult<Leaderboard['items']>
}

/** Figures of the last 14 days per feature that exists today (each may fail alone without blanking the page). */
async function loadFigures(api: Api, id: string): Promise<Figures> {
  const activity = await api.activity(id, 30)
  const days = activity.days.map((d) => d.day).slice(-14)
  const perDay = (items: Array<{ day: string; n: number }>): number[] => days.map((d) => items.filter((i) => i.day === d).reduce((a, i) => a + i.n, 0))
  const mod = api.moderationStats(id, 14)
  const auto = api.autoReplyStats(id, 14)
  const [checkIns, moderation, autoReply, moderationRows, autoReplyRows, leaderboard] = await Promise.allSettled([
    api.checkInStats(id, 14).then((s) => perDay(s.days.map((d) => ({ day: d.day, n: d.checkIns })))),
    mod.then((s) => perDay(s.items.map((i) => ({ day: i.day, n: i.live })))),
    auto.then((s) => perDay(s.items.map((i) => ({ day: i.day, n: i.answered })))),
    mod.then((s) => s.items),
    auto.then((s) => s.items),
    api.leaderboard(id, 'streak', 10).then((l) => l.items),
  ])
  return { activity, checkIns, moderation, autoReply, moderationRows, autoReplyRows, leaderboard }
}

export function GroupPage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const id = params.gid!
  useEffect(preloadCharts, [])
  const [group, reloadGroup] = useLoad(() => api.group(id), [id])
  const [figures, reloadFigures] = useLoad(() => loadFigures(api, id), [id])
  return (
    <>
      <Loaded load={group} retry={reloadGroup}>{(g) => (
        <header class="page-head">
          <h1 data-testid="group-name">{g.name}</h1>
          <p class="muted"><code>{g.id}</code> · {t('memberCount')} {fmt.n(g.memberCount)} · {g.timezone}{g.labels.length > 0 ? ` · ${g.labels.join('、')}` : ''}</p>
          <GroupTabs gid={g.id} current="group" />
        </header>
      )}</Loaded>
      <Loaded load={figures} retry={reloadFigures}>{(f) => <Overview figures={f} groupId={id} />}</Loaded>
      <MembersCard api={api} groupId={id} />
    </>
  )
}

function Overview({ figures, groupId }: { figures: Figures; groupId: string }): preact.JSX.Element {
  const { activity } = figures
  const messages = activity.days.map((d) => d.messages)
  const active = activity.days.map((d) => d.activeMembers)
  const m = periods(messages, 7)
  const a = periods(active, 7)
  const settled = (r: PromiseSettledResult<number[]>, label: string, testId: string): preact.JSX.Element => {
    if (r.status === 'rejected') return <div class="kpi" data-testid={testId}><div class="kpi-label">{label}</div><ErrorBox error={r.reason} /></div>
    const p = periods(r.value, 7)
    return <Kpi label={label} current={p.current} previous={p.previous} testId={testId} />
  }
  const days = useMemo(() => activity.days.map((d) => d.day), [activity])
  const series = useMemo(() => [{ name: t('messages'), values: messages, kind: 'bar' as const }, { name: t('activeMembers'), values: active }], [activity])
  const total = messages.reduce((x, y) => x + y, 0)
  return (
    <>
      <div class="kpis">
        <Kpi label={t('msgs7')} current={m.current} previous={m.previous} testId="kpi-messages" />
        <Kpi label={t('active7')} current={Math.round(a.current / 7)} previous={Math.round(a.previous / 7)} testId="kpi-active" />
        {settled(figures.checkIns, t('checkIns7'), 'kpi-checkins')}
        {settled(figures.moderation, t('modHits7'), 'kpi-moderation')}
        {settled(figures.autoReply, t('autoReply7'), 'kpi-autoreply')}
      </div>
      <div class="grid2">
        <Card title={t('activityChart')}>
          {total === 0 ? <Empty>{t('noMessages')}</Empty> : <DailyChart title={t('activityChart')} days={days} series={series} csvName={`activity-${groupId}.csv`} />}
        </Card>
        <Card title={t('topMembers')}>
          {activity.topMembers.length === 0 ? <Empty>{t('noMessages')}</Empty> : (
            <DataTable caption={t('topMembers')} csvName={`top-members-${groupId}.csv`} rows={activity.topMembers} testId="top-members" columns={[
              { key: 'name', label: t('name'), render: (r) => <span title={r.memberId}>{r.name ?? r.memberId}</span> },
              { key: 'memberId', label: t('memberId'), render: (r) => <code>{r.memberId}</code> },
              { key: 'messages', label: t('messages'), numeric: true, render: (r) => fmt.n(r.messages) },
              { key: 'chars', label: t('chars'), numeric: true, render: (r) => fmt.n(r.chars) },
            ]} />
          )}
        </Card>
      </div>
      <div class="grid3">
        <Card title={t('leaderboard')}>
          <Settled result={figures.leaderboard}>{(rows) => (
            <DataTable caption={t('leaderboard')} csvName={`check-in-leaderboard-${groupId}.csv`} rows={rows} testId="leaderboard" columns={[
              { key: 'rank', label: t('rank'), numeric: true },
              { key: 'name', label: t('name') },
              { key: 'value', label: t('streak'), numeric: true },
            ]} />
          )}</Settled>
        </Card>
        <Card title={t('modByDay')}>
          <Settled result={figures.moderationRows}>{(rows) => (
            <DataTable caption={t('modByDay')} csvName={`moderation-${groupId}.csv`} rows={rows} testId="moderation-hits" columns={[
              { key: 'day', label: t('day') }, { key: 'detector', label: t('detector') },
              { key: 'live', label: t('live'), numeric: true }, { key: 'shadow', label: t('shadow'), numeric: true }, { key: 'removals', label: t('removals'), numeric: true },
            ]} />
          )}</Settled>
        </Card>
        <Card title={t('autoByDay')}>
          <Settled result={figures.autoReplyRows}>{(rows) => (
            <DataTable caption={t('autoByDay')} csvName={`auto-reply-${groupId}.csv`} rows={rows} testId="auto-reply-hits" columns={[
              { key: 'day', label: t('day') }, { key: 'ruleId', label: t('ruleId'), numeric: true },
              { key: 'answered', label: t('answered'), numeric: true }, { key: 'suppressed', label: t('suppressed'), numeric: true },
            ]} />
          )}</Settled>
        </Card>
      </div>
    </>
  )
}

/** One figure's rows, its own error, or the empty state. */
function Settled<T>({ result, children }: { result: PromiseSettledResult<T[]>; children: (rows: T[]) => preact.JSX.Element }): preact.JSX.Element {
  if (result.status === 'rejected') return <ErrorBox error={result.reason} />
  return result.value.length === 0 ? <Empty /> : children(result.value)
}

const PAGE_SIZE = 20

/** Members: search (server-side, debounced), sort by a column, page through, export all matching as CSV. */
function MembersCard({ api, groupId }: { api: Api; groupId: string }): preact.JSX.Element {
  const [q, setQ] = useState('')
  const [query, setQuery] = useState('')
  const [sort, setSort] = useState<MemberSort>('name')
  const [offset, setOffset] = useState(0)
  useEffect(() => {
    const timer = setTimeout(() => { setQuery(q.trim()); setOffset(0) }, 250)
    return () => clearTimeout(timer)
  }, [q])
  const [page, reload] = useLoad(() => api.members(groupId, { q: query || undefined, sort, offset, limit: PAGE_SIZE, active: 'all' }), [groupId, query, sort, offset])
  const sorter = (key: 'name' | 'joinedAt' | 'memberId') => ({
    active: sort === key ? 'asc' as const : sort === `-${key}` ? 'desc' as const : null,
    toggle: () => { setSort(sort === key ? `-${key}` as MemberSort : key); setOffset(0) },
  })
  const exportAll = async (): Promise<Member[]> => {
    const all: Member[] = []
    for (let at = 0; at < 10_000; at += 100) {
      const p = await api.members(groupId, { q: query || undefined, sort, offset: at, limit: 100, active: 'all' })
      all.push(...p.items)
      if (at + 100 >= p.total) break
    }
    return all
  }
  return (
    <Card title={t('members')} id="members">
      <div class="toolbar">
        <input type="search" aria-label={t('search')} placeholder={t('search')} value={q} data-testid="member-search" onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </div>
      <Loaded load={page} retry={reload}>{(p) => p.total === 0 ? <Empty /> : (
        <>
          <DataTable<Member> caption={t('members')} csvName={`members-${groupId}.csv`} rows={p.items} exportRows={exportAll} testId="members-table" columns={[
            { key: 'name', label: t('name'), sort: sorter('name') },
            { key: 'memberId', label: t('memberId'), sort: sorter('memberId'), render: (r) => <code>{r.memberId}</code> },
            { key: 'role', label: t('role'), render: (r) => (r.role === 'owner' ? t('owner') : r.role === 'admin' ? t('admin') : t('member')) },
            { key: 'active', label: t('status'), render: (r) => (r.active ? t('active') : t('inactive')) },
            { key: 'joinedAt', label: t('joinedAt'), sort: sorter('joinedAt'), render: (r) => fmt.time(r.joinedAt) },
          ]} />
          <Pager offset={offset} size={PAGE_SIZE} total={p.total} onOffset={setOffset} testId="members-page" />
        </>
      )}</Loaded>
    </Card>
  )
}
