#!/usr/bin/env node
'use strict'
/**
 * Runs the compiled `qunyun` command (dist/src/cli.js), compiling TypeScript first only when the build is
 * missing or older than its sources. `npm start` and `npm run qunyun|migrate|simulate` come through here.
 *
 *   node scripts/qunyun.js <command> [args…]   build if stale, then run the CLI in this very process
 *   node scripts/qunyun.js --build              build now (npm run build)
 *   node scripts/qunyun.js --build-web          build the dashboard only, if stale (tests use it)
 *
 * The dashboard (web/, built by Vite into dist/dashboard and served at /dashboard) is rebuilt the same
 * way: when missing or older than its sources.
 *
 * The CLI runs in this process (no child): the PID a supervisor signals is the one that shuts down
 * gracefully, and the exit code is the app's own.
 */
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const ENTRY = path.join(ROOT, 'dist', 'src', 'cli.js')
/** Written after each successful build, dated to when that build started. */
const STAMP = path.join(ROOT, 'dist', '.build-stamp')
/** Source trees the build compiles; their directories count too, so an added or deleted file is seen. */
const INPUT_DIRS = ['src', 'migrations']
/** Single files whose change changes the output (compiler options, dependency versions and their types). */
const INPUT_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']
/** The dashboard: sources (every file under web/), Vite's output and its stamp. */
const WEB = path.join(ROOT, 'web')
const WEB_OUT = path.join(ROOT, 'dist', 'dashboard')
const WEB_STAMP = path.join(WEB_OUT, '.build-stamp')
const WEB_INPUT_FILES = ['package.json', 'package-lock.json']
/** One build at a time when several commands start together; in node_modules so nothing new needs ignoring. */
const LOCK = path.join(ROOT, 'node_modules', '.cache', 'qunyun-build.lock')

/** Newest modification time (ms) among the build's inputs; 0 when there are no sources (a shipped build). */
function newestInput() {
  let newest = 0
  const visit = (p) => {
    const stat = fs.statSync(p)
    if (stat.isDirectory()) {
      newest = Math.max(newest, stat.mtimeMs)
      for (const name of fs.readdirSync(p)) visit(path.join(p, name))
    } else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) {
      // Tests are not part of the build (tsconfig.build.json excludes them).
      newest = Math.max(newest, stat.mtimeMs)
    }
  }
  for (const dir of INPUT_DIRS) if (fs.existsSync(path.join(ROOT, dir))) visit(path.join(ROOT, dir))
  if (newest === 0) return 0
  for (const file of INPUT_FILES) {
    const p = path.join(ROOT, file)
    if (fs.existsSync(p)) newest = Math.max(newest, fs.statSync(p).mtimeMs)
  }
  return newest
}

/** Why the build must be (re)made, or null when dist is current. */
function staleReason() {
  const newest = newestInput()
  if (newest === 0) return fs.existsSync(ENTRY) ? null : 'no sources and no build'
  if (!fs.existsSync(ENTRY) || !fs.existsSync(STAMP)) return 'no build yet'
  return newest > fs.statSync(STAMP).mtimeMs ? 'sources changed since the last build' : null
}

/** Newest modification time (ms) among the dashboard's inputs; 0 when web/ is absent (a shipped build). */
function newestWebInput() {
  if (!fs.existsSync(WEB)) return 0
  let newest = 0
  const visit = (p) => {
    const stat = fs.statSync(p)
    newest = Math.max(newest, stat.mtimeMs)
    if (stat.isDirectory()) for (const name of fs.readdirSync(p)) if (name !== 'node_modules') visit(path.join(p, name))
  }
  visit(WEB)
  for (const file of WEB_INPUT_FILES) {
    const p = path.join(ROOT, file)
    if (fs.existsSync(p)) newest = Math.max(newest, fs.statSync(p).mtimeMs)
  }
  return newest
}

/** Why the dashboard must be (re)built, or null when dist/dashboard is current or there are no sources. */
function webStaleReason() {
  const newest = newestWebInput()
  if (newest === 0) return null
  if (!fs.existsSync(path.join(WEB_OUT, 'index.html')) || !fs.existsSync(WEB_STAMP)) return 'no dashboard build yet'
  return newest > fs.statSync(WEB_STAMP).mtimeMs ? 'dashboard sources changed since the last build' : null
}

/** Builds the dashboard with Vite; returns a problem to report, or null on success. */
function buildWeb(reason) {
  let vite
  // The package exports no bin path: find it next to its package.json.
  try { vite = path.join(path.dirname(require.resolve('vite/package.json', { paths: [ROOT] })), 'bin', 'vite.js') } catch {
    return `the dashboard in dist/dashboard is out of date (${reason}) and Vite is not installed: run npm install`
  }
  process.stderr.write(`qunyun: building the dashboard (${reason}) …\n`)
  const started = Date.now()
  const result = spawnSync(process.execPath, [vite, 'build', '--config', path.join(WEB, 'vite.config.mjs'), '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' })
  if (result.status !== 0) return `dashboard build failed (vite exit ${result.status ?? result.signal}); fix the errors above`
  fs.writeFileSync(WEB_STAMP, '')
  fs.utimesSync(WEB_STAMP, started / 1000, started / 1000)
  return null
}

/** Blocks the thread for `ms` (the launcher has nothing else to do while another process builds). */
function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}

/** Whether a process with this id is alive. */
function alive(pid) {
  try { process.kill(pid, 0); return true } catch (error) { return error.code === 'EPERM' }
}

/** Takes the build lock (a directory, created atomically), taking over one left by a dead process. */
function lock() {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true })
  for (;;) {
    try {
      fs.mkdirSync(LOCK)
      fs.writeFileSync(path.join(LOCK, 'pid'), String(process.pid))
      return
    } catch (error) {
      if (error.code !== 'EEXIST') throw error
    }
    let owner = NaN
    try { owner = Number(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8')) } catch { /* being created or removed */ }
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) fs.rmSync(LOCK, { recursive: true, force: true })
    else sleep(200)
  }
}

/** Compiles src/ and migrations/ into dist/ with tsc; returns a problem to report, or null on success. */
function build(reason) {
  let tsc
  try { tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] }) } catch {
    return `the build in dist/ is out of date (${reason}) and TypeScript is not installed: run npm install`
  }
  process.stderr.write(`qunyun: compiling TypeScript (${reason}) …\n`)
  const started = Date.now()
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' })
  if (result.status !== 0) return `build failed (tsc exit ${result.status ?? result.signal}); fix the errors above`
  // Dated to the start: a source saved while tsc ran is newer than the stamp, so the next run rebuilds.
  fs.writeFileSync(STAMP, '')
  fs.utimesSync(STAMP, started / 1000, started / 1000)
  return null
}

/**
 * Builds when stale (or always with `force`), holding the lock while checking and building; exits on
 * failure. `parts` says what: the server (TypeScript) and/or the dashboard.
 */
function ensureBuilt(force, parts = { server: true, web: true }) {
  const stale = () => (parts.server && staleReason() !== null) || (parts.web && webStaleReason() !== null)
  if (!force && !stale()) return
  lock()
  let problem = null
  try {
    if (parts.server) {
      const reason = force ? 'requested' : staleReason()
      if (reason !== null) problem = build(reason)
    }
    if (parts.web && problem === null) {
      const reason = force && fs.existsSync(WEB) ? 'requested' : webStaleReason()
      if (reason !== null) problem = buildWeb(reason)
    }
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true })
  }
  if (problem) {
    process.stderr.write(`qunyun: ${problem}\n`)
    process.exit(1)
  }
}

if (process.argv[2] === '--build') {
  ensureBuilt(true)
} else if (process.argv[2] === '--build-web') {
  ensureBuilt(false, { server: false, web: true })
} else {
  ensureBuilt(false)
  // The CLI reads its arguments from process.argv.slice(2): the same ones this script was given.
  require(ENTRY)
}
