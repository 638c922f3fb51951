// Trains the demo models `npm start` publishes, into demo/models/ (committed; the same bytes on every run):
//   npx tsx scripts/make-demo-models.ts
// weather: linear discriminant analysis (trainer/lda.ts) of seattle-weather 2012 (vega-datasets),
// precipitation, temp_max, temp_min and wind → drizzle, fog, rain, snow or sun. The real days of 2015
// go to the demo page (public/demo/data/), which feeds them to the model to show drift.
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { readRecords } from '../cli/records.ts'
import { trainLda } from '../trainer/lda.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const csv = `${root}node_modules/vega-datasets/data/seattle-weather.csv`
const out = `${root}demo/models/weather`

const { records } = await readRecords(csv)
const year = (y: number) => records.filter((r) => String(r.date).startsWith(`${y}-`))
const train = year(2012)
const model = trainLda(train, { features: ['precipitation', 'temp_max', 'temp_min', 'wind'], label: 'weather' })

mkdirSync(out, { recursive: true })
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`
writeFileSync(`${out}/model.onnx`, model.onnx)
writeFileSync(`${out}/signature.json`, json(model.signature))
writeFileSync(`${out}/profile.json`, json(model.profile))
writeFileSync(`${out}/metrics.json`, json(model.metrics))
// One day per line: small diffs, and the page reads it with one JSON.parse.
const days = year(2015).map((r) =>
  JSON.stringify({
    date: r.date,
    precipitation: r.precipitation,
    temp_max: r.temp_max,
    temp_min: r.temp_min,
    wind: r.wind,
    weather: r.weather,
  }),
)
mkdirSync(`${root}public/demo/data`, { recursive: true })
writeFileSync(`${root}public/demo/data/seattle-weather-2015.json`, `[\n${days.join(',\n')}\n]\n`)
// The page draws the reference histograms next to what it fed the model.
writeFileSync(`${root}public/demo/data/weather-profile.json`, json(model.profile))
const m = model.metrics
console.log(
  `weather: ${m.train_rows} rows of 2012, training accuracy ${m.train_accuracy.toFixed(3)} (majority baseline ${m.majority_baseline.toFixed(3)}), ${model.onnx.length} bytes → ${out}`,
)
