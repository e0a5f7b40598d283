import { render } from 'preact'
import { lang, setLang, t } from './i18n'
import { LoginPage } from './pages/login'
import { pagesFor, type PageDef } from './pages/registry'
import { match, navigate, route } from './router'
import { resume, session, signOut } from './session'
import { useSignal } from './state'
import { ErrorBox, Loading } from './ui/common'
import { ApiError } from './api'
import './style.css'

function resolve(pages: PageDef[], path: string): { page: PageDef; params: Record<string, string> } | null {
  for (const page of pages) {
    const params = match(page.pattern, path)
    if (params) return { page, params }
  }
  return null
}

function App(): preact.JSX.Element {
  const s = useSignal(session)
  const path = useSignal(route)
  const language = useSignal(lang)
  const switcher = <button type="button" class="link lang" onClick={() => setLang(language === 'en' ? 'zh-CN' : 'en')} data-testid="lang-switch">{t('language')}</button>
  if (!s) return <>{switcher}<LoginPage /></>
  const pages = pagesFor(s.me.role)
  const found = resolve(pages, path)
  if (!found && (path === '/' || path === '/login')) navigate('/groups')
  document.title = `${found ? t(found.page.title) : t('appName')} · ${t('appName')}`
  const Page = found?.page.component
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/groups">群运 · qunyun</a>
        <nav aria-label="main">
          {pages.filter((p) => p.nav === 'top').map((p) => <a key={p.id} href={`#${p.pattern}`} aria-current={found?.page.id === p.id ? 'page' : undefined}>{t(p.title)}</a>)}
          <a href="/docs" target="_blank" rel="noopener noreferrer">{t('apiDocs')}</a>
        </nav>
        <span class="who" data-testid="who">{t('signedInAs', { name: s.me.name, role: t(s.me.role) })}{s.me.allGroups ? ` · ${t('allGroups')}` : ''}</span>
        {switcher}
        <button type="button" class="link" onClick={() => signOut()} data-testid="sign-out">{t('signOut')}</button>
      </header>
      <main class="content" key={`${path}|${language}`}>
        {Page ? <Page params={found.params} /> : path === '/' || path === '/login' ? <Loading /> : <ErrorBox error={new ApiError(404, 'not_found', path)} />}
      </main>
    </div>
  )
}

const root = document.getElementById('app')!
document.documentElement.lang = lang.get()
void resume().finally(() => {
  root.textContent = ''
  render(<App />, root)
})
