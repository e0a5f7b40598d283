import type { ComponentType } from 'preact'
import type { Role } from '../api'
import type { MessageKey } from '../i18n'
import { AuditPage, TokensPage } from './admin'
import { GroupPage } from './group'
import { GroupsPage } from './groups'
import { RulesPage } from './rules'

/** What a page receives: the route's parameters. */
export interface PageProps { params: Record<string, string> }

/**
 * Every page of the dashboard, in one list: its route pattern (in the URL fragment), title, the roles
 * that may open it, and whether it is a top-level navigation entry or a tab of a group. Pages for new
 * API features (stats, lotteries, scheduled shares, lifecycle) are added here as their routes land.
 */
export interface PageDef {
  id: string
  pattern: string
  title: MessageKey
  roles: readonly Role[]
  /** 'top': in the main navigation; 'group': a tab on each group; undefined: reached by links only. */
  nav?: 'top' | 'group'
  component: ComponentType<PageProps>
}

const ALL: readonly Role[] = ['admin', 'owner', 'operator']

export const PAGES: readonly PageDef[] = [
  { id: 'groups', pattern: '/groups', title: 'groups', roles: ALL, nav: 'top', component: GroupsPage },
  { id: 'group', pattern: '/groups/:gid', title: 'group', roles: ALL, nav: 'group', component: GroupPage },
  { id: 'rules', pattern: '/groups/:gid/rules/:feature', title: 'rules', roles: ALL, nav: 'group', component: RulesPage },
  { id: 'audit', pattern: '/audit', title: 'audit', roles: ALL, nav: 'top', component: AuditPage },
  { id: 'tokens', pattern: '/tokens', title: 'tokens', roles: ['admin'], nav: 'top', component: TokensPage },
]

/** Pages a role may open. */
export const pagesFor = (role: Role): PageDef[] => PAGES.filter((p) => p.roles.includes(role))
