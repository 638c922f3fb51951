/** An RFC 6901 JSON pointer from a path of keys (`['files', 0, 'a/b']` → `/files/0/a~1b`). */
export function jsonPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => '/' + String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('')
}
