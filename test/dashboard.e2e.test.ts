import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium, type Browser, type Page, type Response } from 'playwright-core'
import { Chat, type Person } from './support/chat'
import { apiAs, type ApiClient } from './support/api'
import { captureLogger, cleanup } from './support/env'

/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the real runtime
 * (wechaty on the mock puppet, the embedded default) serving the built dashboard at /dashboard.
 * Screenshots of each page go to test-artifacts/dashboard/ (gitignored). Skipped, with one line saying
 * so, where /usr/bin/chromium is absent (.ci/run installs it with apt-get when it can).
 */
const CHROMIUM = process.env.QUNYUN_CHROMIUM ?? '/usr/bin/chromium'
const HAVE_BROWSER = existsSync(CHROMIUM)
const ROOT = resolve(__dirname, '..')
const SHOTS = join(ROOT, 'test-artifacts', 'dashboard')
/** Flags for Chromium as root on a closed network (see the project's SERVICES notes). */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Builds the dashboard when missing or stale (npm test from a fresh clone; a no-op otherwise). */
function buildDashboard(): void {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'qunyun.js'), '--build-web'], { cwd: ROOT, encoding: 'utf8' })
  if (built.status !== 0) throw new Error(`dashboard build failed: ${built.stderr}`)
  mkdirSync(SHOTS, { recursive: true })
}

/**
 * Chromium with one page at laptop size on the dashboard at `base`, recording every URL requested and
 * every page error (CSP violations included); console errors matching `expected` (failed calls a test
 * provokes) are not errors.
 */
class Ui {
  readonly requested: string[] = []
  readonly pageErrors: string[] = []
  private constructor(private readonly browser: Browser, readonly page: Page, readonly base: string) {}

  static async open(base: string, expected: RegExp): Promise<Ui> {
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN', acceptDownloads: true })
    const ui = new Ui(browser, await context.newPage(), base)
    const page = ui.page
    page.setDefaultTimeout(10_000)
    page.on('request', (r) => { ui.requested.push(r.url()) })
    page.on('dialog', (d) => { void d.accept() })
    page.on('pageerror', (e) => { ui.pageErrors.push(e.message) })
    page.on('console', (m) => { if (m.type() === 'error' && !expected.test(m.text())) ui.pageErrors.push(m.text()) })
    return ui
  }

  /** A full-page screenshot for review. */
  shot(name: string): Promise<Buffer> { return this.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }) }

  /**
   * Signs in with a token through the login form (signing the current session out first), and waits until
   * the page says it is that token's session: the name it shows is the one the API gives for the token.
   */
  async signIn(token: string): Promise<void> {
    const me = await fetch(`${this.base}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })
    if (!me.ok) throw new Error(`signIn: the token is refused (${me.status})`)
    const name = ((await me.json()) as { name: string }).name
    await this.page.goto(`${this.base}/dashboard/`)
    // The page shows either the form or a session restored from storage; wait for one before deciding.
    const shown = await this.page.waitForSelector('#token, [data-testid=sign-out]')
    if ((await shown.getAttribute('data-testid')) === 'sign-out') {
      await shown.click()
      await this.page.waitForSelector('#token')
    }
    await this.page.fill('#token', token)
    await this.page.click('button[type=submit]')
    await this.page.locator('[data-testid=who]', { hasText: name }).waitFor()
  }

  close(): Promise<void> { return this.browser.close() }
}

/** The page's document, as far as the waits below use it (the tests compile without the DOM library). */
type Doc = { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> }

/** The trimmed text of each element matching `selector`, in document order. */
function textsOf(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (els) => els.map((e) => (e.textContent ?? '').trim()))
}

/**
 * Waits until the elements matching `selector` read `expected` (trimmed, in order; with `anyOrder`, in any
 * order), then asserts it, so that a wait that runs out fails with what the page showed instead. The
 * result of an action is read only once it is there: the page renders the change (a pager, a sort mark, a
 * filter) a frame before its rows, then a loading state, so waiting for anything but the rows themselves
 * can end while the rows are still the old ones or gone.
 */
async function expectTexts(page: Page, selector: string, expected: string[], { anyOrder = false } = {}): Promise<void> {
  const want = anyOrder ? [...expected].sort() : expected
  await page.waitForFunction(({ selector, want, anyOrder }) => {
    const doc = (globalThis as unknown as { document: Doc }).document
    const got = Array.from(doc.querySelectorAll(selector), (e) => (e.textContent ?? '').trim())
    return JSON.stringify(anyOrder ? got.sort() : got) === JSON.stringify(want)
  }, { selector, want, anyOrder }).catch(() => undefined)
  const got = await textsOf(page, selector)
  expect(anyOrder ? got.sort() : got).toEqual(want)
}

if (!HAVE_BROWSER) console.log(`SKIPPED: dashboard e2e — no Chromium at ${CHROMIUM} (install it: apt-get install -y chromium)`)
const suite = HAVE_BROWSER ? describe : describe.skip

const DAY = 86_400_000
const alice: Person = { id: 'alice', name: 'Alice' }
const bob: Person = { id: 'bob', name: '阿强' }
/** 25 members in g1: paging (20 a page), search and sort have something to do. */
const extras = Array.from({ length: 23 }, (_, i) => ({ id: `m${String(i + 1).padStart(2, '0')}`, name: `成员${String(i + 1).padStart(2, '0')}` }))

suite('dashboard in headless Chromium', () => {
  const log = captureLogger()
  let chat: Chat
  let ui: Ui
  let page: Page
  let admin: ApiClient
  let owner: ApiClient
  let base: string

  beforeAll(async () => {
    buildDashboard()
    chat = await Chat.start({
      http: true, log,
      start: Date.parse('2026-11-20T01:00:00Z'),
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, ...extras] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }] },
      ],
    })
    const g1 = chat.group('g1')
    // Ten days of chatter, growing towards the end (the KPI compares the last 7 days with the 7 before).
    for (let day = 0; day < 10; day++) {
      await g1.say(bob, day % 2 === 0 ? '签到' : `今天读了第${day}章`)
      for (let i = 0; i <= day % 4; i++) await g1.say(extras[i] as Person, `第${day}天的想法 ${i}`)
      await chat.rehearsal.advance(DAY)
    }
    await g1.say(alice, '大家早')
    await chat.runtime.flush()
    admin = await apiAs(chat, 'admin', { allGroups: true, name: '管理员' })
    owner = await apiAs(chat, 'owner', { groups: ['g1@chatroom'], name: 'Alice' })
    base = `http://127.0.0.1:${chat.runtime.address?.port}`
    // Failed API calls the tests provoke (401 for a bad token, 404 for another owner's group, a refused connection) are expected.
    ui = await Ui.open(base, /status of 40[14]|ERR_CONNECTION_REFUSED/)
    page = ui.page
  }, 180_000)

  afterAll(async () => {
    await ui?.close()
    await chat?.close()
    await cleanup()
  })

  const shot = (name: string): Promise<Buffer> => ui.shot(name)
  const signIn = (token: string): Promise<void> => ui.signIn(token)

  it('serves the page with a strict CSP and small first-load JavaScript', async () => {
    const scripts: Array<Promise<number>> = []
    const listener = (res: Response): void => {
      if (res.request().resourceType() === 'script') scripts.push(res.body().then((b) => gzipSync(b).length))
    }
    page.on('response', listener)
    const res = await page.goto(`${base}/dashboard/`)
    await page.waitForSelector('#token')
    page.off('response', listener)
    expect(res?.status()).toBe(200)
    const csp = res?.headers()['content-security-policy'] ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toContain("frame-ancestors 'none'")
    const gz = (await Promise.all(scripts)).reduce((a, b) => a + b, 0)
    // Printed, not asserted (the issue's budget is 300 KB gzipped).
    console.log(`dashboard first load: ${scripts.length} script(s), ${(gz / 1024).toFixed(1)} KB gzipped JS`)
    expect(scripts.length).toBeGreaterThan(0)
    await expect(page.textContent('h1')).resolves.toBe('群运控制台')
    await shot('01-login')
  })

  it('refuses a wrong token with a clear message and keeps tokens out of URLs', async () => {
    await page.goto(`${base}/dashboard/`)
    await page.fill('#token', 'qy_not_a_real_token')
    await page.click('button[type=submit]')
    await expect(page.textContent('[data-testid=login-error]')).resolves.toContain('令牌无效')
  })

  it('signs an owner in and shows only their groups; another owner\'s group is not found', async () => {
    await signIn(owner.token)
    expect(page.url()).not.toContain(owner.token)
    await expect(page.evaluate("sessionStorage.getItem('qunyun.token')")).resolves.toBe(owner.token)
    await expect(page.evaluate("localStorage.getItem('qunyun.token')")).resolves.toBeNull()
    await page.waitForSelector('[data-testid=groups-table] tbody tr')
    const names = await page.$$eval('[data-testid=groups-table] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent))
    expect(names).toEqual(['读书会'])
    // Role-aware navigation: owners get no token administration.
    const nav = await page.$$eval('.topbar nav a', (as) => as.map((a) => a.textContent))
    expect(nav).toContain('操作日志')
    expect(nav).not.toContain('令牌')
    await shot('02-groups-owner')
    await page.goto(`${base}/dashboard/#/groups/${encodeURIComponent('g2@chatroom')}`)
    await page.waitForSelector('[role=alert]')
    await expect(page.textContent('.content')).resolves.toContain('找不到')
    await expect(page.textContent('.content')).resolves.not.toContain('跑步群')
  })

  it('shows the group overview: KPIs, a rendered chart with data, top members', async () => {
    const started = Date.now()
    await page.goto(`${base}/dashboard/#/groups/${encodeURIComponent('g1@chatroom')}`)
    await page.waitForSelector('[data-testid=chart][data-rendered]')
    const interactive = Date.now() - started
    console.log(`dashboard group overview interactive in ${interactive} ms (chart drawn, KPIs shown)`)
    await expect(page.textContent('[data-testid=group-name]')).resolves.toBe('读书会')
    const messages = Number((await page.textContent('[data-testid=kpi-messages] .kpi-value'))?.replace(/\D/g, ''))
    // The API's own figure for the same 7 days is what the card shows.
    const activity = await owner.get(`/api/v1/groups/${encodeURIComponent('g1@chatroom')}/activity?days=7`).expect(200)
    expect(messages).toBe((activity.body.days as Array<{ messages: number }>).reduce((a, d) => a + d.messages, 0))
    expect(messages).toBeGreaterThan(0)
    expect(Number(await page.getAttribute('[data-testid=chart]', 'data-rendered'))).toBe(60)
    expect(await page.$('[data-testid=chart] canvas')).not.toBeNull()
    const checkIns = Number((await page.textContent('[data-testid=kpi-checkins] .kpi-value'))?.replace(/\D/g, ''))
    expect(checkIns).toBeGreaterThan(0)
    // The chart's data as a table (accessibility).
    await page.click('figure.chart figcaption button')
    await page.waitForSelector('[data-testid=chart-table] tbody tr')
    const rows = await page.$$('[data-testid=chart-table] tbody tr')
    expect(rows).toHaveLength(30)
    const top = await owner.get(`/api/v1/groups/${encodeURIComponent('g1@chatroom')}/activity?days=30`).expect(200)
    await expect(page.textContent('[data-testid=top-members] tbody tr:first-child')).resolves.toContain(top.body.topMembers[0].memberId as string)
    await shot('03-group-overview')
    // Readable on a phone: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 })
    // The chart re-lays itself out on resize (after a frame): wait for the page to settle at phone width.
    await page.waitForFunction('document.documentElement.scrollWidth <= 390', undefined, { timeout: 15_000 }).catch(() => undefined)
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(390)
    await shot('03b-group-overview-phone')
    await page.setViewportSize({ width: 1280, height: 860 })
  })

  it('searches, sorts and pages members, and exports them as CSV', async () => {
    // Every read waits for the rows the action should produce, as the API pages them (see expectTexts).
    const names = async (query: string): Promise<string[]> =>
      ((await owner.get(`/api/v1/groups/${encodeURIComponent('g1@chatroom')}/members?active=all&limit=20&${query}`).expect(200)).body.items as Array<{ name: string }>).map((m) => m.name)
    const NAMES = '[data-testid=members-table] tbody tr td:first-child'
    const firstPage = await names('sort=name&offset=0')
    expect(firstPage).toHaveLength(20)
    await expectTexts(page, NAMES, firstPage)
    await expect(page.textContent('[data-testid=members-page]')).resolves.toContain('共 25 条')
    // Each state the page shows while it turns to page 2: [pager, names in the rows].
    await page.evaluate(`(() => {
      const read = () => [document.querySelector('[data-testid=members-page]')?.textContent ?? '', [...document.querySelectorAll(${JSON.stringify(NAMES)})].map((td) => td.textContent.trim())]
      window.__shown = []
      window.__watch = new MutationObserver(() => { window.__shown.push(read()) })
      window.__watch.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true })
    })()`)
    const secondPage = await names('sort=name&offset=20')
    expect(secondPage).toHaveLength(5)
    await page.click('.pager button:last-of-type')
    await expectTexts(page, NAMES, secondPage)
    await expect(page.textContent('[data-testid=members-page]')).resolves.toContain('第 2 / 2 页')
    // The pager never says page 2 over another page's rows (it did for a frame, before the load started).
    const shown = await page.evaluate('window.__watch.disconnect(), window.__shown') as Array<[string, string[]]>
    expect(shown.filter(([pager, rows]) => pager.includes('第 2 / 2 页') && JSON.stringify(rows) !== JSON.stringify(secondPage))).toEqual([])
    // Sort by name, descending: the first row is the last name in code-point order.
    await page.click('.pager button:first-of-type')
    await expectTexts(page, NAMES, firstPage)
    await page.click('[data-testid=members-table] th:first-child button')
    const descending = await names('sort=-name&offset=0')
    expect(descending[0]).toBe('阿强')
    await expectTexts(page, NAMES, descending)
    await page.waitForSelector(`[data-testid=members-table] th:first-child[aria-sort=descending]`)
    await page.fill('[data-testid=member-search]', '成员0')
    const found = await names(`sort=-name&offset=0&q=${encodeURIComponent('成员0')}`)
    expect(found).toHaveLength(9)
    await expectTexts(page, NAMES, found)
    await expect(page.textContent('[data-testid=members-page]')).resolves.toContain('共 9 条')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=members-table] .table-tools button')])
    const csv = readFileSync(await download.path(), 'utf8')
    const lines = csv.replace(/^\uFEFF/, '').trim().split('\r\n')
    expect(lines[0]).toBe('name,memberId,role,active,joinedAt')
    expect(lines).toHaveLength(10)
    expect(lines.slice(1).every((l) => l.startsWith('成员0'))).toBe(true)
    await shot('04-members-search')
  })

  it('edits rules with schema validation, saves versions, shows a diff and rolls back', async () => {
    const gid = encodeURIComponent('g1@chatroom')
    await page.goto(`${base}/dashboard/#/groups/${gid}/rules/check-in`)
    await page.waitForSelector('#f-points-base')
    await expect(page.textContent('[data-testid=rules-version]')).resolves.toBe('0')
    // Out of the schema's range (maximum 10000): shown at the field, saving is disabled.
    await page.fill('#f-points-base', '20000')
    await page.waitForSelector('[data-path="points.base"] .field-errors')
    await expect(page.textContent('[data-path="points.base"] .field-errors')).resolves.toContain('10000')
    await expect(page.isDisabled('[data-testid=rules-save]')).resolves.toBe(true)
    await page.fill('#f-dayStart', '25:00')
    await page.waitForSelector('[data-path="dayStart"] .field-errors')
    await shot('05-rules-invalid')
    await page.fill('#f-dayStart', '05:00')
    await page.fill('#f-points-base', '15')
    await page.fill('[data-testid=rules-note]', '早起打卡')
    await page.click('[data-testid=rules-save]')
    await page.waitForSelector(`[data-testid=rules-version]:text-is("1")`)
    await page.fill('#f-points-base', '20')
    await page.click('[data-testid=rules-save]')
    await page.waitForSelector(`[data-testid=rules-version]:text-is("2")`)
    const saved = await owner.get(`/api/v1/groups/${gid}/rules/check-in`).expect(200)
    expect(saved.body).toMatchObject({ version: 2, rules: { dayStart: '05:00', points: { base: 20 } } })
    // Diff of version 1 against the current one.
    await page.click('[data-testid=diff-1]')
    await page.waitForSelector('[data-testid=diff] tbody tr')
    const diffText = await page.textContent('[data-testid=diff]')
    expect(diffText).toContain('points.base')
    expect(diffText).toContain('15')
    expect(diffText).toContain('20')
    await shot('06-rules-diff')
    await page.click('[data-testid=rollback-1]')
    await page.waitForSelector('[data-testid=rollback-done]')
    await page.waitForSelector(`[data-testid=rules-version]:text-is("3")`)
    const after = await owner.get(`/api/v1/groups/${gid}/rules/check-in`).expect(200)
    expect(after.body).toMatchObject({ version: 3, rules: { dayStart: '05:00', points: { base: 15 } } })
    await expect(page.inputValue('#f-points-base')).resolves.toBe('15')
    await shot('07-rules-rolled-back')
  })

  it('runs the moderation dry run on a pasted message after enabling a word', async () => {
    const gid = encodeURIComponent('g1@chatroom')
    await page.goto(`${base}/dashboard/#/groups/${gid}/rules/moderation`)
    await page.waitForSelector('#f-words-add')
    await page.check('#f-enabled')
    await page.fill('#f-words-add', '代购')
    await page.click('[data-testid=rules-save]')
    await page.waitForSelector(`[data-testid=rules-version]:text-is("1")`)
    await page.fill('[data-testid=dry-run-text]', '有需要代购的找我')
    await page.click('[data-testid=dry-run-submit]')
    await page.waitForSelector('[data-testid=dry-run-result]')
    const result = JSON.parse(await page.textContent('[data-testid=dry-run-result]') ?? 'null') as { enabled: boolean; matches: Array<{ original: string | null }>; wouldDo: string }
    expect(result.enabled).toBe(true)
    expect(result.matches.map((m) => m.original)).toContain('代购')
    expect(result.wouldDo).not.toBe('none')
    await shot('08-rules-dry-run')
  })

  it('dry-runs auto-replies through the feature\'s own dry-run route', async () => {
    await owner.post('/api/v1/auto-replies', { name: '价格', trigger: { type: 'contains', keywords: ['价格'] }, cooldown: { groupSeconds: 0 }, answer: { variants: [{ text: '课程价格是 99 元' }] } }).expect(201)
    await page.goto(`${base}/dashboard/#/groups/${encodeURIComponent('g1@chatroom')}/rules/auto-reply`)
    await page.waitForSelector('[data-testid=dry-run-text]')
    await page.fill('[data-testid=dry-run-text]', '請問價格多少')
    await page.click('[data-testid=dry-run-submit]')
    await page.waitForSelector('[data-testid=dry-run-result]')
    await expect(page.textContent('[data-testid=dry-run-result]')).resolves.toContain('课程价格是 99 元')
    await shot('08b-auto-reply-dry-run')
  })

  it('switches to English and back', async () => {
    await page.click('[data-testid=lang-switch]')
    await page.waitForSelector(`[data-testid=sign-out]:text-is("Sign out")`)
    await expect(page.textContent('#dry-run h2')).resolves.toBe('Dry run')
    await shot('09-english')
    await page.click('[data-testid=lang-switch]')
    await page.waitForSelector(`[data-testid=sign-out]:text-is("退出")`)
  })

  it('gives an operator read-only rules and an admin every group', async () => {
    const operator = await apiAs(chat, 'operator', { groups: ['g1@chatroom'], name: '运营' })
    await page.click('[data-testid=sign-out]')
    await signIn(operator.token)
    await page.goto(`${base}/dashboard/#/groups/${encodeURIComponent('g1@chatroom')}/rules/check-in`)
    await page.waitForSelector('#f-points-base')
    await expect(page.isDisabled('#f-points-base')).resolves.toBe(true)
    expect(await page.$('[data-testid=rules-save]')).toBeNull()
    expect(await page.$('[data-testid=rollback-1]')).toBeNull()
    await page.click('[data-testid=sign-out]')
    await signIn(admin.token)
    await page.goto(`${base}/dashboard/#/groups`)
    await page.waitForSelector('[data-testid=groups-table] tbody tr:nth-child(2)')
    const names = await page.$$eval('[data-testid=groups-table] tbody tr td:first-child', (tds) => tds.map((td) => td.textContent))
    expect(names).toEqual(['读书会', '跑步群'])
    await shot('10-groups-admin')
    await page.click('.topbar nav a:text-is("令牌")')
    await page.waitForSelector('[data-testid=tokens-table] tbody tr')
    const tokenNames = await page.$$eval('[data-testid=tokens-table] tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent))
    expect(tokenNames).toEqual(expect.arrayContaining(['管理员', 'Alice', '运营']))
    await shot('12-tokens')
    // The rule changes made above through the dashboard are in the audit log, by their author.
    await page.click('.topbar nav a:text-is("操作日志")')
    await page.waitForSelector('[data-testid=audit-table] tbody tr')
    const audit = await page.textContent('[data-testid=audit-table]')
    expect(audit).toContain('/api/v1/groups/:id/rules/check-in/rollback')
    expect(audit).toContain('rules:check-in:v3')
    await shot('13-audit-log')
  })

  it('says when the server cannot be reached, keeps the session, and recovers', async () => {
    await page.route('**/api/v1/**', (r) => r.abort('connectionrefused'))
    await page.reload()
    await page.waitForSelector('[data-testid=server-down]')
    await expect(page.textContent('[data-testid=server-down]')).resolves.toContain('服务器无法访问')
    await expect(page.evaluate("sessionStorage.getItem('qunyun.token')")).resolves.toBe(admin.token)
    await shot('11a-server-down')
    await page.unroute('**/api/v1/**')
    await page.click('[data-testid=server-down] button')
    await page.waitForSelector('[data-testid=who]')
  })

  it('signs out with a clear message when the token is revoked', async () => {
    await admin.del(`/api/v1/tokens/${owner.tokenId}`).expect(200)
    await page.click('[data-testid=sign-out]')
    await page.fill('#token', owner.token)
    await page.click('button[type=submit]')
    await expect(page.textContent('[data-testid=login-error]')).resolves.toContain('令牌无效')
    // A session whose token is revoked while in use ends on the next call, with the reason shown.
    const victim = await apiAs(chat, 'owner', { groups: ['g1@chatroom'], name: 'Bob' })
    await signIn(victim.token)
    await admin.del(`/api/v1/tokens/${victim.tokenId}`).expect(200)
    await page.goto(`${base}/dashboard/#/groups/${encodeURIComponent('g1@chatroom')}`)
    await page.reload()
    await page.waitForSelector('#token')
    await expect(page.evaluate("sessionStorage.getItem('qunyun.token')")).resolves.toBeNull()
    await shot('11-expired')
  })

  it('ran without page errors or Content-Security-Policy violations', () => {
    expect(ui.pageErrors).toEqual([])
  })

  it('never put a token in a URL or a log line', () => {
    for (const token of [admin.token, owner.token]) {
      expect(ui.requested.filter((u) => u.includes(token))).toEqual([])
      expect(log.lines.filter((l) => JSON.stringify(l).includes(token))).toEqual([])
    }
    expect(ui.requested.some((u) => u.includes('/api/v1/'))).toBe(true)
  })
})

/**
 * The pages over the stats, lottery, scheduled-share and lifecycle routes, against six weeks of a
 * simulated community: g1 (alice's) chats daily and gains members in weeks 2 and 4; g2 (dave's) chats
 * for five weeks and then falls silent (a dead-group alert); alice runs a daily share (one calendar skip),
 * a drawn lottery and an open one; dave has a lottery of his own. Every figure a page shows is compared
 * with the API's answer for the same range.
 */
suite('dashboard pages over stats, lotteries, shares and lifecycle', () => {
  const log = captureLogger()
  const MINUTE = 60_000
  const START = Date.parse('2026-10-19T01:00:00Z') // a Monday, 09:00 in Shanghai
  const G1 = 'g1@chatroom'
  const G2 = 'g2@chatroom'
  const gid = encodeURIComponent(G1)
  const members = Array.from({ length: 8 }, (_, i) => ({ id: `m${String(i + 1).padStart(2, '0')}`, name: `成员${String(i + 1).padStart(2, '0')}` }))
  const joiners = Array.from({ length: 6 }, (_, i) => ({ id: `n${i + 1}`, name: `新人${i + 1}` }))
  const dave: Person = { id: 'dave', name: 'Dave' }
  let chat: Chat
  let ui: Ui
  let page: Page
  let admin: ApiClient
  let alice: ApiClient
  let daveApi: ApiClient
  let base: string
  let drawnId: number
  let openId: number
  let davesId: number
  let scheduleId: number
  const day = (n: number): string => new Date(START + n * DAY + 8 * 3_600_000).toISOString().slice(0, 10)
  const iso = (ms: number): string => new Date(ms).toISOString()

  const job = async (name: string): Promise<void> => {
    await chat.runtime.scheduler.runFenced(name, new Date(Math.floor(chat.clock.now() / MINUTE) * MINUTE))
    await chat.rehearsal.quiesce()
  }

  beforeAll(async () => {
    buildDashboard()
    const seeded = Date.now()
    chat = await Chat.start({
      http: true, log, start: START,
      groups: [
        { id: 'g1', name: '读书会', members: [{ id: 'alice', name: 'Alice', role: 'owner' }, { id: 'bob', name: '阿强' }, ...members] },
        { id: 'g2', name: '跑步群', members: [{ id: 'dave', name: 'Dave', role: 'owner' }, { id: 'erin', name: 'Erin' }] },
      ],
      rules: { g1: { lottery: { batch: { windowMs: 0 } }, 'scheduled-share': { skipDates: [day(33)] } } },
    })
    admin = await apiAs(chat, 'admin', { allGroups: true, name: '管理员' })
    alice = await apiAs(chat, 'owner', { groups: [G1], name: 'Alice' })
    daveApi = await apiAs(chat, 'owner', { groups: [G2], name: 'Dave' })
    const g1 = chat.group('g1')
    const g2 = chat.group('g2')
    for (let d = 0; d < 42; d++) {
      if (d === 30) {
        const post = await alice.post('/api/v1/share-posts', { title: '每日话题', text: '今日话题：{weekday} 你在读什么？', tags: ['读书'] }).expect(201)
        scheduleId = (await alice.post('/api/v1/share-schedules', { name: '早安话题', trigger: { type: 'cron', cron: '0 9 * * *' }, target: { type: 'groups', groupIds: [G1] }, content: { type: 'post', postId: post.body.id }, staggerSeconds: 0 }).expect(201)).body.id as number
      }
      if (d > 30 && d < 36) await job('scheduled-share.tick')
      await chat.rehearsal.advance(5 * MINUTE)
      // g1: bob every day, two or three members in turn; more after a share post.
      await g1.say(bob, d % 2 === 0 ? '签到' : `今天读了第${d}页`)
      for (let i = 0; i < 1 + (d % 3); i++) await g1.say(members[(d + i) % members.length] as Person, `第${d}天 ${i}`)
      if (d > 30 && d < 36 && d !== 33) await g1.say(members[0] as Person, '这个话题好')
      // Joins: four in week 2, two in week 4; some of them keep speaking.
      if (d === 7) await g1.join(joiners.slice(0, 4), { id: 'alice', name: 'Alice' })
      if (d === 21) await g1.join(joiners.slice(4), { id: 'alice', name: 'Alice' })
      if ((d >= 14 && d < 28 && d % 3 === 0)) await g1.say(joiners[d % 2] as Person, '新人报到')
      if (d >= 28 && d % 4 === 0) await g1.say(joiners[4] as Person, '我也来了')
      // Hot topics: a book every week, the live stream's replay in the last one.
      if (d % 7 === 2) await g1.say(members[1] as Person, '推荐一本新书：《三体》')
      if (d >= 35) await g1.say(members[(d % 3) + 2] as Person, d % 2 === 0 ? '直播回放在哪里看？' : '直播回放有字幕吗')
      // g2: five weeks of chatter, then silence.
      if (d < 35) await g2.say(dave, `跑了 ${d} 公里`)
      await chat.runtime.flush()
      await job('tagging.recompute')
      await chat.rehearsal.advance(DAY - 5 * MINUTE)
    }
    // Day 42, 09:00: alice's lottery drawn within the hour, a second one open; dave's own lottery.
    const lottery = (title: string, closesAt: number, drawAt: number, groupIds = [G1]) => ({ title, groupIds, prizes: [{ name: '新书', quantity: 2 }], times: { closesAt: iso(closesAt), drawAt: iso(drawAt) } })
    const now = chat.clock.now()
    drawnId = (await alice.post('/api/v1/lotteries', lottery('周五读书抽奖', now + 60 * MINUTE, now + 70 * MINUTE)).expect(201)).body.id as number
    await alice.post(`/api/v1/lotteries/${drawnId}/open`).expect(200)
    for (const who of [bob, ...members.slice(0, 4)]) await g1.say(who as Person, '参与抽奖')
    await chat.rehearsal.advance(60 * MINUTE)
    await job('lottery.tick')
    await chat.rehearsal.advance(10 * MINUTE)
    await job('lottery.tick')
    openId = (await alice.post('/api/v1/lotteries', { ...lottery('月度大抽奖', now + 20 * DAY, now + 20 * DAY + 10 * MINUTE), entry: { keyword: '我要抽奖' } }).expect(201)).body.id as number
    await alice.post(`/api/v1/lotteries/${openId}/open`).expect(200)
    await g1.say(members[5] as Person, '我要抽奖')
    davesId = (await daveApi.post('/api/v1/lotteries', lottery('跑步抽奖', now + DAY, now + DAY + MINUTE, [G2])).expect(201)).body.id as number
    await chat.runtime.flush()
    await chat.rehearsal.quiesce()
    console.log(`dashboard pages e2e: six weeks of community seeded in ${Date.now() - seeded} ms`)
    base = `http://127.0.0.1:${chat.runtime.address?.port}`
    // Failed calls expected: another owner's lottery (404), the lottery the server refuses (400) and a second claim of one prize (409).
    ui = await Ui.open(base, /status of 40[049]/)
    page = ui.page
  }, 400_000)

  afterAll(async () => {
    await ui?.close()
    await chat?.close()
    await cleanup()
  })

  // Names the test after which a page error (a CSP violation included) first appeared.
  afterEach(() => { if (ui && ui.pageErrors.length > 0) console.log(`page errors so far, after "${expect.getState().currentTestName}": ${JSON.stringify(ui.pageErrors)}`) })
  const shot = (name: string): Promise<Buffer> => ui.shot(name)
  const signIn = (token: string): Promise<void> => ui.signIn(token)
  const number = async (selector: string): Promise<number> => Number((await page.textContent(selector))?.replace(/[^\d.-]/g, ''))
  const texts = (selector: string): Promise<string[]> => textsOf(page, selector)

  it('shows the cross-group overview: KPIs, heatmap, lifecycle mix, dead-group alert and per-group table, as the API counts them', async () => {
    await signIn(admin.token)
    const started = Date.now()
    await page.goto(`${base}/dashboard/#/overview`)
    await page.waitForSelector('#heatmap [data-testid=chart][data-rendered]')
    await page.waitForSelector('#lifecycle-mix [data-testid=chart][data-rendered]')
    console.log(`dashboard cross-group overview ready in ${Date.now() - started} ms (KPIs, heatmap and lifecycle chart drawn)`)
    const to = (await admin.get('/api/v1/stats/alerts').expect(200)).body.to as string
    const from = new Date(Date.parse(`${to}T00:00:00Z`) - 6 * DAY).toISOString().slice(0, 10)
    const range = `from=${from}&to=${to}`
    const overview = (await admin.get(`/api/v1/stats/overview?${range}`).expect(200)).body
    expect(await number('[data-testid=kpi-messages] .kpi-value')).toBe(overview.current.messages)
    expect(await number('[data-testid=kpi-activeMembers] .kpi-value')).toBe(overview.current.activeMembers)
    expect(await number('[data-testid=kpi-members] .kpi-value')).toBe(overview.current.members)
    expect(overview.current.messages).toBeGreaterThan(0)
    // The heatmap's data as a table: the same 7 × 24 figures as the API.
    const heat = (await admin.get(`/api/v1/stats/heatmap?${range}`).expect(200)).body.cells as Array<{ weekday: number; hour: number; messages: number }>
    expect(Number(await page.getAttribute('#heatmap [data-testid=chart]', 'data-rendered'))).toBe(168)
    await page.click('#heatmap figcaption button')
    await page.waitForSelector('#heatmap [data-testid=chart-table] tbody tr')
    const heatRows = await page.$$eval('#heatmap [data-testid=chart-table] tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => Number(td.textContent))))
    expect(heatRows).toHaveLength(7)
    for (const c of heat) expect(heatRows[c.weekday]?.[c.hour]).toBe(c.messages)
    // Lifecycle mix: five states a day, stacked.
    expect(Number(await page.getAttribute('#lifecycle-mix [data-testid=chart]', 'data-rendered'))).toBe(7 * 5)
    // g2 fell silent for the last week: the one alert, by name.
    const alerts = (await admin.get('/api/v1/stats/alerts').expect(200)).body.groups as Array<{ groupId: string; lastWeekMessages: number }>
    expect(alerts.map((a) => a.groupId)).toEqual([G2])
    await expect(texts('[data-testid=alerts-table] tbody tr td:first-child')).resolves.toEqual(['跑步群'])
    const perGroup = (await admin.get(`/api/v1/stats/groups?${range}`).expect(200)).body.groups as Array<{ groupId: string; messages: number }>
    const rows = await page.$$eval('[data-testid=per-group-table] tbody tr', (trs) => trs.map((tr) => [tr.children[0]?.textContent, Number(tr.children[1]?.textContent?.replace(/\D/g, ''))]))
    // The API's rows, then the groups without a figure in the range (g2, silent all week) with zeros.
    const name = (id: string): string => (id === G1 ? '读书会' : '跑步群')
    const silent = [G1, G2].filter((id) => !perGroup.some((g) => g.groupId === id))
    expect(silent).toEqual([G2])
    expect(rows).toEqual([...perGroup.map((g) => [name(g.groupId), g.messages]), ...silent.map((id) => [name(id), 0])])
    await shot('20-overview-admin')
    // 30 days: the range follows, the KPI too.
    await page.selectOption('[data-testid=range]', '30')
    await page.waitForSelector(`[data-testid=overview-range]:has-text("${new Date(Date.parse(`${to}T00:00:00Z`) - 29 * DAY).toISOString().slice(0, 10)}")`)
    const month = (await admin.get(`/api/v1/stats/overview?from=${new Date(Date.parse(`${to}T00:00:00Z`) - 29 * DAY).toISOString().slice(0, 10)}&to=${to}`).expect(200)).body
    await page.waitForSelector('#heatmap [data-testid=chart][data-rendered]')
    expect(await number('[data-testid=kpi-messages] .kpi-value')).toBe(month.current.messages)
    await page.setViewportSize({ width: 390, height: 844 })
    await page.waitForFunction('document.documentElement.scrollWidth <= 390', undefined, { timeout: 15_000 }).catch(() => undefined)
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(390)
    await shot('20b-overview-phone')
    await page.setViewportSize({ width: 1280, height: 860 })
  })

  it('gives an owner the overview of their own groups only (no alert about another owner\'s group)', async () => {
    await signIn(alice.token)
    await page.goto(`${base}/dashboard/#/overview`)
    await page.waitForSelector('[data-testid=per-group-table] tbody tr')
    await expect(texts('[data-testid=per-group-table] tbody tr td:first-child')).resolves.toEqual(['读书会'])
    await expect(page.textContent('#alerts')).resolves.toContain('没有沉寂的群')
    await expect(page.textContent('.content')).resolves.not.toContain('跑步群')
    const mine = (await alice.get('/api/v1/stats/overview').expect(200)).body
    expect(await number('[data-testid=kpi-messages] .kpi-value')).toBe(mine.current.messages)
  })

  it('shows top members by display name', async () => {
    await page.goto(`${base}/dashboard/#/groups/${gid}`)
    await page.waitForSelector('[data-testid=top-members] tbody tr')
    const top = (await alice.get(`/api/v1/groups/${gid}/activity?days=30`).expect(200)).body.topMembers as Array<{ memberId: string; name: string }>
    expect(top[0]?.name).toBe('阿强')
    const first = await texts('[data-testid=top-members] tbody tr:first-child td')
    expect(first.slice(0, 2)).toEqual(['阿强', 'bob'])
  })

  it('filters members by lifecycle stage and by tag', async () => {
    await alice.post(`/api/v1/groups/${gid}/tagging/members/m01/tags`, { tag: '核心读者' }).expect((r) => expect([200, 201]).toContain(r.status))
    await alice.post(`/api/v1/groups/${gid}/tagging/members/n1/tags`, { tag: '核心读者' }).expect((r) => expect([200, 201]).toContain(r.status))
    await page.click('[data-testid=group-tabs] a:has-text("成员分层")')
    await page.waitForSelector('[data-testid=lifecycle-table] tbody tr')
    const stats = (await alice.get(`/api/v1/groups/${gid}/tagging/stats`).expect(200)).body as { states: Record<string, number> }
    for (const [state, n] of Object.entries(stats.states)) {
      await expect(page.textContent(`[data-testid=state-counts] [data-state=${state}] strong`)).resolves.toBe(String(n))
    }
    const all = (await alice.get(`/api/v1/groups/${gid}/tagging/members?limit=1`).expect(200)).body.total as number
    await expect(page.textContent('[data-testid=lifecycle-page]')).resolves.toContain(`共 ${all} 条`)
    // A stage with members, and one the figures say is smaller than the whole group.
    const [state, n] = Object.entries(stats.states).filter(([, c]) => c > 0 && c < all).sort((a, b) => a[1] - b[1])[0] as [string, number]
    const api = (await alice.get(`/api/v1/groups/${gid}/tagging/members?state=${state}&limit=20`).expect(200)).body.items as Array<{ memberId: string }>
    await page.click(`[data-testid=state-counts] [data-state=${state}]`)
    await expectTexts(page, '[data-testid=lifecycle-table] tbody tr td:nth-child(2)', api.map((m) => m.memberId))
    await expect(page.textContent('[data-testid=lifecycle-page]')).resolves.toContain(`共 ${n} 条`)
    await shot('21-members-by-stage')
    // Back to every stage, then one tag: exactly the two tagged members, by name.
    await page.click('[data-testid=state-counts] button:first-child')
    await page.selectOption('[data-testid=tag-filter]', '核心读者')
    await expectTexts(page, '[data-testid=lifecycle-table] tbody tr td:first-child', ['成员01', '新人1'], { anyOrder: true })
    await expect(page.textContent('[data-testid=lifecycle-page]')).resolves.toContain('共 2 条')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=lifecycle-table] .table-tools button')])
    const lines = readFileSync(await download.path(), 'utf8').replace(/^\uFEFF/, '').trim().split('\r\n')
    expect(lines).toHaveLength(3)
    await shot('22-members-by-tag')
  })

  it('shows hot topics as ranked bars and the rising terms, as the API counts them', async () => {
    await page.goto(`${base}/dashboard/#/groups/${gid}/topics`)
    await page.waitForSelector('#top-terms [data-testid=chart][data-rendered]')
    const today = (await alice.get(`/api/v1/groups/${gid}`).expect(200)).body.activity.to as string
    const from = new Date(Date.parse(`${today}T00:00:00Z`) - 6 * DAY).toISOString().slice(0, 10)
    const topics = (await alice.get(`/api/v1/groups/${gid}/stats/topics?from=${from}&to=${today}&limit=20`).expect(200)).body as { top: Array<{ term: string; count: number }>; rising: Array<{ term: string; count: number; previous: number }> }
    expect(topics.top.map((x) => x.term)).toContain('直播')
    expect(Number(await page.getAttribute('#top-terms [data-testid=chart]', 'data-rendered'))).toBe(topics.top.length)
    await page.click('#top-terms figcaption button')
    await page.waitForSelector('#top-terms [data-testid=chart-table] tbody tr')
    const bars = await page.$$eval('#top-terms [data-testid=chart-table] tbody tr', (trs) => trs.map((tr) => [tr.children[0]?.textContent, Number(tr.children[1]?.textContent)]))
    expect(bars).toEqual(topics.top.map((x) => [x.term, x.count]))
    const rising = await page.$$eval('[data-testid=rising-table] tbody tr', (trs) => trs.map((tr) => [tr.children[0]?.textContent, Number(tr.children[1]?.textContent), Number(tr.children[2]?.textContent)]))
    expect(rising).toEqual(topics.rising.map((x) => [x.term, x.count, x.previous]))
    expect(rising.map((r) => r[0])).toContain('直播')
    await shot('23b-hot-topics')
  })

  it('shows the best time to post and question resolution as the API computes them', async () => {
    await page.goto(`${base}/dashboard/#/groups/${gid}/insights`)
    await page.waitForSelector('[data-testid=best-time-table] tbody tr')
    const today = (await alice.get(`/api/v1/groups/${gid}`).expect(200)).body.activity.to as string
    const from = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * DAY).toISOString().slice(0, 10)
    const best = (await alice.get(`/api/v1/groups/${gid}/stats/best-time?from=${from}&to=${today}&top=5`).expect(200)).body as { best: Array<{ weekday: number; hour: number; avgSpeakers: number; responseRate: number; score: number; messages: number }> }
    const q = (await alice.get(`/api/v1/groups/${gid}/stats/questions?from=${from}&to=${today}`).expect(200)).body as { total: { questions: number; resolved: number; resolutionRate: number | null; medianMinutesToAnswer: number | null }; days: Array<{ day: string; questions: number; resolved: number; byAutoReply: number }> }
    expect(best.best.length).toBeGreaterThan(0)
    expect(q.total.questions).toBeGreaterThan(0)
    const pct = (r: number): string => new Intl.NumberFormat('zh-CN', { style: 'percent', maximumFractionDigits: 1 }).format(r)
    const weekdays = ['周一', '周二', '周三', '周四', '周五', '周六', '周日']
    const rows = await page.$$eval('[data-testid=best-time-table] tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => (td.textContent ?? '').trim())))
    expect(rows).toEqual(best.best.map((x) => [`${weekdays[x.weekday]} ${String(x.hour).padStart(2, '0')}:00`, String(x.avgSpeakers), pct(x.responseRate), String(x.score), String(x.messages)]))
    await expect(page.textContent('[data-testid=q-total] .kpi-value')).resolves.toBe(String(q.total.questions))
    await expect(page.textContent('[data-testid=q-rate] .kpi-value')).resolves.toBe(q.total.resolutionRate === null ? '—' : pct(q.total.resolutionRate))
    await expect(page.textContent('[data-testid=q-median] .kpi-value')).resolves.toBe(q.total.medianMinutesToAnswer === null ? '—' : `${q.total.medianMinutesToAnswer} 分钟`)
    const days = await page.$$eval('[data-testid=questions-table] tbody tr', (trs) => trs.map((tr) => [...tr.children].slice(0, 4).map((td) => (td.textContent ?? '').trim())))
    expect(days).toEqual(q.days.filter((d) => d.questions > 0).map((d) => [d.day, String(d.questions), String(d.resolved), String(d.byAutoReply)]))
    await shot('23c-best-time-questions')
  })

  it('shows join-week retention cohorts as the API computes them', async () => {
    await page.goto(`${base}/dashboard/#/groups/${gid}/retention`)
    await page.waitForSelector('[data-testid=retention-table] tbody tr')
    const groupDetail = (await alice.get(`/api/v1/groups/${gid}`).expect(200)).body
    const today = groupDetail.activity.to as string
    const from = new Date(Date.parse(`${today}T00:00:00Z`) - (7 * 12 - 1) * DAY).toISOString().slice(0, 10)
    const cohorts = (await alice.get(`/api/v1/groups/${gid}/stats/retention?from=${from}&to=${today}&weeks=12`).expect(200)).body.cohorts as Array<{ week: string; joined: number; rates: Array<number | null> }>
    expect(cohorts.length).toBeGreaterThanOrEqual(2)
    const rows = await page.$$eval('[data-testid=retention-table] tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => (td.textContent ?? '').trim())))
    const pct = (r: number | null): string => (r === null ? '·' : new Intl.NumberFormat('zh-CN', { style: 'percent', maximumFractionDigits: 1 }).format(r))
    expect(rows).toEqual(cohorts.map((c) => [c.week, String(c.joined), ...c.rates.map(pct)]))
    expect(cohorts.some((c) => c.rates.some((r) => r !== null && r > 0))).toBe(true)
    await shot('23-retention')
  })

  it('lists an owner\'s lotteries only; another owner\'s lottery is not found', async () => {
    await page.goto(`${base}/dashboard/#/lotteries`)
    await page.waitForSelector('[data-testid=lotteries-table] tbody tr')
    const mine = (await alice.get('/api/v1/lotteries').expect(200)).body.items as Array<{ title: string }>
    await expect(texts('[data-testid=lotteries-table] tbody tr td:first-child')).resolves.toEqual(mine.map((l) => l.title))
    await expect(page.textContent('.content')).resolves.not.toContain('跑步抽奖')
    await shot('24-lotteries')
    await page.goto(`${base}/dashboard/#/lotteries/${davesId}`)
    await page.waitForSelector('[role=alert]')
    await expect(page.textContent('.content')).resolves.toContain('找不到')
    await expect(page.textContent('.content')).resolves.not.toContain('跑步抽奖')
  })

  it('creates a lottery from the form the API schema generates, shows the server\'s refusal at its field, and opens it', async () => {
    await page.goto(`${base}/dashboard/#/lotteries`)
    await page.waitForSelector('[data-testid=lottery-form] #f-title')
    await expect(page.inputValue('#f-groupIds')).resolves.toBe(G1)
    await page.fill('#f-title', '新书抽奖')
    // A prize without a name breaks the schema's minimum length: shown before anything is sent.
    await page.waitForSelector('[data-testid=lottery-problems]')
    await expect(page.isDisabled('[data-testid=lottery-create]')).resolves.toBe(true)
    await page.fill('#f-prizes', '[{ "name": "书签", "quantity": 3 }]')
    await page.waitForSelector('[data-testid=lottery-problems]', { state: 'detached' })
    // No close time and no entry count: a rule the JSON Schema cannot express; the server's 400 appears at the field.
    await page.click('[data-testid=lottery-create]')
    await page.waitForSelector('[data-path="times.closesAt"] .field-errors')
    await expect(page.textContent('[data-path="times.closesAt"] .field-errors')).resolves.toContain('drawWhenEntries')
    await shot('24b-lottery-form-refused')
    await page.fill('#f-times-drawWhenEntries', '3')
    await page.click('[data-testid=lottery-create]')
    await page.waitForSelector('[data-testid=lottery-title]:text-is("新书抽奖")')
    await expect(page.textContent('[data-testid=lottery-status]')).resolves.toBe('草稿')
    const id = Number(/#\/lotteries\/(\d+)$/.exec(page.url())?.[1])
    const created = (await alice.get(`/api/v1/lotteries/${id}`).expect(200)).body as { title: string; ownerTokenId: number; prizes: unknown; times: unknown; status: string }
    expect(created).toMatchObject({ title: '新书抽奖', ownerTokenId: alice.tokenId, prizes: [{ name: '书签', quantity: 3 }], status: 'draft' })
    await daveApi.get(`/api/v1/lotteries/${id}`).expect(404)
    await page.click('[data-testid=lottery-open]')
    await page.waitForSelector('[data-testid=lottery-status]:text-is("进行中")')
    const opened = (await alice.get(`/api/v1/lotteries/${id}`).expect(200)).body as { status: string; commitment: string }
    expect(opened.status).toBe('open')
    await page.waitForSelector(`[data-testid=commitment]:text-is("${opened.commitment}")`)
    await shot('24c-lottery-opened')
  })

  it('follows an open lottery\'s entries live', async () => {
    await page.goto(`${base}/dashboard/#/lotteries/${openId}`)
    await page.waitForSelector('[data-testid=entrants-table] tbody tr')
    const before = (await alice.get(`/api/v1/lotteries/${openId}`).expect(200)).body.entrantCount as number
    expect(before).toBe(1)
    await expect(page.textContent('[data-testid=entrant-count]')).resolves.toBe(String(before))
    await chat.group('g1').say(members[6] as Person, '我要抽奖')
    await chat.rehearsal.quiesce()
    await page.waitForSelector(`[data-testid=entrant-count]:text-is("${before + 1}")`)
    await page.waitForSelector('[data-testid=entrants-table] tbody tr:has-text("成员07")')
    await expect(page.isDisabled('[data-testid=verify]')).resolves.toBe(true)
    await shot('25-lottery-live')
  })

  it('shows the draw and verifies its proof in the browser; a tampered proof is a mismatch', async () => {
    await page.goto(`${base}/dashboard/#/lotteries/${drawnId}`)
    await page.waitForSelector('[data-testid=winners-table] tbody tr')
    const detail = (await alice.get(`/api/v1/lotteries/${drawnId}`).expect(200)).body as { seed: string; winners: Array<{ name: string }> }
    await expect(texts('[data-testid=winners-table] tbody tr td:nth-child(2)')).resolves.toEqual(detail.winners.map((w) => w.name))
    await expect(page.textContent('[data-testid=seed]')).resolves.toBe(detail.seed)
    await page.click('[data-testid=verify]')
    await page.waitForSelector('[data-testid=verify-result][data-verdict=match]')
    await shot('26-lottery-verified')
    // A server that lies: the proof names other winners. The browser's own computation disagrees.
    const proof = (await alice.get(`/api/v1/lotteries/${drawnId}/proof`).expect(200)).body as { entrants: string[]; rounds: Array<{ winners: string[] }> }
    const loser = proof.entrants.find((id) => !proof.rounds[0]!.winners.includes(id)) as string
    const tampered = { ...proof, rounds: [{ ...proof.rounds[0]!, winners: [loser, ...proof.rounds[0]!.winners.slice(1)] }] }
    await page.route(`**/api/v1/lotteries/${drawnId}/proof`, (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(tampered) }))
    await page.click('[data-testid=verify]')
    await page.waitForSelector('[data-testid=verify-result][data-verdict=mismatch]')
    // In the reader's language (zh-CN here), the English wording kept as the item's title.
    await expect(page.textContent('[data-testid=verify-result]')).resolves.toContain('第 0 轮：中奖者重算为')
    await expect(page.getAttribute('[data-testid=verify-result] li', 'title')).resolves.toContain('winners recompute to')
    await shot('27-lottery-tampered')
    await page.unroute(`**/api/v1/lotteries/${drawnId}/proof`)
  })

  it('marks prizes claimed by code and fulfilled by member (核销), rerolls one, and shows the server\'s refusal', async () => {
    type W = { memberId: string; name: string; claimCode: string; status: string; round: number }
    const winners = async (): Promise<W[]> => ((await alice.get(`/api/v1/lotteries/${drawnId}`).expect(200)).body as { winners: W[] }).winners
    const [first, second] = await winners() as [W, W]
    expect(first.status).toBe('won')
    await page.goto(`${base}/dashboard/#/lotteries/${drawnId}`)
    await page.waitForSelector('[data-testid=claim-form]')
    // A code of the wrong shape is refused before anything is sent.
    await page.fill('#claim-code', 'a!')
    await expect(page.isDisabled('[data-testid=claim-submit]')).resolves.toBe(true)
    await page.fill('#claim-code', first.claimCode.toLowerCase())
    await page.click('[data-testid=claim-submit]')
    await page.waitForSelector('[data-testid=action-done]')
    expect((await winners()).find((w) => w.memberId === first.memberId)?.status).toBe('claimed')
    await page.waitForSelector(`[data-testid=winners-table] tbody tr:has-text("${first.claimCode}"):has-text("已兑奖")`)
    // The same code again: the server refuses (409) and the page says why.
    await page.click('[data-testid=claim-submit]')
    await page.waitForSelector('[data-testid=action-error] [role=alert]')
    await expect(page.textContent('[data-testid=action-error]')).resolves.toContain('already claimed')
    await shot('26b-lottery-claim-refused')
    // Fulfilled by member id from the winner's row.
    await page.click(`[data-testid=winners-table] [data-member="${first.memberId}"] [data-action=fulfil]`)
    await page.waitForSelector(`[data-testid=winners-table] tbody tr:has-text("${first.claimCode}"):has-text("已核销")`)
    expect((await winners()).find((w) => w.memberId === first.memberId)?.status).toBe('fulfilled')
    // Nothing is past its claim window yet: the reroll of expired prizes draws nobody.
    await page.click('[data-testid=reroll-expired]')
    await page.waitForSelector('[data-testid=action-done]:has-text("没有需要重抽")')
    // The second winner's prize rerolled from its row: forfeited, and a round-1 winner in its place.
    await page.click(`[data-testid=winners-table] [data-member="${second.memberId}"] [data-action=reroll]`)
    await page.waitForSelector('[data-testid=action-done]:has-text("第 1 轮")')
    const after = await winners()
    expect(after.find((w) => w.memberId === second.memberId)?.status).toBe('forfeited')
    const rerolled = after.filter((w) => w.round === 1)
    expect(rerolled).toHaveLength(1)
    await page.waitForSelector(`[data-testid=winners-table] tbody tr:has-text("${rerolled[0]!.claimCode}")`)
    await expect(page.$$('[data-testid=winners-table] tbody tr')).resolves.toHaveLength(after.length)
    // The proof still recomputes to every round's winners in the browser.
    await page.click('[data-testid=verify]')
    await page.waitForSelector('[data-testid=verify-result][data-verdict=match]')
    await shot('26c-lottery-claims')
  })

  it('cancels an open lottery after confirmation; a drawn one offers no cancel', async () => {
    await page.goto(`${base}/dashboard/#/lotteries/${openId}`)
    await page.waitForSelector('[data-testid=lottery-cancel]')
    await page.click('[data-testid=lottery-cancel]')
    await page.waitForSelector('[data-testid=lottery-status]:text-is("已取消")')
    expect((await alice.get(`/api/v1/lotteries/${openId}`).expect(200)).body.status).toBe('cancelled')
    await expect(page.$('[data-testid=lottery-cancel]')).resolves.toBeNull()
    await page.goto(`${base}/dashboard/#/lotteries/${drawnId}`)
    await page.waitForSelector('[data-testid=winners-table]')
    await expect(page.$('[data-testid=lottery-cancel]')).resolves.toBeNull()
  })

  it('shows scheduled shares: the schedule, delivery log with skip reasons, and the lift', async () => {
    await page.goto(`${base}/dashboard/#/shares`)
    await page.waitForSelector('[data-testid=schedules-table] tbody tr')
    await page.click('[data-testid=schedules-table] tbody tr:first-child a')
    await page.waitForSelector('[data-testid=deliveries-table] tbody tr')
    await expect(page.textContent('[data-testid=schedule-name]')).resolves.toBe('早安话题')
    const log = (await alice.get(`/api/v1/share-schedules/${scheduleId}/deliveries?limit=50`).expect(200)).body as { items: Array<{ status: string }>; counts: Record<string, number> }
    expect(log.counts.skipped).toBe(1)
    expect(log.counts.sent).toBeGreaterThan(0)
    for (const [status, n] of Object.entries(log.counts)) await expect(page.textContent(`[data-testid=delivery-counts] [data-status=${status}] strong`)).resolves.toBe(String(n))
    expect(await page.$$('[data-testid=deliveries-table] tbody tr')).toHaveLength(log.items.length)
    await page.selectOption('[data-testid=delivery-status]', 'skipped')
    await expectTexts(page, '[data-testid=deliveries-table] tbody tr td:nth-child(3)', ['已跳过'])
    const skipped = await texts('[data-testid=deliveries-table] tbody tr td')
    expect(skipped[2]).toBe('已跳过')
    expect(skipped[3]).toContain('日历跳过')
    expect(skipped[3]).toContain(`calendar ${day(33)}`)
    const lift = (await alice.get(`/api/v1/share-schedules/${scheduleId}/engagement`).expect(200)).body as { lift: { messages: number | null } }
    expect(lift.lift.messages).not.toBeNull()
    await expect(page.textContent('[data-testid=lift-messages] .kpi-value')).resolves.toBe(`×${lift.lift.messages}`)
    // The log names each run's post by its title (the content library's), not its id.
    const posts = (await alice.get('/api/v1/share-posts').expect(200)).body.items as Array<{ id: number; title: string }>
    const sent = (await alice.get(`/api/v1/share-schedules/${scheduleId}/deliveries?limit=50&status=sent`).expect(200)).body.items as Array<{ postId: number }>
    await page.selectOption('[data-testid=delivery-status]', 'sent')
    // The sent list itself, not any row (the skipped row was read as the list once).
    await expectTexts(page, '[data-testid=deliveries-table] tbody tr td:nth-child(3)', sent.map(() => '已发送'))
    await expect(texts('[data-testid=deliveries-table] tbody tr td:nth-child(5)')).resolves.toEqual(sent.map((d) => posts.find((p) => p.id === d.postId)?.title))
    expect(sent.length).toBeGreaterThan(0)
    await shot('28-share-deliveries')
  })

  it('pauses and resumes a schedule after confirmation, and test-sends its post to a group', async () => {
    await page.goto(`${base}/dashboard/#/shares/${scheduleId}`)
    await page.waitForSelector('[data-testid=schedule-toggle]')
    await page.click('[data-testid=schedule-toggle]')
    await page.waitForSelector('[data-testid=schedule-state]:text-is("已暂停")')
    expect((await alice.get(`/api/v1/share-schedules/${scheduleId}`).expect(200)).body.enabled).toBe(false)
    await page.click('[data-testid=schedule-toggle]')
    await page.waitForSelector('[data-testid=schedule-state]:text-is("运行中")')
    expect((await alice.get(`/api/v1/share-schedules/${scheduleId}`).expect(200)).body.enabled).toBe(true)
    const sentToG1 = (): number => chat.pending().filter((a) => a.kind === 'say' && a.groupId === G1 && (a.text ?? '').includes('你在读什么')).length
    const before = sentToG1()
    await expect(page.inputValue('[data-testid=test-send-group]')).resolves.toBe(G1)
    await page.click('[data-testid=test-send]')
    await page.waitForSelector('[data-testid=schedule-action-done]')
    await chat.rehearsal.quiesce()
    expect(sentToG1()).toBe(before + 1)
    await shot('28b-share-actions')
  })

  it('creates a schedule from the form the API schema generates; the server\'s refusal is shown', async () => {
    await page.goto(`${base}/dashboard/#/shares`)
    await page.waitForSelector('[data-testid=schedule-form] #f-name')
    // Labels in the reader's language, the API's field name beside them.
    await expect(page.textContent('label[for=f-staggerSeconds]')).resolves.toBe('错峰发送（秒） staggerSeconds')
    // No name yet: the schema's minimum length, before anything is sent.
    await page.waitForSelector('[data-testid=schedule-problems]')
    await page.fill('#f-name', '晚间话题')
    await page.waitForSelector('[data-testid=schedule-problems]', { state: 'detached' })
    // Another owner's group: the server refuses, and says which group.
    await page.fill('#f-target', JSON.stringify({ type: 'groups', groupIds: [G2] }))
    await page.click('[data-testid=schedule-create]')
    await page.waitForSelector('[data-testid=schedule-form] [role=alert]:has-text("not one of your groups")')
    await shot('28c-schedule-refused')
    await page.fill('#f-target', JSON.stringify({ type: 'groups', groupIds: [G1] }))
    await page.fill('#f-trigger', JSON.stringify({ type: 'cron', cron: '0 20 * * *' }))
    await page.click('[data-testid=schedule-create]')
    await page.waitForSelector('[data-testid=schedule-name]:text-is("晚间话题")')
    const id = Number(/#\/shares\/(\d+)$/.exec(page.url())?.[1])
    const created = (await alice.get(`/api/v1/share-schedules/${id}`).expect(200)).body as { name: string; trigger: unknown; target: unknown }
    expect(created).toMatchObject({ name: '晚间话题', trigger: { type: 'cron', cron: '0 20 * * *' }, target: { type: 'groups', groupIds: [G1] } })
    await daveApi.get(`/api/v1/share-schedules/${id}`).expect(404)
    await page.waitForSelector('[data-testid=next-runs] tbody tr')
  })

  it('ran without page errors or CSP violations, and never put a token in a URL or a log line', () => {
    expect(ui.pageErrors).toEqual([])
    for (const token of [admin.token, alice.token]) {
      expect(ui.requested.filter((u) => u.includes(token))).toEqual([])
      expect(log.lines.filter((l) => JSON.stringify(l).includes(token))).toEqual([])
    }
  })
})
