// `node scripts/weather-years.mjs 2013 2014 2015`: the seattle-weather days of those years as CSV on
// stdout (header included), from the pinned vega-datasets copy. The demo retrainer's data source
// (demo/retrainer.json): "the labeled data of recent years" for the weather model trained on 2012.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const years = process.argv.slice(2)
if (years.length === 0 || years.some((y) => !/^\d{4}$/.test(y))) {
  console.error('usage: node scripts/weather-years.mjs <year> [<year>…]   (seattle-weather has 2012-2015)')
  process.exit(2)
}
const csv = fileURLToPath(new URL('../node_modules/vega-datasets/data/seattle-weather.csv', import.meta.url))
const [header, ...rows] = readFileSync(csv, 'utf8').trim().split('\n')
const picked = rows.filter((r) => years.some((y) => r.startsWith(`${y}-`)))
if (picked.length === 0) {
  console.error(`no seattle-weather days in ${years.join(', ')} (the data has 2012-2015)`)
  process.exit(1)
}
process.stdout.write([header, ...picked].join('\n') + '\n')
