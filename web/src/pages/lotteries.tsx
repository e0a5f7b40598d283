import { useEffect, useMemo, useState } from 'preact/hooks'
import { ApiError, type Api, type Entrant, type JsonSchema, type Lottery, type LotteryDetail, type Winner } from '../api'
import { fmt, t } from '../i18n'
import { verifyProof, type Verification } from '../lottery-verify'
import { verifyProblemText } from '../verify-text'
import { href, navigate } from '../router'
import { fromServer, validate, type Problem } from '../schema'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, ErrorBox, Loaded, useLoad } from '../ui/common'
import { groupNames, useGroupName } from '../ui/group-names'
import { SchemaForm } from '../ui/schema-form'
import { DataTable } from '../ui/table'
import type { PageProps } from './registry'

/** How often an open lottery's entrant count is read again (no push channel exists for it). */
const POLL_MS = 2000

const statusText = (status: Lottery['status']): string => t(`lottery_${status}`)

/** The caller's lotteries (owners: their own; the API decides). */
export function LotteriesPage(): preact.JSX.Element {
  const s = useSignal(session)
  const [list, reload] = useLoad(() => s!.api.lotteries(), [s])
  const groupName = useGroupName(s!.api)
  return (
    <>
      <Card title={t('lotteries')}>
        <Loaded load={list} retry={reload}>{({ items }) => items.length === 0 ? <Empty>{t('noLotteries')}</Empty> : (
          <DataTable<Lottery> caption={t('lotteries')} csvName="lotteries.csv" rows={items} testId="lotteries-table" columns={[
            { key: 'title', label: t('title'), render: (l) => <a href={href('lotteries', String(l.id))}>{l.title}</a> },
            { key: 'status', label: t('status'), render: (l) => statusText(l.status) },
            { key: 'entrantCount', label: t('entrants'), numeric: true, render: (l) => fmt.n(l.entrantCount) },
            { key: 'groupIds', label: t('groups'), render: (l) => l.groupIds.map(groupName).join('、'), csv: (l) => l.groupIds.join(';') },
            { key: 'createdAt', label: t('createdAt'), render: (l) => fmt.time(l.createdAt) },
            { key: 'drawnAt', label: t('drawnAt'), render: (l) => fmt.time(l.drawnAt) },
          ]} />
        )}</Loaded>
      </Card>
      <CreateLottery api={s!.api} />
    </>
  )
}

/**
 * A new lottery, as a form generated from the create route's body schema in the OpenAPI document (the
 * server's zod schema): checked as you type, the server's own answers shown at their fields. Created as a
 * draft; its page opens it.
 */
function CreateLottery({ api }: { api: Api }): preact.JSX.Element {
  const [setup] = useLoad(async () => {
    const [schema, names] = await Promise.all([api.bodySchema('/api/v1/lotteries', 'post'), groupNames(api)])
    return { schema, firstGroup: [...names.keys()][0] ?? '' }
  }, [api])
  return (
    <Card title={t('newLottery')} id="new-lottery">
      <Loaded load={setup}>{({ schema, firstGroup }) => schema ? <LotteryForm api={api} schema={schema} firstGroup={firstGroup} /> : <Empty />}</Loaded>
    </Card>
  )
}

function LotteryForm({ api, schema, firstGroup }: { api: Api; schema: JsonSchema; firstGroup: string }): preact.JSX.Element {
  const [draft, setDraft] = useState<unknown>(() => ({ title: '', groupIds: firstGroup ? [firstGroup] : [], prizes: [{ name: '', quantity: 1 }], times: {} }))
  const [serverProblems, setServerProblems] = useState<Problem[]>([])
  const [jsonErrors, setJsonErrors] = useState<Set<string>>(new Set())
  const [status, setStatus] = useState<{ kind: 'saving' } | { kind: 'error'; error: unknown } | null>(null)
  const local = useMemo(() => validate(schema, draft), [schema, draft])
  const problems = [...local, ...serverProblems, ...[...jsonErrors].map((path) => ({ path, message: 'invalid JSON' }))]
  const create = async (event: Event): Promise<void> => {
    event.preventDefault()
    if (problems.length > 0) return
    setStatus({ kind: 'saving' })
    try {
      const created = await api.createLottery(draft)
      navigate(`/lotteries/${created.id}`)
    } catch (error) {
      if (error instanceof ApiError && error.status === 400) setServerProblems(fromServer(error))
      setStatus({ kind: 'error', error })
    }
  }
  return (
    <form onSubmit={(e) => { void create(e) }} noValidate data-testid="lottery-form">
      <p class="muted">{t('newLotteryHelp')}</p>
      <SchemaForm schema={schema} value={draft} readOnly={false} problems={problems}
        onChange={(v) => { setDraft(v); setServerProblems([]); setStatus(null) }}
        onJsonError={(path, bad) => setJsonErrors((prev) => { const next = new Set(prev); if (bad) next.add(path); else next.delete(path); return next })} />
      <div class="form-actions">
        {problems.length > 0 && <p class="error" role="alert" data-testid="lottery-problems">{t('invalid', { n: problems.length })}</p>}
        <button type="submit" disabled={problems.length > 0 || status?.kind === 'saving'} data-testid="lottery-create">{status?.kind === 'saving' ? t('saving') : t('createDraft')}</button>
      </div>
      {status?.kind === 'error' && <ErrorBox error={status.error} />}
    </form>
  )
}

/** One lottery: live entrant count while it takes entries, the draw result, and the in-browser check of its proof. */
export function LotteryPage({ params }: PageProps): preact.JSX.Element {
  const s = useSignal(session)
  const api = s!.api
  const id = Number(params.lid)
  const [detail, reload] = useLoad(() => api.lottery(id), [id])
  return (
    <>
      <p><a href={href('lotteries')}>← {t('lotteries')}</a></p>
      <Loaded load={detail} retry={reload}>{(l) => <Lottery key={l.id} api={api} initial={l} />}</Loaded>
    </>
  )
}

function Lottery({ api, initial }: { api: Api; initial: LotteryDetail }): preact.JSX.Element {
  const [l, setL] = useState(initial)
  const [entrants, setEntrants] = useState<Entrant[] | null>(null)
  const [pollError, setPollError] = useState<unknown>(null)
  const [opening, setOpening] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null })
  const groupName = useGroupName(api)
  const open = async (): Promise<void> => {
    setOpening({ busy: true, error: null })
    try {
      const opened = await api.openLottery(l.id)
      setL({ ...l, ...opened })
      setOpening({ busy: false, error: null })
    } catch (error) {
      setOpening({ busy: false, error })
    }
  }
  const live = l.status === 'draft' || l.status === 'open' || l.status === 'closed'
  const [action, setAction] = useState<{ busy: boolean; error: unknown; done: string | null }>({ busy: false, error: null, done: null })
  /** Runs one write after the user confirmed it, then reads the lottery again; the server's refusal is shown as it answered. */
  const act = async (question: string | null, run: () => Promise<string>): Promise<void> => {
    if (question !== null && !confirm(question)) return
    setAction({ busy: true, error: null, done: null })
    try {
      const done = await run()
      setL(await api.lottery(l.id))
      setAction({ busy: false, error: null, done })
    } catch (error) {
      setAction({ busy: false, error, done: null })
    }
  }
  const claim = (by: { code: string } | { memberId: string }, status: 'claimed' | 'fulfilled', who: string): Promise<void> =>
    act(t(status === 'claimed' ? 'confirmClaim' : 'confirmFulfil', { who }), async () => {
      const w = await api.claimPrize(l.id, by, status)
      return t('claimDone', { who: w.name, status: t(`winner_${w.status as WinnerStatus}`) })
    })
  const reroll = (memberIds: string[] | undefined, question: string): Promise<void> => act(question, async () => {
    const r = await api.rerollLottery(l.id, memberIds)
    return r.round === null ? t('rerollNothing') : t('rerollDone', { round: r.round, n: r.winners.length })
  })
  const cancel = (): Promise<void> => act(t('confirmCancel', { title: l.title }), async () => {
    await api.cancelLottery(l.id)
    return t('cancelDone')
  })
  // Follows the lottery while it can change: its count and status, and the newest entrants.
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = async (): Promise<void> => {
      try {
        const [next, page] = await Promise.all([api.lottery(l.id), api.entrants(l.id)])
        if (stopped) return
        setL(next)
        setEntrants(page.items)
        setPollError(null)
        if (next.status === 'drawn' || next.status === 'cancelled') return
      } catch (error) {
        if (!stopped) setPollError(error)
      }
      if (!stopped) timer = setTimeout(() => { void tick() }, POLL_MS)
    }
    void tick()
    return () => { stopped = true; clearTimeout(timer) }
  }, [l.id])
  return (
    <>
      <header class="page-head">
        <h1 data-testid="lottery-title">{l.title}</h1>
        <p class="muted">#{l.id} · <span data-testid="lottery-status">{statusText(l.status)}</span> · {l.groupIds.map(groupName).join('、')} · {t('keyword')}「{l.entry.keyword}」</p>
      </header>
      <div class="kpis">
        <div class="kpi"><div class="kpi-label">{t('entrants')}{live && <span class="live" aria-hidden="true"> ●</span>}</div>
          <div class="kpi-value" data-testid="entrant-count" aria-live="polite">{l.entrantCount}</div></div>
        <div class="kpi"><div class="kpi-label">{t('prizes')}</div><div class="kpi-value">{l.prizes.reduce((n, p) => n + p.quantity, 0)}</div>
          <div class="kpi-change">{l.prizes.map((p) => `${p.name} × ${p.quantity}`).join('、')}</div></div>
        <div class="kpi"><div class="kpi-label">{t('drawAt')}</div><div class="kpi-change">{fmt.time(l.drawnAt ?? l.schedule.drawAt)}</div></div>
      </div>
      {l.status === 'draft' && <p><button type="button" data-testid="lottery-open" disabled={opening.busy} onClick={() => { void open() }}>{t('openNow')}</button> <span class="muted">{t('openNowHelp')}</span></p>}
      {opening.error !== null && <ErrorBox error={opening.error} />}
      {live && <p><button type="button" class="danger" data-testid="lottery-cancel" disabled={action.busy} onClick={() => { void cancel() }}>{t('cancelLottery')}</button> <span class="muted">{t('cancelHelp')}</span></p>}
      {l.status === 'drawn' && <ClaimForm busy={action.busy} onClaim={(code, status) => { void claim({ code }, status, code) }} onReroll={() => { void reroll(undefined, t('confirmRerollExpired')) }} />}
      {action.error !== null && <div data-testid="action-error"><ErrorBox error={action.error} /></div>}
      {action.done !== null && <p class="ok" role="status" data-testid="action-done">{action.done}</p>}
      {pollError !== null && <ErrorBox error={pollError} />}
      <div class="grid2">
        <Card title={t('winners')} id="winners">
          {l.winners.length === 0 ? <Empty>{l.status === 'drawn' ? t('noWinners') : t('notDrawn')}</Empty> : (
            <DataTable caption={t('winners')} csvName={`lottery-${l.id}-winners.csv`} rows={l.winners} testId="winners-table" columns={[
              { key: 'round', label: t('round'), numeric: true },
              { key: 'name', label: t('name') },
              { key: 'memberId', label: t('memberId'), render: (w) => <code>{w.memberId}</code> },
              { key: 'prize', label: t('prize') },
              { key: 'claimCode', label: t('claimCode'), render: (w) => <code>{w.claimCode}</code> },
              { key: 'status', label: t('status'), render: (w) => t(`winner_${w.status as WinnerStatus}`) },
              { key: 'actions', label: t('actions'), csv: () => '', render: (w) => <WinnerActions w={w} busy={action.busy}
                onClaim={(status) => { void claim({ memberId: w.memberId }, status, w.name) }}
                onReroll={() => { void reroll([w.memberId], t('confirmReroll', { who: w.name })) }} /> },
            ]} />
          )}
        </Card>
        <Card title={t('latestEntrants')} id="entrants">
          {entrants === null ? <p class="loading">{t('loading')}</p> : entrants.length === 0 ? <Empty>{t('noEntrants')}</Empty> : (
            <DataTable caption={t('latestEntrants')} csvName={`lottery-${l.id}-entrants.csv`} rows={entrants} testId="entrants-table" columns={[
              { key: 'name', label: t('name') },
              { key: 'memberId', label: t('memberId'), render: (e) => <code>{e.memberId}</code> },
              { key: 'groupId', label: t('groupName'), render: (e) => groupName(e.groupId) },
              { key: 'at', label: t('at'), render: (e) => fmt.time(e.at) },
            ]} />
          )}
        </Card>
      </div>
      <ProofCard api={api} lottery={l} />
    </>
  )
}

type WinnerStatus = 'won' | 'claimed' | 'fulfilled' | 'forfeited'

/** Buttons of one winner: mark claimed (核销), fulfilled, or reroll the prize while unclaimed. */
function WinnerActions({ w, busy, onClaim, onReroll }: { w: Winner; busy: boolean; onClaim: (status: 'claimed' | 'fulfilled') => void; onReroll: () => void }): preact.JSX.Element | null {
  if (w.status === 'forfeited' || w.status === 'fulfilled') return null
  return (
    <span class="row-actions" data-member={w.memberId}>
      {w.status === 'won' && <button type="button" class="small" data-action="claim" disabled={busy} onClick={() => onClaim('claimed')}>{t('claimAction')}</button>}
      <button type="button" class="small" data-action="fulfil" disabled={busy} onClick={() => onClaim('fulfilled')}>{t('fulfilAction')}</button>
      {w.status === 'won' && <button type="button" class="small" data-action="reroll" disabled={busy} onClick={onReroll}>{t('rerollAction')}</button>}
    </span>
  )
}

/** Claim by the code a winner shows (核销), and the reroll of prizes whose claim window passed. */
function ClaimForm({ busy, onClaim, onReroll }: { busy: boolean; onClaim: (code: string, status: 'claimed' | 'fulfilled') => void; onReroll: () => void }): preact.JSX.Element {
  const [code, setCode] = useState('')
  const [status, setStatus] = useState<'claimed' | 'fulfilled'>('claimed')
  const clean = code.trim().toUpperCase()
  const valid = /^[A-Z0-9]{4,16}$/.test(clean)
  return (
    <Card title={t('claims')} id="claims">
      <form class="toolbar" data-testid="claim-form" onSubmit={(e) => { e.preventDefault(); if (valid) onClaim(clean, status) }}>
        <label for="claim-code">{t('claimCode')}</label>
        <input id="claim-code" value={code} maxLength={16} autoComplete="off" onInput={(e) => setCode((e.target as HTMLInputElement).value)} aria-invalid={code !== '' && !valid} />
        <select data-testid="claim-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as 'claimed' | 'fulfilled')}>
          <option value="claimed">{t('winner_claimed')}</option>
          <option value="fulfilled">{t('winner_fulfilled')}</option>
        </select>
        <button type="submit" data-testid="claim-submit" disabled={busy || !valid}>{t('claimAction')}</button>
        {code !== '' && !valid && <span class="field-errors">{t('claimCodeHelp')}</span>}
      </form>
      <p><button type="button" data-testid="reroll-expired" disabled={busy} onClick={onReroll}>{t('rerollExpired')}</button> <span class="muted">{t('rerollExpiredHelp')}</span></p>
    </Card>
  )
}

/** The published values and the verify button: the proof is fetched and recomputed here, in the browser. */
function ProofCard({ api, lottery }: { api: Api; lottery: LotteryDetail }): preact.JSX.Element {
  const [result, setResult] = useState<{ state: 'idle' } | { state: 'running' } | { state: 'error'; error: unknown } | { state: 'done'; v: Verification; shownMatch: boolean }>({ state: 'idle' })
  const verify = async (): Promise<void> => {
    setResult({ state: 'running' })
    try {
      const v = await verifyProof(await api.lotteryProof(lottery.id))
      // The winners this page shows must be the ones the proof recomputes to, round by round.
      const shown = lottery.winners.map((w) => `${w.round}:${w.drawId}`).sort().join('\n')
      const recomputed = v.rounds.flatMap((r) => r.winners.map((m) => `${r.round}:${m}`)).sort().join('\n')
      setResult({ state: 'done', v, shownMatch: shown === recomputed })
    } catch (error) {
      setResult({ state: 'error', error })
    }
  }
  const field = (label: string, value: string | null, testId: string): preact.JSX.Element => (
    <div class="proof-field"><dt>{label}</dt><dd><code data-testid={testId}>{value ?? '—'}</code></dd></div>
  )
  return (
    <Card title={t('proof')} id="proof">
      <p class="muted">{t('proofHelp')}</p>
      <dl class="proof">
        {field(t('commitment'), lottery.commitment, 'commitment')}
        {field(t('entrantsHash'), lottery.entrantsHash, 'entrants-hash')}
        {field(t('seed'), lottery.seed, 'seed')}
      </dl>
      <button type="button" data-testid="verify" disabled={lottery.status !== 'drawn' || result.state === 'running'} onClick={() => { void verify() }}>{t('verifyInBrowser')}</button>
      {result.state === 'running' && <p class="loading">{t('verifying')}</p>}
      {result.state === 'error' && <ErrorBox error={result.error} />}
      {result.state === 'done' && (result.v.ok && result.shownMatch ? (
        <div class="verdict ok" role="status" data-testid="verify-result" data-verdict="match">
          <p><strong>✔ {t('verifyMatch')}</strong></p>
          <ul>{result.v.rounds.map((r) => <li key={r.round}>{t('round')} {r.round}: {r.winners.join('、') || '—'}</li>)}</ul>
        </div>
      ) : (
        <div class="verdict bad" role="alert" data-testid="verify-result" data-verdict="mismatch">
          <p><strong>✘ {t('verifyMismatch')}</strong></p>
          <ul>
            {result.v.problems.map((p, i) => <li key={i} title={p}>{verifyProblemText(p)}</li>)}
            {!result.shownMatch && result.v.problems.length === 0 && <li>{t('winnersDiffer')}</li>}
          </ul>
        </div>
      ))}
    </Card>
  )
}
