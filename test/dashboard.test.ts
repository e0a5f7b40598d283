import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import Koa from 'koa'
import request from 'supertest'
import { DASHBOARD_CSP, dashboardMiddleware, defaultDashboardDir } from '../src/adapters/http/dashboard'
import { Chat } from './support/chat'
import { client } from './support/api'
import { cleanup, tempDir } from './support/env'

/** The dashboard's static files as the admin API serves them (no browser: see dashboard.e2e.test.ts). */
const ROOT = resolve(__dirname, '..')

afterAll(cleanup, 180_000) // dropping each test's database takes seconds on a loaded MariaDB

describe('dashboard static files', () => {
  let chat: Chat
  beforeAll(async () => {
    // npm test from a fresh clone: build the dashboard when missing or stale (a no-op otherwise).
    const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'qunyun.js'), '--build-web'], { cwd: ROOT, encoding: 'utf8' })
    if (built.status !== 0) throw new Error(`dashboard build failed: ${built.stderr}`)
    chat = await Chat.start({ http: true })
  }, 120_000)
  afterAll(async () => { await chat?.close() })

  it('serves the page at /dashboard/ with its CSP, no inline script, never cached', async () => {
    const api = client(chat, null)
    await api.get('/dashboard').expect(302).expect('Location', '/dashboard/')
    const page = await api.get('/dashboard/').expect(200).expect('Content-Type', /text\/html/)
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP)
    expect(DASHBOARD_CSP).toContain("script-src 'self'")
    expect(DASHBOARD_CSP).not.toMatch(/unsafe-(inline|eval)/)
    expect(page.headers['cache-control']).toBe('no-store')
    expect(page.headers['x-frame-options']).toBe('DENY')
    const scripts = [...page.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])
    expect(scripts.length).toBeGreaterThan(0)
    for (const tag of scripts) expect(tag).toMatch(/\ssrc="\/dashboard\/assets\//)
    expect(page.text).toContain('lang="zh-CN"')
    // Deep links (the app routes in the fragment, but a reload of any path still gets the page).
    await api.get('/dashboard/groups/anything').expect(200).expect('Content-Type', /text\/html/)
  })

  it('serves hashed assets for good, and 404 for missing ones and paths outside the folder', async () => {
    const api = client(chat, null)
    const dir = defaultDashboardDir()
    const js = readdirSync(join(dir, 'assets')).find((f) => f.endsWith('.js')) as string
    const asset = await api.get(`/dashboard/assets/${js}`).expect(200).expect('Content-Type', /text\/javascript/)
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(asset.headers['content-security-policy']).toBe(DASHBOARD_CSP)
    expect(asset.text).toBe(readFileSync(join(dir, 'assets', js), 'utf8'))
    await api.get('/dashboard/assets/missing-0000.js').expect(404)
    await api.get('/dashboard/favicon.ico').expect(404)
    for (const path of ['/dashboard/..%2f..%2fpackage.json', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/assets/..%2f..%2f..%2fpackage.json', '/dashboard/%00']) {
      const res = await api.get(path)
      expect({ path, status: res.status }).toEqual({ path, status: 404 })
    }
    await api.get('/dashboard/%E0%A4%A').expect(400)
    await api.post('/dashboard/', {}).expect(405)
  })

  it('keeps the API\'s own strict headers', async () => {
    const res = await client(chat, null).get('/api/v1/groups').expect(401)
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'")
  })

  it('says how to build it when it is not built', async () => {
    const app = new Koa()
    app.use(dashboardMiddleware(tempDir()))
    const res = await request(app.callback()).get('/dashboard/').expect(503)
    expect(res.text).toContain('npm run build')
    expect(res.headers['content-security-policy']).toBe(DASHBOARD_CSP)
  })
})
