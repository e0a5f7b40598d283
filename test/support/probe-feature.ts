import { defineFeature, type Feature } from '../../src/adapters/db/feature-store'
import { FEATURES } from '../../src/features'

/** Messages the probe saw, in the order its middleware ran. */
export const probeSeen: string[] = []

/**
 * A test-only feature placed after the product's: replies to `ping`, removes on `kick me`, tags on
 * `tag me`, throws on `boom` — so the harness, the outbound queue and error boundaries can be exercised
 * before the user-facing features exist.
 */
export const probeFeature = defineFeature({
  name: 'probe',
  setup() {
    return {
      async middleware(ctx, next) {
        probeSeen.push(ctx.message.id)
        const text = ctx.message.text
        if (text === 'ping') { ctx.reply(`收到 pong（${ctx.member.name}）`, { mention: true }); ctx.handled('probe'); return }
        if (text === 'kick me') { ctx.remove('asked for it'); return }
        if (text === 'tag me') { ctx.tag('vip'); return }
        if (text === 'boom') throw new Error('probe exploded')
        await next()
      },
    }
  },
})

/** A feature that always throws, placed first, to show one failing feature never stops the others. */
export const brokenFeature = defineFeature({
  name: 'broken',
  setup() {
    return { async middleware() { throw new Error('broken feature') } }
  },
})

/** The product's features plus the probe. */
export const WITH_PROBE: readonly Feature[] = [...FEATURES, probeFeature]
