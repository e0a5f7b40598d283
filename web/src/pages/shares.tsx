import { useMemo, useState } from 'preact/hooks'
import { ApiError, type Api, type Delivery, type JsonSchema, type SharePost, type ShareSchedule } from '../api'
import { fmt, t, type MessageKey } from '../i18n'
import { href, navigate } from '../router'
import { fromServer, validate, type Problem } from '../schema'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, ErrorBox, Loaded, useLoad } from '../ui/common'
import { groupNames, useGroupName } from '../ui/group-names'
import { SchemaForm } from '../ui/schema-form'
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
        <CreateSchedule api={api} posts={posts.items} />
      </>
    )}</Loaded>
  )
}

/**
 * A new schedule, as a form generated from the create route's body schema in the OpenAPI document (the
 * server's zod schema), checked as you type; the server's own refusals are shown at their fields.
 */
function CreateSchedule({ api, posts }: { api: Api; posts: SharePost[] }): preact.JSX.Element {
  const [setup] = useLoad(async () => {
    const [schema, names] = await Promise.all([api.bodySchema('/api/v1/share-schedules', 'post'), groupNames(api)])
    return { schema, firstGroup: [...names.keys()][0] ?? '' }
  }, [api])
  return (
    <Card title={t('newSchedule')} id="new-schedule">
      <Loaded load={setup}>{({ schema, firstGroup }) => schema ? <ScheduleForm api={api} schema={schema} firstGroup={firstGroup} firstPost={posts[0]?.id ?? null} /> : <Empty />}</Loaded>
    </Card>
  )
}

function ScheduleForm({ api, schema, firstGroup, firstPost }: { api: Api; schema: JsonSchema; firstGroup: string; firstPost: number | null }): preact.JSX.Element {
  const [draft, setDraft] = useState<unknown>(() => ({
    name: '', enabled: true, trigger: { type: 'cron', cron: '0 9 * * *' }, timezone: null,
    target: { type: 'groups', groupIds: firstGroup ? [firstGroup] : [] }, content: firstPost === null ? { type: 'post', postId: 0 } : { type: 'post', postId: firstPost },
    noRepeatDays: 0, staggerSeconds: 300, graceMinutes: 10,
  }))
  const [serverProblems, setServerProblems] = useState<Problem[]>([])
  const [jsonErrors, setJsonErrors] = useState<Set<string>>(new Set())
  const [status, setStatus] = useState<{ kind: 'saving' } | { kind: 'error'; error: unknown } | null>(null)
  const checked = useMemo(() => validate(schema, draft), [schema, draft])
  const problems = [...checked, ...serverProblems, ...[...jsonErrors].map((path) => ({ path, message: 'invalid JSON' }))]
  const create = async (event: Event): Promise<void> => {
    event.preventDefault()
    if (problems.length > 0) return
    setStatus({ kind: 'saving' })
    try {
      const created = await api.createSchedule(draft)
      navigate(`/shares/${created.id}`)
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) setServerProblems(fromServer(error))
      setStatus({ kind: 'error', error })
    }
  }
  return (
    <form onSubmit={(e) => { void create(e) }} noValidate data-testid="schedule-form">
      <p class="muted">{t('newScheduleHelp')}</p>
      <SchemaForm schema={schema} value={draft} readOnly={false} problems={problems}
        onChange={(v) => { setDraft(v); setServerProblems([]); setStatus(null) }}
        onJsonError={(path, bad) => setJsonErrors((prev) => { const next = new Set(prev); if (bad) next.add(path); else next.delete(path); return next })} />
      <div class="form-actions">
        {problems.length > 0 && <p class="error" role="alert" data-testid="schedule-problems">{t('invalid', { n: problems.length })}</p>}
        <button type="submit" disabled={problems.length > 0 || status?.kind === 'saving'} data-testid="schedule-create">{status?.kind === 'saving' ? t('saving') : t('createSchedule')}</button>
      </div>
      {status?.kind === 'error' && <ErrorBox error={status.error} />}
    </form>
  )
}

/** Pause / resume with confirmation, and a test send of the schedule's post to one of the caller's groups. */
function ScheduleActions({ api, schedule, onChanged }: { api: Api; schedule: ShareSchedule; onChanged: () => void }): preact.JSX.Element {
  const [names] = useLoad(() => groupNames(api), [api])
  const [groupId, setGroupId] = useState('')
  const [state, setState] = useState<{ busy: boolean; error: unknown; done: string | null }>({ busy: false, error: null, done: null })
  const run = async (question: string | null, action: () => Promise<string>): Promise<void> => {
    if (question !== null && !confirm(question)) return
    setState({ busy: true, error: null, done: null })
    try {
      const done = await action()
      setState({ busy: false, error: null, done })
    } catch (error) {
      setState({ busy: false, error, done: null })
    }
  }
  const toggle = (): Promise<void> => run(t(schedule.enabled ? 'confirmPause' : 'confirmResume', { name: schedule.name }), async () => {
    const next = await api.pauseSchedule(schedule.id, !schedule.enabled)
    onChanged()
    return next.enabled ? t('running') : t('paused')
  })
  const send = (target: string): Promise<void> => run(t('confirmTestSend', { name: schedule.name }), async () => {
    const r = await api.testSend(schedule.id, target)
    return t('testSendDone', { status: t(`send_${r.status as (typeof STATUSES)[number]}`), reason: r.reason ? reasonText(r.reason) : '' })
  })
  return (
    <div class="toolbar" data-testid="schedule-actions">
      <button type="button" class={schedule.enabled ? 'secondary' : undefined} data-testid="schedule-toggle" disabled={state.busy} onClick={() => { void toggle() }}>{schedule.enabled ? t('pause') : t('resume')}</button>
      <Loaded load={names}>{(m) => {
        const chosen = groupId || ([...m.keys()][0] ?? '')
        return (
          <form class="inline" onSubmit={(e) => { e.preventDefault(); if (chosen) void send(chosen) }}>
            <label class="inline">{t('testSendTo')}
              <select data-testid="test-send-group" value={chosen} onChange={(e) => setGroupId((e.target as HTMLSelectElement).value)}>
                {[...m.entries()].map(([id, name]) => <option key={id} value={id}>{name}</option>)}
              </select>
            </label>
            <button type="submit" data-testid="test-send" disabled={state.busy || !chosen}>{t('testSend')}</button>
          </form>
        )
      }}</Loaded>
      {state.done !== null && <span class="ok" role="status" data-testid="schedule-action-done">{state.done}</span>}
      {state.error !== null && <div data-testid="schedule-action-error"><ErrorBox error={state.error} /></div>}
    </div>
  )
}

/** One schedule: next runs, delivery counts and log (with reasons), and the lift its posts bring. */
export function SharePage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const id = Number(params.sid)
  const [data, reload] = useLoad(() => Promise.all([api.shareSchedule(id), api.sharePreview(id), api.engagement(id), api.sharePosts()]), [id])
  const groupName = useGroupName(api)
  return (
    <>
      <p><a href={href('shares')}>← {t('shares')}</a></p>
      <Loaded load={data} retry={reload}>{([schedule, preview, lift, posts]) => {
        const titles = new Map(posts.items.map((p) => [p.id, p.title]))
        const postTitle = (postId: number): string => titles.get(postId) ?? `#${postId}`
        return (
        <>
          <header class="page-head">
            <h1 data-testid="schedule-name">{schedule.name}</h1>
            <p class="muted"><span data-testid="schedule-state">{schedule.enabled ? t('running') : t('paused')}</span> · {triggerText(schedule)} · {targetText(schedule, groupName)}</p>
          </header>
          <ScheduleActions api={api} schedule={schedule} onChanged={reload} />
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
                  { key: 'postId', label: t('post'), render: (x) => postTitle(x.postId) }, { key: 'windows', label: t('windows'), numeric: true },
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
          <DeliveryLog api={api} id={id} postTitle={postTitle} />
        </>
        )
      }}</Loaded>
    </>
  )
}

function DeliveryLog({ api, id, postTitle }: { api: Api; id: number; postTitle: (postId: number) => string }): preact.JSX.Element {
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
                { key: 'postId', label: t('post'), render: (d) => (d.postId === null ? '—' : <span title={`#${d.postId}`}>{postTitle(d.postId)}</span>), csv: (d) => d.postId },
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
