import type { Signature } from '../../../core/formats/signature.ts'
import { fetchBytes } from './worker-client.ts'

/** seattle-weather.csv (vega-datasets): 1461 days of 2012-2015, parsed simply (no quoting in this file). */
export interface WeatherRow {
  date: string
  year: number
  precipitation: number
  temp_max: number
  temp_min: number
  wind: number
  weather: string
}

export const NUMERIC = ['precipitation', 'temp_max', 'temp_min', 'wind'] as const
export const LABELS = ['drizzle', 'rain', 'sun', 'snow', 'fog']

/** Every row of the CSV, in file order. */
export async function seattleRows(): Promise<WeatherRow[]> {
  const text = new TextDecoder().decode(await fetchBytes('/node_modules/vega-datasets/data/seattle-weather.csv'))
  const [header, ...lines] = text.trim().split('\n')
  const columns = header.split(',')
  return lines.map((line) => {
    const cells = line.split(',')
    const cell = (name: string) => cells[columns.indexOf(name)]
    return {
      date: cell('date'),
      year: Number(cell('date').slice(0, 4)),
      precipitation: Number(cell('precipitation')),
      temp_max: Number(cell('temp_max')),
      temp_min: Number(cell('temp_min')),
      wind: Number(cell('wind')),
      weather: cell('weather'),
    }
  })
}

/** A tabular signature over the four numeric columns, standardized with the moments of `rows`. */
export function weatherSignature(
  rows: readonly WeatherRow[],
  activation: 'softmax' | 'none' = 'none',
): Extract<Signature, { kind: 'tabular' }> {
  return {
    kind: 'tabular',
    features: NUMERIC.map((name) => {
      const xs = rows.map((r) => r[name])
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length
      const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length)
      return { name, type: 'numeric' as const, transform: { kind: 'standardize' as const, mean, std } }
    }),
    output: { kind: 'classes', labels: LABELS, activation },
  }
}

/** The model's input record of a row (what an app would pass to predict). */
export function weatherRecord(row: WeatherRow): Record<string, unknown> {
  return { precipitation: row.precipitation, temp_max: row.temp_max, temp_min: row.temp_min, wind: row.wind }
}

/** Rows → the standardized [n, 4] matrix the signature describes (computed here independently of the worker). */
export function standardized(
  rows: readonly WeatherRow[],
  signature: ReturnType<typeof weatherSignature>,
): Float32Array {
  const out = new Float32Array(rows.length * NUMERIC.length)
  rows.forEach((row, r) =>
    signature.features.forEach((f, c) => {
      if (f.type !== 'numeric' || f.transform?.kind !== 'standardize')
        throw new Error('standardized numeric features only')
      out[r * NUMERIC.length + c] = (row[f.name as (typeof NUMERIC)[number]] - f.transform.mean) / f.transform.std
    }),
  )
  return out
}
