import { Command } from 'commander'
import type { Model } from '../../core/formats/registry.ts'
import { clientOf, edgeAction, withConnection, type ConnectionFlags } from '../connection.ts'
import type { VersionSummary } from '../edge-client.ts'
import type { Io } from '../io.ts'
import { formatJson } from '../json.ts'
import { renderTable } from '../table.ts'
import { formatBytes, formatMetric, formatTime } from '../units.ts'

/** `edgefleet models`: every model with its format, task, latest version and aliases. */
export function modelsCommand(io: Io): Command {
  return withConnection(new Command('models').description('list the models in the registry')).action(
    edgeAction(async (flags: ConnectionFlags) => {
      const models = await clientOf(flags).listModels()
      io.out(flags.json === true ? `${formatJson(models)}\n` : formatModels(models))
    }),
  )
}

/** `edgefleet versions <model>`: a model's versions, newest first, with lineage, aliases and metrics. */
export function versionsCommand(io: Io): Command {
  return withConnection(
    new Command('versions').description("list a model's versions, newest first").argument('<model>', 'the model'),
  ).action(
    edgeAction(async (model: string, flags: ConnectionFlags) => {
      const detail = await clientOf(flags).getModel(model)
      io.out(flags.json === true ? `${formatJson(detail.versions)}\n` : formatVersions(model, detail.versions))
    }),
  )
}

/** The `models` table. */
export function formatModels(models: readonly Model[]): string {
  if (models.length === 0) return 'no models yet: `edgefleet publish <model> <file>` creates one\n'
  const rows = models.map((m) => [
    m.name,
    m.format,
    m.task,
    m.latestVersion === null ? '-' : `v${m.latestVersion}`,
    aliasList(m.aliases),
  ])
  return renderTable(['name', 'format', 'task', 'latest', 'aliases'], rows, ['left', 'left', 'left', 'right', 'left'])
}

/** The `versions` table. */
export function formatVersions(model: string, versions: readonly VersionSummary[]): string {
  if (versions.length === 0) return `${model} has no versions yet\n`
  const rows = versions.map((v) => [
    `v${v.version}`,
    String(v.files),
    formatBytes(v.size),
    formatTime(v.createdAt),
    v.createdBy,
    v.parent === null ? '-' : `v${v.parent}`,
    v.aliases.join(','),
    v.deprecated ? 'yes' : '',
    Object.entries(v.metrics)
      .map(([k, x]) => `${k}=${typeof x === 'number' ? formatMetric(x) : String(x)}`)
      .join(' '),
  ])
  const header = ['version', 'files', 'size', 'created', 'by', 'parent', 'aliases', 'deprecated', 'metrics']
  return renderTable(header, rows, ['right', 'right', 'right', 'left', 'left', 'right', 'left', 'left', 'left'])
}

function aliasList(aliases: Record<string, number>): string {
  return Object.entries(aliases)
    .map(([alias, version]) => `${alias}=v${version}`)
    .join(', ')
}
