import { useState } from 'preact/hooks'
import { LIFECYCLE, type Lifecycle, type LifecycleMember } from '../api'
import { fmt, t } from '../i18n'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, Loaded, useLoad } from '../ui/common'
import { Pager } from '../ui/controls'
import { GroupTabs } from '../ui/group-tabs'
import { DataTable } from '../ui/table'
import type { PageProps } from './registry'

const PAGE_SIZE = 20
const SORTS = ['score', 'lastActive', 'joined', 'stateSince'] as const
type Sort = (typeof SORTS)[number]

/** Members of a group by lifecycle stage and tag (the tagging feature's list), with counts per stage and tag. */
export function LifecyclePage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const groupId = params.gid!
  const [state, setState] = useState<Lifecycle | ''>('')
  const [tag, setTag] = useState('')
  const [sort, setSort] = useState<Sort>('score')
  const [offset, setOffset] = useState(0)
  const [head, reloadHead] = useLoad(() => Promise.all([api.group(groupId), api.taggingStats(groupId)]), [groupId])
  const query = { state: state || undefined, tag: tag || undefined, sort, order: 'desc' as const }
  const [page, reload] = useLoad(() => api.lifecycleMembers(groupId, { ...query, offset, limit: PAGE_SIZE }), [groupId, state, tag, sort, offset])
  const exportAll = async (): Promise<LifecycleMember[]> => {
    const all: LifecycleMember[] = []
    for (let at = 0; at < 10_000; at += 200) {
      const p = await api.lifecycleMembers(groupId, { ...query, offset: at, limit: 200 })
      all.push(...p.items)
      if (at + 200 >= p.total) break
    }
    return all
  }
  const pick = (next: () => void): void => { next(); setOffset(0) }
  return (
    <>
      <Loaded load={head} retry={reloadHead}>{([g, stats]) => (
        <>
          <header class="page-head">
            <h1>{g.name}</h1>
            <GroupTabs gid={groupId} current="lifecycle" />
          </header>
          <div class="chips" role="group" aria-label={t('lifecycle')} data-testid="state-counts">
            <button type="button" class={state === '' ? 'chip on' : 'chip'} aria-pressed={state === ''} onClick={() => pick(() => setState(''))}>{t('all')}</button>
            {LIFECYCLE.map((st) => (
              <button type="button" key={st} data-state={st} class={state === st ? 'chip on' : 'chip'} aria-pressed={state === st} onClick={() => pick(() => setState(st))}>
                {t(`state_${st}`)} <strong>{fmt.n(stats.states[st] ?? 0)}</strong>
              </button>
            ))}
          </div>
          <div class="toolbar">
            <label class="inline">{t('tag')}
              <select value={tag} data-testid="tag-filter" onChange={(e) => pick(() => setTag((e.target as HTMLSelectElement).value))}>
                <option value="">{t('all')}</option>
                {Object.entries(stats.tags).map(([name, n]) => <option key={name} value={name}>{name} ({n})</option>)}
              </select>
            </label>
            <label class="inline">{t('sortBy')}
              <select value={sort} data-testid="lifecycle-sort" onChange={(e) => pick(() => setSort((e.target as HTMLSelectElement).value as Sort))}>
                {SORTS.map((x) => <option key={x} value={x}>{t(`sort_${x}`)}</option>)}
              </select>
            </label>
          </div>
        </>
      )}</Loaded>
      <Card title={t('lifecycleMembers')} id="lifecycle-members">
        <Loaded load={page} retry={reload}>{(p) => p.total === 0 ? <Empty>{t('noMembersMatch')}</Empty> : (
          <>
            <DataTable<LifecycleMember> caption={t('lifecycleMembers')} csvName={`lifecycle-${groupId}.csv`} rows={p.items} exportRows={exportAll} testId="lifecycle-table" columns={[
              { key: 'name', label: t('name'), render: (m) => m.name ?? m.memberId },
              { key: 'memberId', label: t('memberId'), render: (m) => <code>{m.memberId}</code> },
              { key: 'state', label: t('lifecycle'), render: (m) => t(`state_${m.state}`), csv: (m) => m.state },
              { key: 'score', label: t('score'), numeric: true },
              { key: 'tags', label: t('tag'), render: (m) => m.tags.join('、') || '—', csv: (m) => m.tags.join(';') },
              { key: 'lastActiveDay', label: t('lastActive'), render: (m) => m.lastActiveDay ?? '—' },
              { key: 'messages', label: t('messages'), numeric: true },
            ]} />
            <Pager offset={offset} size={PAGE_SIZE} total={p.total} onOffset={setOffset} testId="lifecycle-page" />
          </>
        )}</Loaded>
      </Card>
    </>
  )
}
