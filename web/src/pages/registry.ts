import type { ComponentType } from 'preact'
import type { Role } from '../api'
import type { MessageKey } from '../i18n'
import { lazyPage } from '../ui/lazy-page'

/** What a page receives: the route's parameters. */
export interface PageProps { params: Record<string, string> }

/**
 * Every page of the dashboard, in one list (each loaded on first visit, so the first load carries none): its route pattern (in the URL fragment), title, the roles
 * that may open it, and whether it is a top-level navigation entry or a tab of a group. Pages for new
 * API features are added here as their routes land (one page file + one line).
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
  { id: 'overview', pattern: '/overview', title: 'overview', roles: ALL, nav: 'top', component: lazyPage(() => import('./overview').then((m) => m.OverviewPage)) },
  { id: 'groups', pattern: '/groups', title: 'groups', roles: ALL, nav: 'top', component: lazyPage(() => import('./groups').then((m) => m.GroupsPage)) },
  { id: 'group', pattern: '/groups/:gid', title: 'group', roles: ALL, nav: 'group', component: lazyPage(() => import('./group').then((m) => m.GroupPage)) },
  { id: 'rules', pattern: '/groups/:gid/rules/:feature', title: 'rules', roles: ALL, nav: 'group', component: lazyPage(() => import('./rules').then((m) => m.RulesPage)) },
  { id: 'lifecycle', pattern: '/groups/:gid/lifecycle', title: 'lifecycleMembers', roles: ALL, nav: 'group', component: lazyPage(() => import('./lifecycle').then((m) => m.LifecyclePage)) },
  { id: 'topics', pattern: '/groups/:gid/topics', title: 'hotTopics', roles: ALL, nav: 'group', component: lazyPage(() => import('./topics').then((m) => m.TopicsPage)) },
  { id: 'retention', pattern: '/groups/:gid/retention', title: 'retention', roles: ALL, nav: 'group', component: lazyPage(() => import('./retention').then((m) => m.RetentionPage)) },
  { id: 'insights', pattern: '/groups/:gid/insights', title: 'insights', roles: ALL, nav: 'group', component: lazyPage(() => import('./insights').then((m) => m.InsightsPage)) },
  // Lotteries and scheduled shares are owned objects of admins and owners (the API refuses operators).
  { id: 'lotteries', pattern: '/lotteries', title: 'lotteries', roles: ['admin', 'owner'], nav: 'top', component: lazyPage(() => import('./lotteries').then((m) => m.LotteriesPage)) },
  { id: 'lottery', pattern: '/lotteries/:lid', title: 'lottery', roles: ['admin', 'owner'], component: lazyPage(() => import('./lotteries').then((m) => m.LotteryPage)) },
  { id: 'shares', pattern: '/shares', title: 'shares', roles: ['admin', 'owner'], nav: 'top', component: lazyPage(() => import('./shares').then((m) => m.SharesPage)) },
  { id: 'share', pattern: '/shares/:sid', title: 'schedule', roles: ['admin', 'owner'], component: lazyPage(() => import('./shares').then((m) => m.SharePage)) },
  { id: 'audit', pattern: '/audit', title: 'audit', roles: ALL, nav: 'top', component: lazyPage(() => import('./admin').then((m) => m.AuditPage)) },
  { id: 'tokens', pattern: '/tokens', title: 'tokens', roles: ['admin'], nav: 'top', component: lazyPage(() => import('./admin').then((m) => m.TokensPage)) },
]

/** Pages a role may open. */
export const pagesFor = (role: Role): PageDef[] => PAGES.filter((p) => p.roles.includes(role))
