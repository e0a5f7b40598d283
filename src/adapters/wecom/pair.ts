import type { ActionKind, Channel, ChannelSink } from '../../kernel/channel'
import type { OutboundAction } from '../../kernel/context'
import { BotLoggedIn, BotLoggedOut } from '../../kernel/events'
import type { WecomChannel } from './channel'

/**
 * A bot running the puppet and the official API together (channel `both`). Messages and group events
 * come from both; actions go to the puppet, except corp tags (mapped tags go to the official API) and
 * robot messages while the puppet is offline (groups with a robot keep their scheduled shares). The bot
 * counts as logged in while either side is, so its outbound lanes pause only when both are down.
 */
export class PairedChannel implements Channel {
  readonly kind = 'wechaty+wecom'
  readonly capabilities: ReadonlySet<ActionKind>
  private readonly up = new Set<string>()

  constructor(private readonly puppet: Channel, readonly official: WecomChannel) {
    if (puppet.botId !== official.botId) throw new Error('a paired channel serves one bot')
    this.capabilities = new Set([...puppet.capabilities, ...official.capabilities])
  }

  get botId(): string { return this.puppet.botId }
  get online(): boolean { return this.puppet.online || this.official.online }

  async start(sink: ChannelSink): Promise<void> {
    const side = (name: string): ChannelSink => ({
      message: (m) => sink.message(m),
      event: (e) => {
        if (BotLoggedIn.is(e)) {
          const first = this.up.size === 0
          this.up.add(name)
          if (first) sink.event(e)
          return
        }
        if (BotLoggedOut.is(e)) {
          this.up.delete(name)
          if (this.up.size === 0) sink.event(e)
          return
        }
        sink.event(e)
      },
    })
    await this.official.start(side('official'))
    await this.puppet.start(side('puppet'))
  }

  async stop(): Promise<void> {
    await this.puppet.stop()
    await this.official.stop()
  }

  /** Which side performs an action. */
  route(action: OutboundAction): Channel {
    if (action.kind === 'tag' && this.official.canPerform(action)) return this.official
    if (this.puppet.online || !this.official.canPerform(action)) return this.puppet
    return this.official
  }

  perform(action: OutboundAction): Promise<void> { return this.route(action).perform(action) }
}
