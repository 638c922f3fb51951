/** A child of an element: nodes, text, or nothing (null, undefined, false are skipped). */
export type Child = Node | string | number | null | undefined | false | Child[]

type Attrs = Record<string, unknown>

/**
 * Creates an element: `on*` attributes become listeners, `true` an empty attribute, `false`/null none.
 *
 * @example h('button', { class: 'primary', onclick: go }, 'Go')
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v as EventListener)
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v)
    else el.setAttribute(k, v === true ? '' : String(v))
  }
  append(el, children)
  return el
}

/** Appends children (flattened) to a node. */
export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)))
  }
}

/** Replaces every child of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

/** A date and time in the reader's locale, to the second. */
export function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' })
}

/** A number with at most `digits` decimals, or an em dash for null. */
export function num(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—'
  return Number.isInteger(x) ? x.toLocaleString() : x.toFixed(digits)
}

/** A proportion as a percentage, or an em dash. */
export function pct(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined ? '—' : `${(x * 100).toFixed(digits)}%`
}

/** A message box for empty, loading or failed states. */
export function note(text: string, kind: 'info' | 'error' = 'info'): HTMLElement {
  return h('p', { class: `note ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text)
}
