/**
 * One replica of the fault harness, run as its own process (see test/fault/harness.ts). It runs the real
 * runtime on the shared MySQL database and Redis, with every bot on a simulated WeCom account
 * (wechaty-puppet-mock through real wechaty). It talks to the harness over the IPC channel:
 *  - it reports `ready` (bot held, logged in, every group synced), `released`, and every action the
 *    account performed on the simulated platform (`action`) — the WeCom side of the count;
 *  - it accepts `say` (a member speaks in a group of a bot it runs; copies of one id are redeliveries)
 *    and `stop` (graceful stop).
 * Configuration comes from the environment (QUNYUN_DB_URL, QUNYUN_REDIS_URL) plus FAULT_CONFIG (JSON
 * overrides) and FAULT_BOTS (JSON: bot id → groups).
 */
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load'
import type { BotDefinition } from '../../src/config/config.schema'
import { createLogger } from '../../src/logging'
import { Runtime } from '../../src/main'
import { roomId, SimWorld } from '../../src/adapters/wechaty/sim-world'
import type { PuppetLike } from '../../src/adapters/wechaty/channel'

interface Group { id: string; name: string; members: Array<{ id: string; name: string }> }
type ToReplica = { type: 'say'; bot: string; group: string; member: string; text: string; id: string } | { type: 'stop' }

const send = (message: unknown): void => { if (process.send) process.send(message) }

async function main(): Promise<void> {
  const overrides = JSON.parse(process.env.FAULT_CONFIG ?? '{}') as Record<string, unknown>
  const botGroups = JSON.parse(process.env.FAULT_BOTS ?? '{}') as Record<string, Group[]>
  const config = loadConfig({ overrides })
  // FAULT_LOG_DIR: each replica's log in a file of its own (for looking into a failed scenario).
  const logDir = process.env.FAULT_LOG_DIR
  const log = createLogger(config, logDir ? createWriteStream(join(logDir, `${process.env.QUNYUN_REPLICA_ID ?? 'replica'}.log`), { flags: 'a' }) : undefined)
  const bots: BotDefinition[] = Object.keys(botGroups).map((id) => ({
    id, name: `bot ${id}`, puppet: 'mock', tokenEnv: 'WECHATY_PUPPET_SERVICE_TOKEN', rulePack: 'default.yaml', groups: 'all',
    resolvedPuppet: 'mock', token: null, file: '(fault harness)',
  }))
  const worlds = new Map<string, SimWorld>()
  const runtime = new Runtime(config, {
    log, bots, http: process.env.FAULT_HTTP === '1', scheduler: true, simulation: false,
    // A fresh simulated account each time this replica starts the bot (as a new login session would be).
    puppetFor: (bot) => {
      const world = new SimWorld({ now: () => Date.now(), botName: bot.name })
      for (const g of botGroups[bot.id] ?? []) {
        for (const m of g.members) world.contact(m.id, m.name)
        world.room(g.id, g.name, g.members.map((m) => m.id), g.members[0]?.id)
      }
      world.puppet.watch((action) => send({ type: 'action', bot: bot.id, action }))
      worlds.set(bot.id, world)
      return world.puppet as unknown as PuppetLike
    },
  })
  const synced = new Map<string, Set<string>>()
  runtime.observe((o) => {
    if (o.kind !== 'event' || o.event.type !== 'group.synced' || !o.event.botId) return
    const bot = o.event.botId
    const set = synced.get(bot) ?? new Set<string>()
    synced.set(bot, set)
    set.add(o.event.groupId ?? '')
    const groups = botGroups[bot] ?? []
    if (groups.every((g) => set.has(roomId(g.id)))) send({ type: 'ready', bot })
  })
  process.on('message', (raw: ToReplica) => {
    if (raw.type === 'stop') {
      void runtime.stop().then(() => process.exit(0), () => process.exit(1))
      return
    }
    const world = worlds.get(raw.bot)
    if (!world || !runtime.ownership.holds(raw.bot)) { send({ type: 'not-held', id: raw.id, bot: raw.bot }); return }
    world.say(raw.group, raw.member, raw.text, raw.id)
  })
  await runtime.start()
  runtime.ownership.onChange(({ botId, held }) => {
    if (held) worlds.get(botId)?.login()
    else { synced.delete(botId); send({ type: 'released', bot: botId }) }
  })
  // Bots taken in the first tick (inside start) log in now.
  for (const bot of runtime.ownership.bots) worlds.get(bot)?.login()
  send({ type: 'started', replica: runtime.replicaId, port: runtime.address?.port })
}

main().catch((error: unknown) => {
  process.stderr.write(`replica failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
  process.exit(1)
})
