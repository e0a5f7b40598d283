import type { GroupRecord } from '../../kernel/context'
import type { FeatureRules } from '../../kernel/feature'
import { defineRoute, groupOr404, HttpError, type RouteDefinition } from '../../kernel/routes'
import { asHttpError } from '../../kernel/rules.routes'
import type { RuleDryRun } from '../../kernel/rules'
import type { ModerationRule } from './moderation.rules'
import { AttachListsBody, DiffQuery, GroupParams, PutRulesBody, RollbackBody, type DryRunInput } from './moderation.schema'

const READ = { roles: ['admin', 'owner', 'operator'] as const, groupParam: 'id', mutates: false }
const WRITE = { roles: ['admin', 'owner'] as const, groupParam: 'id', mutates: true }

/**
 * Moderation's own rule routes (`/groups/:id/moderation…`), kept for the API they documented. Each is a
 * thin door to the one rules path (`app.rules`): the same validation, list checks, versions and dry run
 * as `/groups/:id/rules/moderation…`.
 */
export function moderationRuleRoutes(deps: { rules: FeatureRules<ModerationRule>; dryRun: RuleDryRun<ModerationRule, DryRunInput>; findGroup: (id: string) => Promise<GroupRecord | null> }): RouteDefinition[] {
  const { rules } = deps
  const group = (id: string): Promise<GroupRecord> => groupOr404(deps.findGroup, id)
  const saved = (groupId: string, write: { value: ModerationRule; version: number }) => ({ groupId, version: write.version, rules: write.value })
  return [
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation', summary: "A group's moderation rules and their version", params: GroupParams, access: READ,
      async handler({ params }) {
        await group(params.id)
        return { groupId: params.id, version: await rules.latest(params.id), rules: await rules.forGroup(params.id) }
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/groups/:id/moderation', summary: 'Replace the rules (creates a new version)', params: GroupParams,
      body: PutRulesBody, access: WRITE, status: 200,
      async handler({ params, body, auth, audit }) {
        await group(params.id)
        const write = await rules.write(params.id, body.rules, { by: auth, note: body.note ?? null }).catch((error: unknown) => { throw asHttpError(error, 'body.rules', 'invalid moderation rules') })
        audit({ groupId: params.id, target: `moderation:v${write.version}`, before: write.before, after: write.value })
        return saved(params.id, write)
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/versions', summary: 'Every version (newest first)', params: GroupParams, access: READ,
      async handler({ params }) {
        await group(params.id)
        const rows = await rules.versions(params.id)
        return { items: rows.map((r) => ({ version: r.version, author: r.author, note: r.note, at: new Date(r.at).toISOString() })) }
      },
    }),
    defineRoute({
      method: 'GET', path: '/api/v1/groups/:id/moderation/diff', summary: 'What changed between two versions (0 = the defaults)', params: GroupParams,
      query: DiffQuery, access: READ,
      async handler({ params, query }) {
        await group(params.id)
        const result = await rules.diff(params.id, query.from, query.to)
        if ('missing' in result) throw new HttpError(404, 'not_found', `no version ${result.missing}`)
        return { from: query.from, to: query.to, changes: result.changes }
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/moderation/rollback', summary: 'Make an earlier version live again (as a new version)', params: GroupParams,
      body: RollbackBody, access: WRITE, status: 200,
      async handler({ params, body, auth, audit }) {
        await group(params.id)
        const write = await rules.rollback(params.id, body.version, { by: auth }).catch((error: unknown) => { throw asHttpError(error, 'body.rules', 'invalid moderation rules') })
        if (!write) throw new HttpError(404, 'not_found', `no version ${body.version}`)
        audit({ groupId: params.id, target: `moderation:v${write.version}`, before: write.before, after: write.value })
        return saved(params.id, write)
      },
    }),
    defineRoute({
      method: 'POST', path: '/api/v1/groups/:id/moderation/dry-run', summary: 'What the rules would do with a message — without acting or counting a strike',
      params: GroupParams, body: deps.dryRun.body, access: READ, status: 200,
      async handler({ params, body, auth }) {
        const g = await group(params.id)
        return deps.dryRun.run({ group: g, rules: await rules.forGroup(params.id), body, caller: auth })
      },
    }),
    defineRoute({
      method: 'PUT', path: '/api/v1/groups/:id/moderation/word-lists', summary: 'Attach word lists to a group (a new rules version)', params: GroupParams,
      body: AttachListsBody, access: WRITE, status: 200,
      async handler({ params, body, auth, audit }) {
        await group(params.id)
        const before = await rules.forGroup(params.id)
        const write = await rules.write(params.id, { ...before, words: { ...before.words, lists: body.lists } }, { by: auth, note: 'attach word lists' })
          .catch((error: unknown) => { throw asHttpError(error, 'body.rules', 'invalid moderation rules') })
        audit({ groupId: params.id, target: `moderation:v${write.version}`, before: { lists: before.words.lists }, after: { lists: body.lists } })
        return saved(params.id, write)
      },
    }),
  ]
}
