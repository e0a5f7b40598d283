import { defineFeature } from '../../adapters/db/feature-store'
import { ACCESS } from '../../contracts/access'
import { AUTO_REPLY_RULE_OWNERS, AutoReplyMatched } from '../../contracts/auto-reply'
import { DIRECTORY } from '../../kernel/directory'
import { AutoReply1764100000000 } from '../../../migrations/1764100000000-AutoReply'
import { AutoReplyHitEntity, AutoReplyRuleEntity } from './auto-reply.entity'
import { autoReplyMiddleware } from './auto-reply.middleware'
import { Responder } from './auto-reply.responder'
import { autoReplyRoutes } from './auto-reply.routes'
import { AutoReplyGroupSchema, type AutoReplyGroup } from './auto-reply.rules'
import { AutoReplyStore } from './auto-reply.store'

/**
 * auto-reply: owners' FAQ desk. Keyword and regex triggers on normalized text, scopes (owner's groups,
 * chosen groups, labels), conditions (mention, time windows, newcomers), cooldowns, ordered rules with
 * "also continue", templated answers with random variants, link cards and images.
 */
export const autoReplyFeature = defineFeature<AutoReplyGroup>({
  name: 'auto-reply',
  rules: { schema: AutoReplyGroupSchema },
  entities: [AutoReplyRuleEntity, AutoReplyHitEntity],
  personalData: {
    purpose: 'Keyword answers. Its tables hold rules and per-rule hit counts, no member data; per-member cooldowns live in counters (erased by its hook).',
    tables: [],
  },
  migrations: [AutoReply1764100000000],
  events: { emits: [AutoReplyMatched] },
  inject: [DIRECTORY, ACCESS],
  provides: [AUTO_REPLY_RULE_OWNERS],
  async setup(app) {
    app.provide(AUTO_REPLY_RULE_OWNERS, {
      async ruleIdsOwnedBy(ownerTokenId) {
        const rows = await app.store.repo(AutoReplyRuleEntity).find({ select: { id: true }, where: { ownerTokenId } })
        return rows.map((r) => r.id)
      },
    })
    const directory = app.use(DIRECTORY)
    const store = new AutoReplyStore(app.store, app.coordination.pubsub, app.use(ACCESS), app.log)
    await store.start()
    const responder = new Responder({ db: app.store, store, counters: app.coordination.counters, random: app.random, outbound: app.outbound })
    return {
      middleware: autoReplyMiddleware({ responder, settings: app.rules }),
      routes: autoReplyRoutes({ db: app.store, clock: app.clock, store, responder, rules: app.rules, findGroup: (id) => directory.find(id) }),
      stop: () => store.stop(),
    }
  },
})
