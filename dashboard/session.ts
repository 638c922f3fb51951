/**
 * The API token of this tab. It lives in sessionStorage only (gone with the tab, never in
 * localStorage), and a `#token=` in the URL is taken once and stripped, so it is not left in history.
 */
const KEY = 'edgefleet.dashboard.token'

/** Moves a `token=` from the URL hash into sessionStorage and removes it from the address bar. */
export function takeTokenFromUrl(): void {
  const m = /(?:^#|[#&?])token=([^&]+)/.exec(location.hash)
  if (!m) return
  sessionStorage.setItem(KEY, decodeURIComponent(m[1]))
  const rest = location.hash.replace(/[#&?]?token=[^&]+/, '').replace(/^#?[&?]?/, '')
  history.replaceState(null, '', `${location.pathname}${location.search}#${rest.startsWith('/') ? rest : '/models'}`)
}

/** The stored token, or null when signed out. */
export function storedToken(): string | null {
  return sessionStorage.getItem(KEY)
}

/** Keeps a token for this tab. */
export function storeToken(token: string): void {
  sessionStorage.setItem(KEY, token)
}

/** Forgets the token (sign out). */
export function forgetToken(): void {
  sessionStorage.removeItem(KEY)
}
