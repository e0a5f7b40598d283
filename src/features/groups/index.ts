import { defineFeature } from '../../app/feature-deps'
import { CachedGroupDirectory } from './groups.directory'
import { GroupEntity, GroupEventEntity, MemberEntity } from './groups.entity'
import { GroupsRecorder } from './groups.handlers'
import { groupsRoutes } from './groups.routes'

/**
 * groups: the registry of groups and members. Records every group at login and when the bot is added,
 * members with join/leave times and inviters, renames; answers room invitations; feeds the cached
 * directory the message path reads.
 */
export const groupsFeature = defineFeature({
  name: 'groups',
  entities: [GroupEntity, MemberEntity, GroupEventEntity],
  setup(deps) {
    const directory = new CachedGroupDirectory(deps.db, deps.config.timezone)
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
      routes: groupsRoutes(deps.db, (group) => deps.groupSummaries(group)),
    }
  },
})
