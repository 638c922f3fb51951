/**
 * Light and dark themes: the default follows `prefers-color-scheme`; the toggle overrides it for
 * this tab (sessionStorage, like the token: nothing of the dashboard is kept past the tab).
 */
const KEY = 'edgefleet.dashboard.theme'

/** Applies the tab's chosen theme, if any (else CSS follows the system). */
export function applyStoredTheme(): void {
  const t = sessionStorage.getItem(KEY)
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t
}

/** The theme in effect now. */
export function currentTheme(): 'light' | 'dark' {
  const t = document.documentElement.dataset.theme
  if (t === 'light' || t === 'dark') return t
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

/** Switches theme and calls `rerender` (charts read their colours when drawn). */
export function toggleTheme(rerender: () => void): void {
  const next = currentTheme() === 'dark' ? 'light' : 'dark'
  document.documentElement.dataset.theme = next
  sessionStorage.setItem(KEY, next)
  rerender()
}
