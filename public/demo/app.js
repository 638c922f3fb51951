// The demo page: what a web developer writes with the prebuilt SDK, and nothing else.
import { createFleet } from '/sdk/edgefleet.js'

const $ = (id) => document.getElementById(id)
const status = $('status')
const form = $('day')

/** The app key: `#key=…` in the URL, else config.json (written by `npm start` for this local edge). */
async function appKey() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('key')
  if (fromHash) return fromHash
  const res = await fetch('config.json', { cache: 'no-store' })
  if (!res.ok)
    throw new Error(
      'no app key: start the edge with `npm start` (it writes config.json), or open this page with #key=<app key>',
    )
  return (await res.json()).appKey
}

function setStatus(text, state) {
  status.textContent = text
  if (state) status.dataset.state = state
}

const mb = (bytes) => (bytes / 1e6).toFixed(1)

async function start() {
  let loaded = null
  const fleet = createFleet({
    endpoint: location.origin,
    appKey: await appKey(),
    onEvent: (e) => {
      if (e.type === 'loaded') loaded = e
    },
  })
  const progress = $('progress')
  const model = await fleet.load('weather', {
    onProgress: ({ loaded: done, total }) => {
      progress.value = total ? done / total : 1
      setStatus(`Downloading weather and the ONNX runtime: ${mb(done)} of ${mb(total)} MB`)
    },
  })
  progress.value = 1
  const { backend, fallbacks } = model.backend
  const skipped = Object.entries(fallbacks).map(([b, why]) => `${b}: ${why}`)
  const source = loaded?.downloadedBytes === 0 ? 'from the IndexedDB cache' : 'downloaded and verified'
  setStatus(
    `weather v${model.version} on ${backend}${skipped.length ? ` (skipped ${skipped.join(', ')})` : ''}, ${source}`,
    'ready',
  )
  for (const b of document.querySelectorAll('button')) b.disabled = false
  window.demo = { fleet, model }

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const input = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, Number(v)]))
    try {
      showPrediction(await model.predict(input))
    } catch (e) {
      setStatus(`predict failed: ${e.code ?? ''} ${e.message}`, 'error')
    }
  })
  $('simulate').addEventListener('click', () => simulate(model).catch((e) => setDrift(`failed: ${e.message}`, 'error')))
}

function showPrediction(p) {
  $('result').hidden = false
  $('label').textContent = p.output.label
  const scores = Object.entries(p.output.scores).sort((a, b) => b[1] - a[1])
  $('scores').replaceChildren(
    ...scores.map(([label, score]) => {
      const li = document.createElement('li')
      li.innerHTML = '<span class="name"></span><span class="bar"><span></span></span><span class="value"></span>'
      li.querySelector('.name').textContent = label
      li.querySelector('.bar span').style.width = `${(score * 100).toFixed(1)}%`
      li.querySelector('.value').textContent = `${(score * 100).toFixed(1)}%`
      return li
    }),
  )
  $('meta').textContent = `version ${p.version} · backend ${p.backend} · ${p.ms.toFixed(2)} ms in the worker`
}

function setDrift(text, state) {
  const el = $('drift-status')
  el.textContent = text
  el.dataset.state = state
}

async function simulate(model) {
  $('simulate').disabled = true
  setDrift('Predicting the 365 days of 2015…', 'running')
  const days = await (await fetch('data/seattle-weather-2015.json')).json()
  let correct = 0
  for (let i = 0; i < days.length; i += 50) {
    const batch = days.slice(i, i + 50)
    const predictions = await model.predictBatch(
      batch.map(({ precipitation, temp_max, temp_min, wind }) => ({ precipitation, temp_max, temp_min, wind })),
    )
    predictions.forEach((p, j) => (correct += p.output.label === batch[j].weather ? 1 : 0))
  }
  const report = await model.drift()
  const rows = [
    ...Object.entries(report.features).map(([name, d]) => [name, d]),
    ...Object.entries(report.outputs).map(([name, d]) => [`output: ${name}`, d]),
  ]
  const fmt = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '–')
  $('drift-table').tBodies[0].replaceChildren(
    ...rows.map(([name, d]) => {
      const tr = document.createElement('tr')
      tr.className = d.drifted ? 'drifted' : ''
      for (const cell of [
        name,
        d.n,
        fmt(d.psi, 3),
        fmt(d.js, 3),
        d.chi2_p < 1e-4 ? d.chi2_p.toExponential(1) : fmt(d.chi2_p, 4),
        d.reason.replace('_', ' '),
      ]) {
        const td = document.createElement('td')
        td.textContent = cell
        tr.append(td)
      }
      return tr
    }),
  )
  $('drift-table').hidden = false
  const drifted = report.drifted.length ? `drifted: ${report.drifted.join(', ')}` : 'nothing drifted'
  setDrift(
    `2015: ${days.length} days, ${((correct / days.length) * 100).toFixed(1)}% predicted right (the real label is known here); ${drifted}.`,
    'done',
  )
  $('simulate').disabled = false
}

start().catch((e) => {
  console.error(e)
  setStatus(`Could not load the model: ${e.code ? `${e.code}: ` : ''}${e.message}`, 'error')
})
