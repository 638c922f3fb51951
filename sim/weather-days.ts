import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'

/** One real day of seattle-weather (vega-datasets): the model's four features and the observed label. */
export interface WeatherDay {
  date: string
  precipitation: number
  temp_max: number
  temp_min: number
  wind: number
  weather: string
}

/** The days of seattle-weather (2012-2015) whose date starts with one of `years`. */
export function weatherDays(years: readonly number[]): WeatherDay[] {
  const file = fileURLToPath(new URL('../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url))
  const rows = parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[]
  return rows
    .filter((r) => years.some((y) => r.date.startsWith(`${y}-`)))
    .map((r) => ({
      date: r.date,
      precipitation: Number(r.precipitation),
      temp_max: Number(r.temp_max),
      temp_min: Number(r.temp_min),
      wind: Number(r.wind),
      weather: r.weather,
    }))
}
