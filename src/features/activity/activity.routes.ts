import type { FeatureTables } from '../../adapters/db/feature-store'
import { defineRoute, GroupParams, groupNotFound, type RouteDefinition } from '../../kernel/routes'
import type { Clock } from '../../ports/clock'
import { dailySeries, hourlyProfile, topMembers } from './activity.queries'
import { ActivityQuery } from './activity.schema'

/** Admin routes of the activity feature. */
export function activityRoutes(db: FeatureTables, clock: Clock, timezoneOf: (groupId: string) => Promise<string | null>): RouteDefinition[] {
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/activity', summary: 'Daily series, hourly profile and top members of a group',
      params: GroupParams, query: ActivityQuery, access: { roles: ['admin', 'owner', 'operator'], groupParam: 'id', mutates: false },
      async handler({ params, query }) {
        const timezone = await timezoneOf(params.id)
        if (!timezone) throw groupNotFound()
        const series = await dailySeries(db, params.id, timezone, clock.now(), query.days)
        const [hours, members] = await Promise.all([
          hourlyProfile(db, params.id, series.from, series.to),
          topMembers(db, params.id, series.from, series.to, 10),
        ])
        return { groupId: params.id, timezone, ...series, hours, topMembers: members }
      },
    }),
  ]
}
