import { defineFeature, type Feature } from '../../src/adapters/db/feature-store'
import type { GroupInfo, GroupRecord, MemberInfo } from '../../src/kernel/context'
import { DIRECTORY, type GroupDirectory } from '../../src/kernel/directory'

/**
 * The "empty pipeline" of the benchmark: a feature with no middleware, no event consumer and no tables,
 * only the trivial in-memory directory the processor requires. A runtime with just this feature still
 * runs dedupe → per-group ordering → directory/rules lookup → context → (empty) chain, so it measures
 * the kernel's fixed overhead per message: the ceiling the full pipeline is compared with.
 */
export function emptyFeature(timezone: string): Feature {
  return defineFeature({
    name: 'bench-empty',
    provides: [DIRECTORY],
    setup(app) {
      const groups = new Map<string, GroupInfo>()
      const members = new Map<string, Map<string, MemberInfo>>()
      const directory: GroupDirectory = {
        group(id: string, botId: string): GroupInfo {
          let g = groups.get(id)
          if (!g) groups.set(id, (g = { id, botId, name: '', timezone, ownerId: null, labels: [] }))
          return g
        },
        member(groupId: string, memberId: string, name: string): MemberInfo {
          let inGroup = members.get(groupId)
          if (!inGroup) members.set(groupId, (inGroup = new Map()))
          let m = inGroup.get(memberId)
          if (!m) inGroup.set(memberId, (m = { id: memberId, name, role: 'member', joinedAt: null, known: true }))
          return m
        },
        async find(id: string): Promise<GroupRecord | null> {
          const g = groups.get(id)
          return g ? { ...g, memberCount: 0, active: true } : null
        },
        async activeGroups(): Promise<GroupRecord[]> { return [...groups.values()].map((g) => ({ ...g, memberCount: 0, active: true })) },
        async members() { return [] },
      }
      app.provide(DIRECTORY, directory)
      return {}
    },
  })
}
