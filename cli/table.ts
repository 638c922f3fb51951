/** Column alignment: text left, numbers right. */
export type Align = 'left' | 'right'

/**
 * A plain-text table: a header, a rule, then the rows, columns padded to their widest cell and
 * separated by two spaces. No colours or box drawing, so it pastes cleanly into issues and logs.
 *
 * @example renderTable(['feature', 'js'], [['wind', '0.158']], ['left', 'right'])
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (align[i] === 'right' ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n'
}
