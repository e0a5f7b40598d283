import { defineFeature } from '../../app/feature-deps'
import { rulesAccessor } from '../../kernel/feature'
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
  rules: AutoReplyGroupSchema,
  entities: [AutoReplyRuleEntity, AutoReplyHitEntity],
  async setup(deps) {
    const store = new AutoReplyStore(deps.db, deps.ports.pubsub, deps.log)
    await store.start()
    const responder = new Responder({ db: deps.db, store, counters: deps.ports.counters, random: deps.random, outbound: deps.outbound })
    const settings = rulesAccessor<AutoReplyGroup>('auto-reply')
    return {
      middleware: autoReplyMiddleware({ responder, settings }),
      routes: autoReplyRoutes({ db: deps.db, clock: deps.clock, store, responder, rules: deps.rules, findGroup: deps.findGroup }),
      stop: () => store.stop(),
    }
  },
})
