import { pseudonymisingLogger, scrubMemberIds, type Logger } from './logger'

const pseudonym = (id: string): string => `${id.replace(/[^a-z0-9]/gi, '')}0000000000000000`

describe('scrubMemberIds', () => {
  it('replaces the given ids where they stand on their own, and platform-looking ids anywhere', () => {
    const text = 'Error: cannot remove bob from g1@chatroom (bobby stays); contact wxid_abc123 / wmAbCdEfGhIjKlMnOpQrStUvWxYz01 unknown'
    expect(scrubMemberIds(text, ['bob'], pseudonym)).toBe(
      'Error: cannot remove ~bob0000000000000 from g1@chatroom (bobby stays); contact ~wxidabc123000000 / ~wmAbCdEfGhIjKlMn unknown',
    )
  })

  it('leaves text without ids unchanged', () => {
    expect(scrubMemberIds('Error: timeout', ['bob'], pseudonym)).toBe('Error: timeout')
  })
})

describe('pseudonymisingLogger', () => {
  it('writes the line’s members as pseudonyms in its member fields and in its error text', () => {
    const lines: Array<Record<string, unknown> | undefined> = []
    const sink: Logger = { error: (_m, x) => lines.push(x), warn: (_m, x) => lines.push(x), info: (_m, x) => lines.push(x), debug: (_m, x) => lines.push(x), child: () => sink }
    const log = pseudonymisingLogger(sink, pseudonym)
    log.warn('removal failed', { member: 'carol', group: 'g1', error: 'Error: member carol is not in room g1' })
    log.error('wechaty error', { bot: 'b1', error: 'Error: contact wxid_q9z8y7 not found' })
    expect(lines).toEqual([
      { member: '~carol00000000000', group: 'g1', error: 'Error: member ~carol00000000000 is not in room g1' },
      { bot: 'b1', error: 'Error: contact ~wxidq9z8y7000000 not found' },
    ])
  })
})
