import { t, type MessageKey } from '../i18n'

/** Previous / next through a list read `size` rows at a time, with "page n of m · total". */
export function Pager({ offset, size, total, onOffset, testId }: { offset: number; size: number; total: number; onOffset: (offset: number) => void; testId: string }): preact.JSX.Element {
  return (
    <div class="pager">
      <button type="button" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - size))}>{t('prev')}</button>
      <span data-testid={testId}>{t('page', { n: Math.floor(offset / size) + 1, m: Math.max(1, Math.ceil(total / size)) })} · {t('total', { n: total })}</span>
      <button type="button" disabled={offset + size >= total} onClick={() => onOffset(offset + size)}>{t('next')}</button>
    </div>
  )
}

/** A select of counts ("last 7 days", "last 12 weeks" …) with its label. */
export function CountSelect({ label, options, value, onValue, each, testId }: {
  label: MessageKey; options: readonly number[]; value: number; onValue: (n: number) => void; each: MessageKey; testId: string
}): preact.JSX.Element {
  return (
    <label class="inline">{t(label)}
      <select value={String(value)} data-testid={testId} onChange={(e) => onValue(Number((e.target as HTMLSelectElement).value))}>
        {options.map((n) => <option key={n} value={String(n)}>{t(each, { n })}</option>)}
      </select>
    </label>
  )
}
