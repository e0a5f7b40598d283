import { t, type MessageKey } from '../i18n'
import { href } from '../router'

/** Tabs of a group's pages (the registry's 'group' pages), the current one marked. */
const TABS: Array<{ id: string; title: MessageKey; path: (gid: string) => string }> = [
  { id: 'group', title: 'overviewTab', path: (gid) => href('groups', gid) },
  { id: 'lifecycle', title: 'lifecycleMembers', path: (gid) => href('groups', gid, 'lifecycle') },
  { id: 'topics', title: 'hotTopics', path: (gid) => href('groups', gid, 'topics') },
  { id: 'retention', title: 'retention', path: (gid) => href('groups', gid, 'retention') },
  { id: 'insights', title: 'insights', path: (gid) => href('groups', gid, 'insights') },
  { id: 'rules', title: 'editRules', path: (gid) => href('groups', gid, 'rules', 'moderation') },
]

export function GroupTabs({ gid, current }: { gid: string; current: string }): preact.JSX.Element {
  return (
    <nav class="tabs" aria-label={t('group')} data-testid="group-tabs">
      {TABS.map((tab) => <a key={tab.id} href={tab.path(gid)} aria-current={tab.id === current ? 'page' : undefined}>{t(tab.title)}</a>)}
    </nav>
  )
}
