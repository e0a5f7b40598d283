import { defineFeature } from '../../app/feature-deps'
import { CachedGroupDirectory } from './groups.directory'
import { GroupEntity, GroupEventEntity, MemberEntity } from './groups.entity'
import { GroupsRecorder } from './groups.handlers'
import { DetailCache, groupsRoutes } from './groups.routes'

/** Channel announcing group changes made through the API. */
const GROUPS_CHANNEL = 'groups.changed'

/**
 * groups: the registry of groups and members. Records every group at login and when the bot is added,
 * members with join/leave times and inviters, renames; answers room invitations; feeds the cached
 * directory the message path reads.
 */
export const groupsFeature = defineFeature({
  name: 'groups',
  entities: [GroupEntity, MemberEntity, GroupEventEntity],
  async setup(deps) {
    const directory = new CachedGroupDirectory(deps.db, deps.config.timezone)
    // A group changed through the API on any replica: every replica reloads it on next use.
    const details = new DetailCache(() => deps.clock.now(), deps.config.activity.flushIntervalMs)
    const unsubscribe = await deps.ports.pubsub.subscribe(GROUPS_CHANNEL, (groupId) => {
      directory.forgetGroup(groupId)
      details.drop(groupId)
    })
    const recorder = new GroupsRecorder({ db: deps.db, directory, outbound: deps.outbound, clock: deps.clock, log: deps.log, config: deps.config })
    return {
      async middleware(ctx, next) {
        if (!ctx.member.known) {
          // First message from someone we never saw join: store them (joined time unknown).
          await recorder.rememberMember(ctx.message.groupId, { id: ctx.member.id, name: ctx.member.name, role: ctx.member.role })
        }
        await next()
      },
      directory,
      onEvent: (event) => recorder.handle(event),
      routes: groupsRoutes(deps.db, (group) => deps.groupSummaries(group), async (group) => {
        directory.putGroup(group)
        await deps.ports.pubsub.publish(GROUPS_CHANNEL, group.id)
      }, details),
      stop: async () => { await unsubscribe() },
    }
  },
})
