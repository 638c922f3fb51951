import { api, ApiError } from './api.ts'
import { h, note, replace } from './dom.ts'
import { can, type Me } from './scopes.ts'
import { forgetToken, storedToken, storeToken, takeTokenFromUrl } from './session.ts'
import { toggleTheme, applyStoredTheme } from './theme.ts'

/** What a view module exports: it renders into `root` and returns a cleanup (timers, listeners). */
export interface View {
  render(root: HTMLElement, me: Me, params: string[]): Promise<(() => void) | void>
}

/** Hash routes → lazily imported views, so each view's code (and the chart library) loads only when shown. */
const ROUTES: [RegExp, () => Promise<View>][] = [
  [/^\/models$/, () => import('./views/models.ts')],
  [/^\/models\/([a-z0-9-]+)$/, () => import('./views/model.ts')],
  [/^\/models\/([a-z0-9-]+)\/rollout$/, () => import('./views/rollout.ts')],
  [/^\/models\/([a-z0-9-]+)\/runs$/, () => import('./views/runs.ts')],
  [/^\/models\/([a-z0-9-]+)\/runs\/(run_[0-9a-f]{20})$/, () => import('./views/run.ts')],
  [/^\/fleet(?:\/([a-z0-9-]+))?$/, () => import('./views/fleet.ts')],
  [/^\/events$/, () => import('./views/events.ts')],
]

const app = document.getElementById('app')!
let cleanup: (() => void) | void = undefined
let me: Me | null = null

function signIn(message?: string): void {
  const input = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    'data-testid': 'token-input',
    placeholder: 'ef_… or the admin token',
    required: true,
  })
  const form = h(
    'form',
    {
      class: 'signin card',
      onsubmit: async (e: Event) => {
        e.preventDefault()
        const token = input.value.trim()
        try {
          me = await api<Me>('/v1/tokens/self', { token })
          storeToken(token)
          void route()
        } catch (err) {
          signIn(err instanceof ApiError && err.status === 401 ? 'That token is unknown or revoked.' : String(err))
        }
      },
    },
    h('h1', {}, 'edgefleet dashboard'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    h('p', { class: 'hint' }, 'The token stays in this tab only (sessionStorage). Views follow its scopes.'),
    message ? note(message, 'error') : null,
  )
  replace(app, form)
  input.focus()
}

function nav(current: string): HTMLElement {
  const link = (href: string, label: string, show: boolean) =>
    show ? h('a', { href, 'aria-current': current.startsWith(href.slice(1)) ? 'page' : false }, label) : null
  return h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/models' }, 'edgefleet'),
    h(
      'nav',
      { 'aria-label': 'Views' },
      link('#/models', 'Models', can(me!, 'registry:read')),
      link('#/fleet', 'Fleet telemetry', can(me!, 'telemetry:read')),
      link('#/events', 'Events', can(me!, 'registry:read') || can(me!, 'telemetry:read')),
    ),
    h('span', { class: 'who', title: me!.scopes.join(', ') }, `${me!.name} · ${me!.scopes.join(', ')}`),
    h(
      'button',
      { type: 'button', onclick: () => toggleTheme(() => void route()), 'aria-label': 'Toggle theme' },
      '◐ Theme',
    ),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          forgetToken()
          me = null
          signIn()
        },
      },
      'Sign out',
    ),
  )
}

/** Counts navigations: a view whose route was left while it loaded is dropped instead of drawn. */
let navigation = 0

async function route(): Promise<void> {
  const current = ++navigation
  if (typeof cleanup === 'function') cleanup()
  cleanup = undefined
  if (!storedToken()) return signIn()
  // A view's own options ride after `?` in the hash (range, rollout id); routes match the path before it.
  const hashPath = location.hash.replace(/^#/, '').split('?')[0] || '/models'
  // The view's code loads while the token is checked, not after.
  const early = ROUTES.find(([re]) => re.test(hashPath))?.[1]().catch(() => undefined)
  if (!me) {
    try {
      me = await api<Me>('/v1/tokens/self')
    } catch {
      forgetToken()
      return signIn('The stored token no longer works; sign in again.')
    }
  }
  if (current !== navigation) return
  let path = hashPath
  if (path === '/models' && !can(me, 'registry:read')) path = '/fleet'
  const main = h('main', { id: 'view', tabindex: '-1' }, note('Loading…'))
  replace(app, nav(path), main)
  const match = ROUTES.map(([re, load]) => [re.exec(path), load] as const).find(([m]) => m)
  if (!match) return replace(main, note(`No view at ${path}.`, 'error'))
  const started = performance.now()
  try {
    const view = (path === hashPath ? await early : undefined) ?? (await match[1]())
    if (current !== navigation) return
    const done = await view.render(
      main,
      me,
      match[0]!.slice(1).filter((x) => x !== undefined),
    )
    // Left while it rendered: the newer route owns the page, so this view's timers stop now.
    if (current !== navigation) {
      if (typeof done === 'function') done()
      return
    }
    cleanup = done
    performance.measure('edgefleet:view', { start: started })
    // Navigation start → the first view drawn: the dashboard's first-render figure (bench/dashboard.bench.ts).
    if (performance.getEntriesByName('edgefleet:first-render').length === 0) performance.mark('edgefleet:first-render')
  } catch (err) {
    replace(main, note(err instanceof Error ? err.message : String(err), 'error'))
  }
}

applyStoredTheme()
takeTokenFromUrl()
window.addEventListener('hashchange', () => void route())
void route()
