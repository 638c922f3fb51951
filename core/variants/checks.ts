/**
 * @module
 * The checks a version's variants pass before the registry stores them: names unique, every file one
 * of the version's, each variant a loadable model of the format on its own, and exactly one default
 * (no `requires`) in last place, so every device fits some variant and no variant is unreachable.
 */
import type { ModelFormat } from '../formats/common.ts'
import type { Variant } from '../formats/variants.ts'
import { filesFitFormat, type Problem } from '../registry/checks.ts'

/**
 * The first problem with a version's files for `format`, or null: with variants each variant must be a
 * whole model (the version holds several builds), without them the files must be one.
 */
export function versionFilesProblem(
  format: ModelFormat,
  files: readonly { path: string }[],
  variants: readonly Variant[] | undefined,
): Problem | null {
  return variants ? variantProblem(format, files, variants) : filesFitFormat(format, files)
}

/** The first problem with `variants` for a version of `format` holding `files`, or null. */
export function variantProblem(
  format: ModelFormat,
  files: readonly { path: string }[],
  variants: readonly Variant[],
): Problem | null {
  const paths = new Set(files.map((f) => f.path))
  const names = new Set<string>()
  for (const [i, v] of variants.entries()) {
    const at = `/variants/${i}`
    if (names.has(v.name)) return { pointer: `${at}/name`, message: `variant "${v.name}" is listed twice` }
    names.add(v.name)
    const unknown = v.files.findIndex((p) => !paths.has(p))
    if (unknown >= 0)
      return {
        pointer: `${at}/files/${unknown}`,
        message: `variant "${v.name}": ${v.files[unknown]} is not one of the version's files`,
      }
    const fit = filesFitFormat(
      format,
      v.files.map((path) => ({ path })),
    )
    if (fit) return { pointer: `${at}/files`, message: `variant "${v.name}": ${fit.message}` }
    const last = i === variants.length - 1
    if (last && v.requires !== undefined)
      return {
        pointer: `${at}/requires`,
        message: `the last variant ("${v.name}") is the default every other device runs: it has no requires`,
      }
    if (!last && v.requires === undefined)
      return {
        pointer: `${at}/requires`,
        message: `variant "${v.name}" has no requires, so every device would pick it and the variants after it are unreachable; only the last variant may be the default`,
      }
  }
  return null
}
