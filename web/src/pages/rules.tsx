import { useEffect, useMemo, useState } from 'preact/hooks'
import { ApiError, ruleFeatures, type Api, type DryRunRoute, type JsonSchema, type RuleDiff, type RulesOf } from '../api'
import { fmt, t, type MessageKey } from '../i18n'
import { href } from '../router'
import { fromServer, validate, type Problem } from '../schema'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, ErrorBox, Loaded, useLoad } from '../ui/common'
import { SchemaForm } from '../ui/schema-form'
import { DataTable } from '../ui/table'
import type { PageProps } from './registry'

const FEATURE_TITLES: Record<string, MessageKey> = { moderation: 'moderation', 'auto-reply': 'autoReply', 'check-in': 'checkIn', activity: 'activity' }
const featureTitle = (f: string): string => (FEATURE_TITLES[f] ? t(FEATURE_TITLES[f]) : f)

/** Server problems (`body.a.b`) as form paths (`a.b`). */

/** One feature's rules: a form from the route's schema, a dry run, the versions with diff and rollback. */
export function RulesPage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const groupId = params.gid!
  const feature = params.feature!
  const [doc, reloadDoc] = useLoad(() => api.openapi(), [])
  return (
    <Loaded load={doc} retry={reloadDoc}>{(d) => {
      const features = ruleFeatures(d)
      const current = features.find((f) => f.feature === feature)
      return (
        <>
          <header class="page-head">
            <p><a href={href('groups', groupId)}>← {t('group')}</a></p>
            <h1>{t('rules')}: {featureTitle(feature)}</h1>
            <nav class="tabs" aria-label={t('rules')}>
              {features.map((f) => <a key={f.feature} href={href('groups', groupId, 'rules', f.feature)} aria-current={f.feature === feature ? 'page' : undefined}>{featureTitle(f.feature)}</a>)}
            </nav>
          </header>
          {!current || !current.schema ? <ErrorBox error={new ApiError(404, 'not_found', feature)} /> : (
            <FeatureRules key={`${groupId}|${feature}`} api={api} groupId={groupId} feature={feature} schema={current.schema} dryRun={current.dryRun}
              canWrite={s!.me.role !== 'operator'} />
          )}
        </>
      )
    }}</Loaded>
  )
}

function FeatureRules({ api, groupId, feature, schema, dryRun, canWrite }: { api: Api; groupId: string; feature: string; schema: JsonSchema; dryRun: DryRunRoute | null; canWrite: boolean }): preact.JSX.Element {
  const [tick, setTick] = useState(0)
  const [rules, reload] = useLoad(() => api.rules(groupId, feature), [groupId, feature, tick])
  // Kept here: the editor and the history are re-created with each new version.
  const [notice, setNotice] = useState<{ text: string; testId: string } | null>(null)
  const refresh = (text: string, testId: string): void => { setNotice({ text, testId }); setTick((n) => n + 1) }
  return (
    <>
      {notice && <p class="ok notice" role="status" data-testid={notice.testId}>{notice.text}</p>}
      <div class="grid2 rules">
        <Card title={t('editRules')}>
          <Loaded load={rules} retry={reload}>{(r) => <RulesEditor key={r.version} api={api} groupId={groupId} feature={feature} schema={schema} loaded={r} canWrite={canWrite}
            onSaved={(v) => refresh(t('saved', { n: v }), 'rules-saved')} onEdit={() => setNotice(null)} />}</Loaded>
        </Card>
        <div>
          {dryRun && <DryRun api={api} groupId={groupId} route={dryRun} />}
          <Loaded load={rules} retry={reload}>{(r) => <Versions api={api} groupId={groupId} feature={feature} current={r.version} canWrite={canWrite}
            onRolledBack={(v) => refresh(t('rolledBack', { n: v }), 'rollback-done')} />}</Loaded>
        </div>
      </div>
    </>
  )
}

function RulesEditor({ api, groupId, feature, schema, loaded, canWrite, onSaved, onEdit }: {
  api: Api; groupId: string; feature: string; schema: JsonSchema; loaded: RulesOf; canWrite: boolean; onSaved: (version: number) => void; onEdit: () => void
}): preact.JSX.Element {
  const [draft, setDraft] = useState<unknown>(loaded.rules)
  const [note, setNote] = useState('')
  const [serverProblems, setServerProblems] = useState<Problem[]>([])
  const [jsonErrors, setJsonErrors] = useState<Set<string>>(new Set())
  const [status, setStatus] = useState<{ kind: 'saving' } | { kind: 'error'; error: unknown } | null>(null)
  const local = useMemo(() => validate(schema, draft), [schema, draft])
  const problems = [...local, ...serverProblems, ...[...jsonErrors].map((path) => ({ path, message: 'invalid JSON' }))]
  const dirty = JSON.stringify(draft) !== JSON.stringify(loaded.rules)
  const save = async (event: Event): Promise<void> => {
    event.preventDefault()
    if (problems.length > 0) return
    setStatus({ kind: 'saving' })
    try {
      const saved = await api.saveRules(groupId, feature, draft, note.trim() || undefined)
      onSaved(saved.version)
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) setServerProblems(fromServer(error))
      setStatus({ kind: 'error', error })
    }
  }
  return (
    <form class="rules-form" onSubmit={(e) => { void save(e) }} noValidate>
      <p class="muted">{t('version')} <strong data-testid="rules-version">{loaded.version}</strong></p>
      {!canWrite && <p class="muted">{t('cannotEdit')}</p>}
      <SchemaForm schema={schema} value={draft} readOnly={!canWrite} problems={problems}
        onChange={(v) => { setDraft(v); setServerProblems([]); setStatus(null); onEdit() }}
        onJsonError={(path, bad) => setJsonErrors((prev) => { const next = new Set(prev); if (bad) next.add(path); else next.delete(path); return next })} />
      {canWrite && (
        <div class="form-actions">
          <label class="inline">{t('note')} <input type="text" maxLength={200} value={note} onInput={(e) => setNote((e.target as HTMLInputElement).value)} data-testid="rules-note" /></label>
          {problems.length > 0 && <p class="error" role="alert" data-testid="rules-problems">{t('invalid', { n: problems.length })}</p>}
          <button type="submit" disabled={!dirty || problems.length > 0 || status?.kind === 'saving'} data-testid="rules-save">{status?.kind === 'saving' ? t('saving') : t('save')}</button>
          <button type="button" class="secondary" disabled={!dirty} onClick={() => { setDraft(loaded.rules); setServerProblems([]); setJsonErrors(new Set()) }}>{t('reset')}</button>
        </div>
      )}
      {status?.kind === 'error' && <ErrorBox error={status.error} />}
    </form>
  )
}

/** "Paste a message, see what would happen" — the feature's dry-run route; nothing is sent or counted. */
function DryRun({ api, groupId, route }: { api: Api; groupId: string; route: DryRunRoute }): preact.JSX.Element {
  const [text, setText] = useState('')
  const [result, setResult] = useState<{ ok: true; value: unknown } | { ok: false; error: unknown } | null>(null)
  const [busy, setBusy] = useState(false)
  const body = { text }
  const problems = validate(route.schema, body)
  const run = async (event: Event): Promise<void> => {
    event.preventDefault()
    setBusy(true)
    try { setResult({ ok: true, value: await api.dryRun(groupId, route.path, body) }) } catch (error) { setResult({ ok: false, error }) } finally { setBusy(false) }
  }
  return (
    <Card title={t('dryRun')} id="dry-run">
      <form onSubmit={(e) => { void run(e) }}>
        <p class="muted">{t('dryRunHelp')}</p>
        <label for="dry-text">{t('dryRunText')}</label>
        <textarea id="dry-text" rows={3} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} data-testid="dry-run-text" />
        {problems.length > 0 && <ul class="field-errors">{problems.map((p, i) => <li key={i}>{p.path} {p.message}</li>)}</ul>}
        <button type="submit" disabled={busy || problems.length > 0 || text.trim() === ''} data-testid="dry-run-submit">{t('run')}</button>
      </form>
      {result && (result.ok
        ? <pre class="result" data-testid="dry-run-result" aria-label={t('result')}>{JSON.stringify(result.value, null, 2)}</pre>
        : <ErrorBox error={result.error} />)}
    </Card>
  )
}

const show = (v: unknown): string => (v === undefined ? '—' : JSON.stringify(v))

function Versions({ api, groupId, feature, current, canWrite, onRolledBack }: { api: Api; groupId: string; feature: string; current: number; canWrite: boolean; onRolledBack: (version: number) => void }): preact.JSX.Element {
  const [versions, reload] = useLoad(() => api.ruleVersions(groupId, feature), [groupId, feature, current])
  const [selected, setSelected] = useState<number | null>(null)
  const [diff, setDiff] = useState<{ state: 'loading' } | { state: 'ready'; data: RuleDiff } | { state: 'error'; error: unknown } | null>(null)
  const [failure, setFailure] = useState<unknown>(null)
  useEffect(() => {
    if (selected === null) { setDiff(null); return }
    let live = true
    setDiff({ state: 'loading' })
    api.ruleDiff(groupId, feature, selected, current).then((data) => { if (live) setDiff({ state: 'ready', data }) }, (error: unknown) => { if (live) setDiff({ state: 'error', error }) })
    return () => { live = false }
  }, [selected, current])
  const rollback = async (version: number): Promise<void> => {
    if (!confirm(t('confirmRollback', { n: version }))) return
    try {
      const saved = await api.rollback(groupId, feature, version)
      setSelected(null)
      onRolledBack(saved.version)
    } catch (error) { setFailure(error) }
  }
  return (
    <Card title={t('versions')} id="versions">
      {failure !== null && <ErrorBox error={failure} />}
      <Loaded load={versions} retry={reload}>{(v) => v.items.length === 0 ? <Empty>{t('noVersions')}</Empty> : (
        <DataTable caption={t('versions')} csvName={`rules-${feature}-versions.csv`} rows={v.items} testId="versions-table" columns={[
          { key: 'version', label: t('version'), numeric: true },
          { key: 'at', label: t('at'), render: (r) => fmt.time(r.at) },
          { key: 'author', label: t('author'), render: (r) => r.author ?? '—' },
          { key: 'note', label: t('note'), render: (r) => r.note ?? '' },
          { key: 'actions', label: '', csv: () => '', render: (r) => (
            <span class="row-actions">
              {r.version !== current && <button type="button" class="small secondary" onClick={() => setSelected(r.version)} data-testid={`diff-${r.version}`}>{t('diff')}</button>}
              {canWrite && r.version !== current && <button type="button" class="small" onClick={() => { void rollback(r.version) }} data-testid={`rollback-${r.version}`}>{t('rollback')}</button>}
            </span>
          ) },
        ]} />
      )}</Loaded>
      {selected !== null && diff && (
        <div class="diff" data-testid="diff">
          <h3>{t('diff')}: v{selected} → v{current}</h3>
          {diff.state === 'loading' ? <p>{t('loading')}</p> : diff.state === 'error' ? <ErrorBox error={diff.error} /> : diff.data.changes.length === 0 ? <Empty /> : (
            <DataTable caption={t('diff')} csvName={`rules-${feature}-diff-${selected}-${current}.csv`} rows={diff.data.changes} columns={[
              { key: 'path', label: t('path'), render: (c) => <code>{c.path}</code> },
              { key: 'before', label: `${t('before')} (v${selected})`, render: (c) => <del>{show(c.before)}</del>, csv: (c) => show(c.before) },
              { key: 'after', label: `${t('after')} (v${current})`, render: (c) => <ins>{show(c.after)}</ins>, csv: (c) => show(c.after) },
            ]} />
          )}
        </div>
      )}
    </Card>
  )
}

