import { defineFeature, type FeatureDeps } from '../../src/app/feature-deps'
import type { FeatureDefinition } from '../../src/kernel/feature'
import type { GroupInfo, GroupRecord, MemberInfo } from '../../src/kernel/context'

/**
 * The "empty pipeline" of the benchmark: a feature with no middleware, no event consumer and no tables,
 * only the trivial in-memory directory the processor requires. A runtime with just this feature still
 * runs dedupe → per-group ordering → directory/rules lookup → context → (empty) chain, so it measures
 * the kernel's fixed overhead per message: the ceiling the full pipeline is compared with.
 */
export function emptyFeature(timezone: string): FeatureDefinition<FeatureDeps, unknown> {
  return defineFeature<unknown>({
    name: 'bench-empty',
    setup() {
      const groups = new Map<string, GroupInfo>()
      const members = new Map<string, MemberInfo>()
      return {
        directory: {
          group(id: string, botId: string): GroupInfo {
            let g = groups.get(id)
            if (!g) groups.set(id, (g = { id, botId, name: '', timezone, ownerId: null, labels: [] }))
            return g
          },
          member(groupId: string, memberId: string, name: string): MemberInfo {
            const key = groupId + '\u0000' + memberId
            let m = members.get(key)
            if (!m) members.set(key, (m = { id: memberId, name, role: 'member', joinedAt: null, known: true }))
            return m
          },
          async find(id: string): Promise<GroupRecord | null> {
            const g = groups.get(id)
            return g ? { ...g, memberCount: 0, active: true } : null
          },
        },
      }
    },
  })
}
