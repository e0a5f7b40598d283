import { t, fmt } from '../i18n'
import { href } from '../router'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, Loaded, useLoad } from '../ui/common'
import { DataTable } from '../ui/table'
import type { Group } from '../api'

/** The groups the caller may see (the API filters by the token's scope). */
export function GroupsPage(): preact.JSX.Element {
  const s = useSignal(session)
  const [groups, reload] = useLoad(() => s!.api.groups(), [s])
  return (
    <Card title={t('groups')}>
      <Loaded load={groups} retry={reload}>{(items) => items.length === 0 ? <Empty>{t('noGroups')}</Empty> : (
        <DataTable<Group> caption={t('groups')} csvName="groups.csv" rows={items} testId="groups-table" columns={[
          { key: 'name', label: t('name'), render: (g) => <a href={href('groups', g.id)}>{g.name}</a> },
          { key: 'id', label: 'ID', render: (g) => <code>{g.id}</code> },
          { key: 'memberCount', label: t('memberCount'), numeric: true, render: (g) => fmt.n(g.memberCount) },
          { key: 'active', label: t('status'), render: (g) => (g.active ? t('active') : t('inactive')) },
          { key: 'timezone', label: t('timezone') },
          { key: 'labels', label: t('labels'), render: (g) => g.labels.join('、') || '—', csv: (g) => g.labels.join(';') },
        ]} />
      )}</Loaded>
    </Card>
  )
}
