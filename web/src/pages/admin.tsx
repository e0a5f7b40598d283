import { useEffect, useState } from 'preact/hooks'
import type { Api, AuditEntry, Page, TokenView } from '../api'
import { fmt, t } from '../i18n'
import { session } from '../session'
import { useSignal } from '../state'
import { Card, Empty, ErrorBox, Loading } from '../ui/common'
import { DataTable } from '../ui/table'

/** A cursor-paged list: the first page, then "load more". */
function usePaged<T>(load: (cursor?: string) => Promise<Page<T>>): { items: T[] | null; error: unknown; more: (() => void) | null } {
  const [items, setItems] = useState<T[] | null>(null)
  const [cursor, setCursor] = useState<string | null>(null)
  const [error, setError] = useState<unknown>(null)
  const fetchPage = (after?: string): void => {
    load(after).then((p) => { setItems((prev) => [...(after ? prev ?? [] : []), ...p.items]); setCursor(p.nextCursor) }, setError)
  }
  useEffect(() => { fetchPage() }, [])
  return { items, error, more: cursor ? () => fetchPage(cursor) : null }
}

function Paged<T>({ title, paged, children }: { title: string; paged: { items: T[] | null; error: unknown; more: (() => void) | null }; children: (items: T[]) => preact.JSX.Element }): preact.JSX.Element {
  return (
    <Card title={title}>
      {paged.error !== null ? <ErrorBox error={paged.error} /> : paged.items === null ? <Loading /> : paged.items.length === 0 ? <Empty /> : children(paged.items)}
      {paged.more && <button type="button" class="secondary" onClick={paged.more}>{t('loadMore')}</button>}
    </Card>
  )
}

/** Admins: every token with its role and scope (secrets are never shown again after creation). */
export function TokensPage(): preact.JSX.Element {
  const api: Api = useSignal(session)!.api
  const paged = usePaged((cursor) => api.tokens(cursor))
  return (
    <Paged title={t('tokens')} paged={paged}>{(items) => (
      <DataTable<TokenView> caption={t('tokens')} csvName="tokens.csv" rows={items} testId="tokens-table" columns={[
        { key: 'id', label: 'ID', numeric: true },
        { key: 'name', label: t('name') },
        { key: 'role', label: t('role'), render: (r) => t(r.role) },
        { key: 'hint', label: t('hint'), render: (r) => <code>…{r.hint}</code> },
        { key: 'groupIds', label: t('scope'), render: (r) => (r.allGroups ? t('allGroups') : r.groupIds.join(', ') || '—'), csv: (r) => (r.allGroups ? '*' : r.groupIds.join(';')) },
        { key: 'createdAt', label: t('createdAt'), render: (r) => fmt.time(r.createdAt) },
        { key: 'lastUsedAt', label: t('lastUsedAt'), render: (r) => fmt.time(r.lastUsedAt) },
        { key: 'revokedAt', label: t('revokedAt'), render: (r) => fmt.time(r.revokedAt) },
      ]} />
    )}</Paged>
  )
}

/** Changes made through the API (admins: all; owners and operators: their groups — the API filters). */
export function AuditPage(): preact.JSX.Element {
  const api: Api = useSignal(session)!.api
  const paged = usePaged((cursor) => api.auditLog({ cursor }))
  return (
    <Paged title={t('audit')} paged={paged}>{(items) => (
      <DataTable<AuditEntry> caption={t('audit')} csvName="audit-log.csv" rows={items} testId="audit-table" columns={[
        { key: 'at', label: t('at'), render: (r) => fmt.time(r.at) },
        { key: 'tokenName', label: t('author'), render: (r) => r.tokenName ?? '—' },
        { key: 'method', label: t('method') },
        { key: 'route', label: t('route'), render: (r) => <code>{r.route}</code> },
        { key: 'groupId', label: t('group'), render: (r) => r.groupId ?? '—' },
        { key: 'status', label: t('status'), numeric: true },
        { key: 'summary', label: t('target'), render: (r) => String((r.summary as { target?: string } | null)?.target ?? '—') },
      ]} />
    )}</Paged>
  )
}
