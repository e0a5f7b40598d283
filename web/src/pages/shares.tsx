import { useState } from 'preact/hooks'
import type { Api, Delivery, ShareSchedule } from '../api'
import { fmt, t, type MessageKey } from '../i18n'
import { href } from '../router'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, ErrorBox, Loaded, useLoad } from '../ui/common'
import { useGroupName } from '../ui/group-names'
import { DataTable } from '../ui/table'
import type { PageProps } from './registry'

const STATUSES = ['planned', 'queued', 'sent', 'failed', 'skipped', 'missed'] as const

/** A local time as the log stores it (2026-12-01T09:00), as people read it. */
const local = (key: string): string => key.replace('T', ' ')
const triggerText = (s: ShareSchedule): string => (s.trigger.type === 'cron' ? `cron ${s.trigger.cron}` : `${t('once')} ${local(s.trigger.at)}`)
const targetText = (s: ShareSchedule, name: (id: string) => string): string =>
  s.target.type === 'all' ? t('allMyGroups') : s.target.type === 'label' ? `${t('labels')}: ${s.target.label}` : s.target.groupIds.map(name).join('、')

/** Reasons the delivery log gives (their leading code), in words. */
const REASONS: Record<string, MessageKey> = {
  bot_not_in_group: 'reason_bot_not_in_group', owner_lost_group: 'reason_owner_lost_group', group_gone: 'reason_group_gone', paused: 'reason_paused',
  post_deleted: 'reason_post_deleted', post_unavailable: 'reason_post_deleted', no_content: 'reason_no_content', no_topic: 'reason_no_topic',
  no_repeat: 'reason_no_repeat', shares_disabled_in_group: 'reason_disabled', calendar: 'reason_calendar', schedule_deleted: 'reason_schedule_deleted',
}

/** A reason in words, with the log's own text after it (it carries the details). */
export function reasonText(reason: string | null): string {
  if (!reason) return '—'
  const code = /^[a-z_]+/.exec(reason)?.[0] ?? ''
  const key = REASONS[code]
  return key ? `${t(key)}（${reason}）` : reason
}

/** Schedules and the content library of the caller (owners: their own). */
export function SharesPage(): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const [data, reload] = useLoad(() => Promise.all([api.shareSchedules(), api.sharePosts()]), [s])
  const groupName = useGroupName(api)
  return (
    <Loaded load={data} retry={reload}>{([schedules, posts]) => (
      <>
        <Card title={t('schedules')}>
          {schedules.items.length === 0 ? <Empty>{t('noSchedules')}</Empty> : (
            <DataTable<ShareSchedule> caption={t('schedules')} csvName="share-schedules.csv" rows={schedules.items} testId="schedules-table" columns={[
              { key: 'name', label: t('name'), render: (x) => <a href={href('shares', String(x.id))}>{x.name}</a> },
              { key: 'enabled', label: t('status'), render: (x) => (x.enabled ? t('running') : t('paused')) },
              { key: 'trigger', label: t('trigger'), render: triggerText, csv: triggerText },
              { key: 'target', label: t('target'), render: (x) => targetText(x, groupName), csv: (x) => targetText(x, (id) => id) },
              { key: 'content', label: t('content'), render: (x) => x.content.type, csv: (x) => x.content.type },
              { key: 'version', label: t('version'), numeric: true },
            ]} />
          )}
        </Card>
        <Card title={t('posts')}>
          {posts.items.length === 0 ? <Empty>{t('noPosts')}</Empty> : (
            <DataTable caption={t('posts')} csvName="share-posts.csv" rows={posts.items} testId="posts-table" columns={[
              { key: 'id', label: 'ID', numeric: true },
              { key: 'title', label: t('title') },
              { key: 'tags', label: t('labels'), render: (p) => p.tags.join('、') || '—', csv: (p) => p.tags.join(';') },
              { key: 'expiresOn', label: t('expiresOn'), render: (p) => p.expiresOn ?? '—' },
            ]} />
          )}
        </Card>
      </>
    )}</Loaded>
  )
}

/** One schedule: next runs, delivery counts and log (with reasons), and the lift its posts bring. */
export function SharePage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const id = Number(params.sid)
  const [data, reload] = useLoad(() => Promise.all([api.shareSchedule(id), api.sharePreview(id), api.engagement(id)]), [id])
  const groupName = useGroupName(api)
  return (
    <>
      <p><a href={href('shares')}>← {t('shares')}</a></p>
      <Loaded load={data} retry={reload}>{([schedule, preview, lift]) => (
        <>
          <header class="page-head">
            <h1 data-testid="schedule-name">{schedule.name}</h1>
            <p class="muted">{schedule.enabled ? t('running') : t('paused')} · {triggerText(schedule)} · {targetText(schedule, groupName)}</p>
          </header>
          <div class="grid2">
            <Card title={t('lift')} id="lift">
              <p class="muted">{t('liftHelp', { n: lift.windowMinutes })}</p>
              <div class="kpis">
                <div class="kpi" data-testid="lift-messages"><div class="kpi-label">{t('liftMessages')}</div><div class="kpi-value">{lift.lift.messages === null ? '—' : `×${lift.lift.messages}`}</div>
                  <div class="kpi-change">{t('afterPosts')} {lift.posts.avgMessages ?? '—'} · {t('withoutPosts')} {lift.baseline.avgMessages ?? '—'}</div></div>
                <div class="kpi" data-testid="lift-members"><div class="kpi-label">{t('liftMembers')}</div><div class="kpi-value">{lift.lift.members === null ? '—' : `×${lift.lift.members}`}</div>
                  <div class="kpi-change">{t('afterPosts')} {lift.posts.avgMembers ?? '—'} · {t('withoutPosts')} {lift.baseline.avgMembers ?? '—'}</div></div>
              </div>
              {lift.perPost.length > 0 && (
                <DataTable caption={t('lift')} csvName={`share-${id}-lift.csv`} rows={lift.perPost} testId="lift-table" columns={[
                  { key: 'postId', label: t('post'), numeric: true }, { key: 'windows', label: t('windows'), numeric: true },
                  { key: 'avgMessages', label: t('avgMessages'), numeric: true }, { key: 'avgMembers', label: t('avgMembers'), numeric: true },
                ]} />
              )}
            </Card>
            <Card title={t('nextRuns')} id="next-runs">
              {preview.paused ? <Empty>{t('paused')}</Empty> : (
                <DataTable caption={t('nextRuns')} csvName={`share-${id}-next-runs.csv`} rows={preview.zones.flatMap((z) => z.runs.map((r) => ({ timezone: z.timezone, groups: z.groups, local: local(r.local) })))} testId="next-runs" columns={[
                  { key: 'local', label: t('localTime') }, { key: 'timezone', label: t('timezone') }, { key: 'groups', label: t('groups'), numeric: true },
                ]} />
              )}
            </Card>
          </div>
          <DeliveryLog api={api} id={id} />
        </>
      )}</Loaded>
    </>
  )
}

function DeliveryLog({ api, id }: { api: Api; id: number }): preact.JSX.Element {
  const [status, setStatus] = useState('')
  const [page, reload] = useLoad(() => api.deliveries(id, { status: status || undefined }), [id, status])
  const [more, setMore] = useState<{ items: Delivery[]; next: number | null; error: unknown } | null>(null)
  const groupName = useGroupName(api)
  const loadMore = async (before: number): Promise<void> => {
    try {
      const next = await api.deliveries(id, { status: status || undefined, before })
      setMore({ items: [...(more?.items ?? []), ...next.items], next: next.nextBefore, error: null })
    } catch (error) {
      setMore({ items: more?.items ?? [], next: before, error })
    }
  }
  return (
    <Card title={t('deliveryLog')} id="deliveries">
      <div class="toolbar">
        <label class="inline">{t('status')}
          <select value={status} data-testid="delivery-status" onChange={(e) => { setStatus((e.target as HTMLSelectElement).value); setMore(null) }}>
            <option value="">{t('all')}</option>
            {STATUSES.map((st) => <option key={st} value={st}>{t(`send_${st}`)}</option>)}
          </select>
        </label>
      </div>
      <Loaded load={page} retry={reload}>{(p) => {
        const rows = [...p.items, ...(more?.items ?? [])]
        const next = more ? more.next : p.nextBefore
        return (
          <>
            <ul class="counts" data-testid="delivery-counts">
              {STATUSES.filter((st) => (p.counts[st] ?? 0) > 0).map((st) => <li key={st} data-status={st}>{t(`send_${st}`)} <strong>{p.counts[st]}</strong></li>)}
            </ul>
            {rows.length === 0 ? <Empty>{t('noDeliveries')}</Empty> : (
              <DataTable<Delivery> caption={t('deliveryLog')} csvName={`share-${id}-deliveries.csv`} rows={rows} testId="deliveries-table" columns={[
                { key: 'fireLocal', label: t('runAt'), render: (d) => local(d.fireLocal) },
                { key: 'groupId', label: t('groupName'), render: (d) => <span title={d.groupId}>{groupName(d.groupId)}</span> },
                { key: 'status', label: t('status'), render: (d) => <span class={`send send-${d.status}`}>{t(`send_${d.status}`)}</span>, csv: (d) => d.status },
                { key: 'reason', label: t('reason'), render: (d) => reasonText(d.reason), csv: (d) => d.reason },
                { key: 'postId', label: t('post'), numeric: true, render: (d) => (d.postId === null ? '—' : String(d.postId)) },
                { key: 'finishedAt', label: t('finishedAt'), render: (d) => fmt.time(d.finishedAt) },
              ]} />
            )}
            {more?.error !== undefined && more.error !== null && <ErrorBox error={more.error} />}
            {next !== null && <button type="button" class="secondary" onClick={() => { void loadMore(next) }}>{t('loadMore')}</button>}
          </>
        )
      }}</Loaded>
    </Card>
  )
}
