import { defineFeature } from '../../adapters/db/feature-store'
import { DIRECTORY, GROUP_SUMMARIES } from '../../kernel/directory'
import { GroupJoined, GroupLeft, GroupRenamed, GroupSynced, InvitationReceived, MemberJoined, MemberLeft } from '../../kernel/events'
import { DetailCache } from './groups.cache'
import type { GroupsConfig } from './groups.config'
import { CachedGroupDirectory } from './groups.directory'
import { GroupEntity, GroupEventEntity, MemberEntity } from './groups.entity'
import { GroupsRecorder } from './groups.handlers'
import { groupsMiddleware } from './groups.middleware'
import { groupsRoutes } from './groups.routes'
import { RetentionIndexGroups1798002000000 } from '../../../migrations/1798002000000-RetentionIndexGroups'

/** Channel announcing group changes made through the API. */
const GROUPS_CHANNEL = 'groups.changed'

/**
 * groups: the registry of groups and members. Records every group at login and when the bot is added,
 * members with join/leave times and inviters, renames; answers room invitations; provides the directory
 * the message path and every other feature read (nobody else reads its tables).
 */
export const groupsFeature = defineFeature<undefined, GroupsConfig>({
  name: 'groups',
  config: (c) => ({ timezone: c.timezone, ...c.groups, detailCacheMs: c.activity.flushIntervalMs }),
  entities: [GroupEntity, MemberEntity, GroupEventEntity],
  migrations: [RetentionIndexGroups1798002000000],
  personalData: {
    purpose: 'Who is in which group (names, roles, joins, leaves, inviters), so features can greet, mention and count members.',
    tables: [
      { entity: GroupEntity, dataClass: 'profile', kept: 'the group itself, while the bot serves it', memberColumns: ['ownerId'], groupColumn: 'id', onErase: 'pseudonymise' },
      { entity: MemberEntity, dataClass: 'profile', timeColumn: 'leftAt', memberColumns: ['memberId', 'inviterId'], textColumns: ['name'], nameColumns: ['name'], groupColumn: 'groupId', onErase: 'delete' },
      { entity: GroupEventEntity, dataClass: 'message-metadata', timeColumn: 'at', memberColumns: ['memberId', 'actorId'], mentionColumns: ['detail'], groupColumn: 'groupId', onErase: 'delete' },
    ],
  },
  events: { consumes: [GroupSynced, GroupJoined, GroupLeft, GroupRenamed, InvitationReceived, MemberJoined, MemberLeft] },
  inject: [GROUP_SUMMARIES],
  provides: [DIRECTORY],
  async setup(app) {
    const directory = new CachedGroupDirectory(app.store, app.config.timezone)
    app.provide(DIRECTORY, directory)
    const summaries = app.use(GROUP_SUMMARIES)
    // A group changed through the API on any replica: every replica reloads it on next use.
    const details = new DetailCache(() => app.clock.now(), app.config.detailCacheMs)
    const unsubscribe = await app.coordination.pubsub.subscribe(GROUPS_CHANNEL, (groupId) => {
      directory.forgetGroup(groupId)
      details.drop(groupId)
    })
    const recorder = new GroupsRecorder({ store: app.store, directory, outbound: app.outbound, clock: app.clock, log: app.log, config: app.config })
    return {
      middleware: groupsMiddleware(recorder),
      // Inline: a join is recorded before the group's next message is processed.
      onEvent: (event) => recorder.handle(event),
      routes: groupsRoutes(app.store, (group) => summaries.of(group), async (group) => {
        directory.putGroup(group)
        await app.coordination.pubsub.publish(GROUPS_CHANNEL, group.id)
      }, details, (id) => app.pseudonym(id)),
      stop: async () => { await unsubscribe() },
      eraseMember: async (s) => [
        { place: 'members', removed: directory.eraseMember(s.memberId, s.groupIds, s.dryRun === true), pseudonymised: 0 },
        { place: 'group-details', removed: details.dropMentioning(s.memberId, s.dryRun === true, s.groupIds), pseudonymised: 0 },
      ],
    }
  },
})
