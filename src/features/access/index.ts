import { defineFeature } from '../../adapters/db/feature-store'
import { ACCESS, type AccessService } from '../../contracts/access'
import { ApiPlatform1763900000000 } from '../../../migrations/1763900000000-ApiPlatform'
import { AuditLog } from './access.audit'
import { ApiTokenEntity, AuditEntity, TokenGroupEntity } from './access.entity'
import { accessRoutes } from './access.routes'
import { LiveTokenScopes } from './access.scopes'
import { TokenStore } from './access.tokens'

/**
 * access: who may call the admin API and see what — hashed API tokens with roles and granted groups, the
 * audit log of every change, and the live group scope of every owner (a rule or word list never serves a
 * group its owner lost). The admin API authenticates and audits through the service it provides.
 */
export const accessFeature = defineFeature({
  name: 'access',
  entities: [ApiTokenEntity, TokenGroupEntity, AuditEntity],
  personalData: {
    purpose: 'The audit log of admin API changes (who changed what, when); a path or summary may name a member.',
    tables: [
      { entity: AuditEntity, dataClass: 'audit-log', timeColumn: 'at', mentionColumns: ['path', 'summary'], groupColumn: 'groupId', onErase: 'pseudonymise' },
    ],
  },
  migrations: [ApiPlatform1763900000000],
  provides: [ACCESS],
  async setup(app) {
    const tokens = new TokenStore({ store: app.store, clock: app.clock, pubsub: app.coordination.pubsub, log: app.log })
    await tokens.start()
    const audit = new AuditLog(app.store)
    const scopes = new LiveTokenScopes(app.store, app.coordination.pubsub)
    await scopes.start()
    const service: AccessService = {
      authenticate: (token) => tokens.authenticate(token),
      audit: (entry) => audit.append(entry),
      createToken: (input) => tokens.create(input),
      scopes: () => scopes.current(),
    }
    app.provide(ACCESS, service)
    return {
      routes: accessRoutes(tokens, audit),
      stop: async () => { await tokens.stop(); await scopes.stop() },
    }
  },
})
