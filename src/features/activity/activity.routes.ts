import type { FeatureTables } from '../../adapters/db/feature-store'
import type { GroupDirectory } from '../../kernel/directory'
import { defineRoute, GroupParams, groupNotFound, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import { dailySeries, hourlyProfile, topMembers } from './activity.queries'
import { ActivityQuery } from './activity.schema'

/** Admin routes of the activity feature. */
export function activityRoutes(db: FeatureTables, clock: Clock, directory: GroupDirectory): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/activity', summary: 'Daily series, hourly profile and top members (with display names) of a group',
      params: GroupParams, query: ActivityQuery, access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, query }) {
        const group = await directory.find(params.id)
        if (!group) throw groupNotFound()
        const timezone = group.timezone
        const series = await dailySeries(db, params.id, timezone, clock.now(), query.days)
        const [hours, members] = await Promise.all([
          hourlyProfile(db, params.id, series.from, series.to),
          topMembers(db, params.id, series.from, series.to, 10),
        ])
        // Display names through the group directory (the one place that knows them), left members included.
        const names = new Map((members.length > 0 ? await directory.members(params.id, { ids: members.map((m) => m.memberId), includeLeft: true }) : []).map((m) => [m.id, m.name]))
        return { groupId: params.id, timezone, ...series, hours, topMembers: members.map((m) => ({ ...m, name: names.get(m.memberId) ?? null })) }
      },
    }),
  ]
}
