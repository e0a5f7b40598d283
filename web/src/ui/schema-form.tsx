import { useState } from 'preact/hooks'
import type { JsonSchema } from '../api'
import { t } from '../i18n'
import { fieldLabel } from './field-labels'
import { fieldKind, type Problem } from '../schema'

type Obj = Record<string, unknown>

/** A copy of `root` with the value at `path` (dot-separated) replaced. */
export function setPath(root: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value
  const [head, ...rest] = path as [string, ...string[]]
  const base: Obj = root && typeof root === 'object' && !Array.isArray(root) ? { ...(root as Obj) } : {}
  if (rest.length === 0 && value === undefined) delete base[head]
  else base[head] = setPath(base[head], rest, value)
  return base
}

const problemsAt = (problems: Problem[], path: string): Problem[] => problems.filter((p) => p.path === path)
const problemsUnder = (problems: Problem[], path: string): Problem[] => problems.filter((p) => p.path === path || p.path.startsWith(`${path}.`))

/**
 * A form generated from a JSON Schema (the rules route's body in the OpenAPI document): switches,
 * numbers, texts and selects for simple fields, nested fieldsets for objects, one-per-line lists of words,
 * and a checked JSON editor for the rest. Problems are shown next to their field.
 */
export function SchemaForm({ schema, value, onChange, problems, readOnly, onJsonError }: {
  schema: JsonSchema; value: unknown; onChange: (value: unknown) => void; problems: Problem[]; readOnly: boolean
  onJsonError: (path: string, bad: boolean) => void
}): preact.JSX.Element {
  return <Fields schema={schema} value={value} path={[]} onChange={onChange} problems={problems} readOnly={readOnly} onJsonError={onJsonError} root={value} />
}

interface FieldsProps {
  schema: JsonSchema; value: unknown; path: string[]; root: unknown; onChange: (value: unknown) => void; problems: Problem[]; readOnly: boolean
  onJsonError: (path: string, bad: boolean) => void
}

function Fields(props: FieldsProps): preact.JSX.Element {
  const { schema, value, path } = props
  const obj = (value && typeof value === 'object' ? value : {}) as Obj
  return (
    <div class="fields">
      {Object.entries(schema.properties ?? {}).map(([key, sub]) => (
        <Field key={key} {...props} schema={sub} value={obj[key]} path={[...path, key]} />
      ))}
    </div>
  )
}

/** A field's label in the reader's language, with the API's own name beside it. */
function FieldName({ name }: { name: string }): preact.JSX.Element {
  const label = fieldLabel(name)
  return label === null ? <>{name}</> : <>{label} <code class="field-key">{name}</code></>
}

function Field(props: FieldsProps): preact.JSX.Element {
  const { schema, value, path, root, onChange, problems, readOnly } = props
  const id = `f-${path.join('-')}`
  const dotted = path.join('.')
  const name = path[path.length - 1] ?? ''
  const set = (v: unknown): void => onChange(setPath(root, path, v))
  const kind = fieldKind(schema)
  const mine = problemsAt(problems, dotted)
  const errorList = mine.length > 0 && <ul class="field-errors" role="alert">{mine.map((p, i) => <li key={i}>{p.message}</li>)}</ul>
  const invalid = mine.length > 0 ? true : undefined
  if (kind === 'object') {
    return (
      <fieldset class={problemsUnder(problems, dotted).length > 0 ? 'has-errors' : undefined} data-path={dotted}>
        <legend><FieldName name={name} /></legend>
        {errorList}
        <Fields {...props} value={value} path={path} />
      </fieldset>
    )
  }
  const help = [schema.description, schema.minimum !== undefined || schema.maximum !== undefined ? `${schema.minimum ?? ''}…${schema.maximum ?? ''}` : null]
    .filter(Boolean).join(' · ')
  let control: preact.JSX.Element
  if (kind === 'boolean') {
    // Not set yet: the schema's default is what the server will apply, so that is what the box shows.
    control = <input id={id} type="checkbox" checked={value === undefined ? schema.default === true : value === true} disabled={readOnly} onChange={(e) => set((e.target as HTMLInputElement).checked)} />
  } else if (kind === 'number') {
    control = (
      <input id={id} type="number" value={typeof value === 'number' ? String(value) : ''} disabled={readOnly} aria-invalid={invalid}
        step={schema.type === 'integer' ? 1 : 'any'} min={schema.minimum} max={schema.maximum}
        onInput={(e) => { const text = (e.target as HTMLInputElement).value; set(text === '' ? undefined : Number(text)) }} />
    )
  } else if (kind === 'enum') {
    control = (
      <select id={id} value={typeof value === 'string' ? value : ''} disabled={readOnly} aria-invalid={invalid} onChange={(e) => { const v = (e.target as HTMLSelectElement).value; set(v === '' ? undefined : v) }}>
        {value === undefined && <option value="">—</option>}
        {(schema.enum as string[]).map((option) => <option key={option} value={option}>{option}</option>)}
      </select>
    )
  } else if (kind === 'string') {
    control = <input id={id} type="text" value={typeof value === 'string' ? value : ''} disabled={readOnly} aria-invalid={invalid} maxLength={schema.maxLength} onInput={(e) => set((e.target as HTMLInputElement).value)} />
  } else if (kind === 'strings') {
    const lines = Array.isArray(value) ? (value as unknown[]).map(String).join('\n') : ''
    control = <textarea id={id} rows={Math.min(8, Math.max(2, lines.split('\n').length))} value={lines} disabled={readOnly} aria-invalid={invalid}
      onInput={(e) => { const text = (e.target as HTMLTextAreaElement).value; set(text === '' ? [] : text.split('\n')) }} />
  } else {
    control = <JsonField id={id} value={value} readOnly={readOnly} onValue={set} onBad={(bad) => props.onJsonError(dotted, bad)} />
  }
  const under = problemsUnder(problems, dotted).filter((p) => p.path !== dotted)
  return (
    <div class={`field field-${kind}${mine.length + under.length > 0 ? ' has-errors' : ''}`} data-path={dotted}>
      <label for={id}><FieldName name={name} />{kind === 'strings' && <span class="muted"> {t('onePerLine')}</span>}</label>
      {control}
      {help && <small class="muted">{help}</small>}
      {errorList}
      {under.length > 0 && <ul class="field-errors" role="alert">{under.map((p, i) => <li key={i}><code>{p.path.slice(dotted.length + 1)}</code> {p.message}</li>)}</ul>}
    </div>
  )
}

/** A JSON editor for structured fields; invalid JSON is reported and not applied. */
function JsonField({ id, value, readOnly, onValue, onBad }: { id: string; value: unknown; readOnly: boolean; onValue: (v: unknown) => void; onBad: (bad: boolean) => void }): preact.JSX.Element {
  const [text, setText] = useState(() => JSON.stringify(value ?? null, null, 2))
  const [bad, setBad] = useState(false)
  return (
    <>
      <textarea id={id} class="json" rows={Math.min(12, text.split('\n').length + 1)} value={text} disabled={readOnly} aria-invalid={bad || undefined}
        onInput={(e) => {
          const next = (e.target as HTMLTextAreaElement).value
          setText(next)
          try {
            onValue(JSON.parse(next) as unknown)
            setBad(false)
            onBad(false)
          } catch {
            setBad(true)
            onBad(true)
          }
        }} />
      {bad && <ul class="field-errors" role="alert"><li>{t('jsonField')}: invalid JSON</li></ul>}
    </>
  )
}
