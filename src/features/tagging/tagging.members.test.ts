import { Chat } from '../../../test/support/chat'
import { apiAs, type ApiClient } from '../../../test/support/api'
import { cleanup, COORDINATION, STORAGE } from '../../../test/support/env'

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

const G1 = 'g1@chatroom'
const START = Date.parse('2026-11-02T02:05:00Z')
const PATH = `/api/v1/groups/${encodeURIComponent(G1)}/tagging/members`
const SORTS = ['score', 'lastActive', 'joined', 'stateSince'] as const
type Sort = typeof SORTS[number]
type Stored = { member_id: string; score: number | string; last_active_day: string | null; joined_at: number | string | null; state_at: number | string }

/** The sort value as stored (what the database orders by), null where the column is empty. */
function valueOf(r: Stored, sort: Sort): number | string | null {
  if (sort === 'score') return Number(r.score)
  if (sort === 'lastActive') return r.last_active_day
  if (sort === 'joined') return r.joined_at === null ? null : Number(r.joined_at)
  return Number(r.state_at)
}

/** The order the list promises: by the value (NULLs first ascending, last descending), ties by member id in the same direction. */
function expectedOrder(rows: Stored[], sort: Sort, order: 'asc' | 'desc'): string[] {
  const sign = order === 'asc' ? 1 : -1
  const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0)
  return [...rows].sort((a, b) => {
    const va = valueOf(a, sort)
    const vb = valueOf(b, sort)
    const byValue = va === null && vb === null ? 0 : va === null ? -1 : vb === null ? 1 : cmp(va, vb)
    return sign * (byValue !== 0 ? byValue : cmp(a.member_id, b.member_id))
  }).map((r) => r.member_id)
}

async function walk(api: ApiClient, sort: Sort, order: 'asc' | 'desc', extra = ''): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const res = await api.get(`${PATH}?sort=${sort}&order=${order}&limit=4${extra}${cursor ? `&cursor=${cursor}` : ''}`).expect(200)
    const body = res.body as { items: Array<{ memberId: string }>; nextCursor: string | null }
    ids.push(...body.items.map((i) => i.memberId))
    cursor = body.nextCursor
    pages++
    if (pages > 50) throw new Error('the cursor does not advance')
  } while (cursor)
  return { ids, pages }
}

describe(`tagging member list, keyset paging (${STORAGE} + ${COORDINATION})`, () => {
  let chat: Chat
  afterEach(async () => { await chat?.close() })

  it('walks every page of every sort and order by cursor: each member once, in the order of the sort, ties and empty values included', async () => {
    chat = await Chat.start({ start: START, http: true })
    // 30 members whose sort values repeat (3 scores, 4 days, 3 join instants, 2 state instants) and are often empty.
    const rows: unknown[][] = []
    for (let i = 0; i < 30; i++) {
      const id = `k${String((i * 7) % 30).padStart(2, '0')}`
      const day = i % 5 === 0 ? null : `2026-10-${String(20 + (i % 4)).padStart(2, '0')}`
      rows.push([G1, id, i % 3 === 0 ? 'dormant' : 'active', START - (i % 2) * 3_600_000, '2026-11-01', i % 4 === 0 ? null : START - (i % 3) * 86_400_000, null, day ?? '2026-10-01', day, i, i % 6, [1.5, 3, 0.25][i % 3], null])
    }
    for (const r of rows) {
      await chat.runtime.db.query('INSERT INTO qy_tagging_member (group_id, member_id, state, state_at, state_day, joined_at, inviter_id, seen_day, last_active_day, messages, active_days, score, segment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', r)
    }
    const stored: Stored[] = await chat.runtime.db.query('SELECT member_id, score, last_active_day, joined_at, state_at FROM qy_tagging_member WHERE group_id = ?', [G1])
    expect(stored.length).toBeGreaterThanOrEqual(30)
    const api = await apiAs(chat, 'owner', { groups: [G1] })

    for (const sort of SORTS) {
      for (const order of ['asc', 'desc'] as const) {
        const { ids, pages } = await walk(api, sort, order)
        expect(new Set(ids).size).toBe(ids.length) // no duplicates
        expect(ids).toEqual(expectedOrder(stored, sort, order)) // no gaps, in order
        expect(pages).toBeGreaterThanOrEqual(Math.ceil(stored.length / 4))
        // Offset paging (kept for compatibility) agrees with the cursor walk.
        const first = (await api.get(`${PATH}?sort=${sort}&order=${order}&limit=4&offset=8`).expect(200)).body as { items: Array<{ memberId: string }> }
        expect(first.items.map((i) => i.memberId)).toEqual(ids.slice(8, 12))
      }
    }
    // A filter walks the same way: only the dormant members, each once.
    const dormant = stored.filter((r) => rows.some((x) => x[1] === r.member_id && x[2] === 'dormant'))
    expect((await walk(api, 'lastActive', 'desc', '&state=dormant')).ids).toEqual(expectedOrder(dormant, 'lastActive', 'desc'))
  })

  it('answers 400 to a cursor it did not make, one of another sort or order, or one with an offset', async () => {
    chat = await Chat.start({ start: START, http: true })
    for (let i = 0; i < 3; i++) {
      await chat.runtime.db.query('INSERT INTO qy_tagging_member (group_id, member_id, state, state_at, state_day, seen_day, messages, active_days, score) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)', [G1, `b${i}`, 'active', START, '2026-11-01', '2026-11-01', i])
    }
    const api = await apiAs(chat, 'owner', { groups: [G1] })
    const cursor = ((await api.get(`${PATH}?sort=score&order=desc&limit=1`).expect(200)).body as { nextCursor: string }).nextCursor
    expect(typeof cursor).toBe('string')
    await api.get(`${PATH}?sort=score&order=desc&limit=1&cursor=${cursor}`).expect(200)
    await api.get(`${PATH}?sort=score&order=asc&limit=1&cursor=${cursor}`).expect(400)
    await api.get(`${PATH}?sort=joined&order=desc&limit=1&cursor=${cursor}`).expect(400)
    await api.get(`${PATH}?sort=score&order=desc&limit=1&offset=1&cursor=${cursor}`).expect(400)
    await api.get(`${PATH}?limit=1&cursor=not-a-cursor`).expect(400)
    await api.get(`${PATH}?limit=1&cursor=${'%7B%7D'}`).expect(400)
    const forged = Buffer.from(JSON.stringify({ s: 'score', o: 'desc', v: '2026-01-01', m: 'b1' })).toString('base64url')
    await api.get(`${PATH}?limit=1&cursor=${forged}`).expect(400)
  })
})
