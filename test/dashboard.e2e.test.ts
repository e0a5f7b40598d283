import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium, type Browser, type BrowserContext, type Page, type Response } from 'playwright-core'
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
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let admin: ApiClient
  let owner: ApiClient
  let base: string
  const requested: string[] = []
  /** Errors the page reported (CSP violations included): none expected. */
  const pageErrors: string[] = []

  beforeAll(async () => {
    // npm test from a fresh clone: build the dashboard when missing or stale (a no-op otherwise).
    const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'qunyun.js'), '--build-web'], { cwd: ROOT, encoding: 'utf8' })
    if (built.status !== 0) throw new Error(`dashboard build failed: ${built.stderr}`)
    mkdirSync(SHOTS, { recursive: true })
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
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS })
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'zh-CN', acceptDownloads: true })
    page = await context.newPage()
    page.setDefaultTimeout(10_000)
    page.on('request', (r) => { requested.push(r.url()) })
    page.on('dialog', (d) => { void d.accept() })
    page.on('pageerror', (e) => { pageErrors.push(e.message) })
    // Failed API calls the tests provoke (401 for a bad token, 404 for another owner's group, a refused connection) are expected.
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[14]|ERR_CONNECTION_REFUSED/.test(m.text())) pageErrors.push(m.text()) })
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await chat?.close()
    await cleanup()
  })

  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
  const signIn = async (token: string): Promise<void> => {
    await page.goto(`${base}/dashboard/`)
    await page.fill('#token', token)
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=who]')
  }

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
    // Printed, not asserted (the budget is 300 KB gzipped).
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
    await page.waitForSelector('[data-testid=members-table] tbody tr')
    await expect(page.textContent('[data-testid=members-page]')).resolves.toContain('共 25 条')
    expect(await page.$$('[data-testid=members-table] tbody tr')).toHaveLength(20)
    await page.click('.pager button:last-of-type')
    await page.waitForSelector(`[data-testid=members-page]:has-text("第 2 / 2 页")`)
    expect(await page.$$('[data-testid=members-table] tbody tr')).toHaveLength(5)
    // Sort by name, descending: the first row is the last name in code-point order.
    await page.click('.pager button:first-of-type')
    await page.waitForSelector(`[data-testid=members-page]:has-text("第 1 / 2 页")`)
    await page.click('[data-testid=members-table] th:first-child button')
    await page.waitForSelector(`[data-testid=members-table] th:first-child[aria-sort=descending]`)
    await page.waitForSelector(`[data-testid=members-table] tbody tr:first-child td:first-child:text-is("阿强")`)
    await page.fill('[data-testid=member-search]', '成员0')
    await page.waitForSelector(`[data-testid=members-page]:has-text("共 9 条")`)
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
    expect(pageErrors).toEqual([])
  })

  it('never put a token in a URL or a log line', () => {
    for (const token of [admin.token, owner.token]) {
      expect(requested.filter((u) => u.includes(token))).toEqual([])
      expect(log.lines.filter((l) => JSON.stringify(l).includes(token))).toEqual([])
    }
    expect(requested.some((u) => u.includes('/api/v1/'))).toBe(true)
  })
})
