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
/** Every input this page gave the model: what `model.drift()` compares with the reference. */
const fed = []

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
      fed.push(input)
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
  const profile = fetch('data/weather-profile.json').then((r) => r.json())
  let correct = 0
  for (let i = 0; i < days.length; i += 50) {
    const batch = days.slice(i, i + 50)
    const inputs = batch.map(({ precipitation, temp_max, temp_min, wind }) => ({
      precipitation,
      temp_max,
      temp_min,
      wind,
    }))
    const predictions = await model.predictBatch(inputs)
    fed.push(...inputs)
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
  const reference = await profile
  drawHistograms(reference, report)
  const own = fed.length - days.length * Math.floor(fed.length / days.length)
  $('drift-note').textContent =
    `n counts every input this page gave the model since it loaded: ${fed.length}` +
    (own ? ` (${fed.length - own} days of 2015 and ${own} you predicted above)` : '') +
    `. The reference is the ${reference.rows} days of 2012 (a leap year) the model learned from.`
  $('drift-note').hidden = false
  const drifted = report.drifted.length ? `drifted: ${report.drifted.join(', ')}` : 'nothing drifted'
  setDrift(
    `2015: ${days.length} days, ${((correct / days.length) * 100).toFixed(1)}% predicted right (the real label is known here); ${drifted}.`,
    'done',
  )
  $('simulate').disabled = false
  // The results are taller than what is left of the screen: bring them into view.
  $('drift-status').scrollIntoView({ behavior: 'smooth', block: 'start' })
}

/** Share of `values` in each right-open bin [e_i, e_i+1) of `edges` (core/formats/profile.ts). */
function binShares(values, edges) {
  const counts = new Array(edges.length + 1).fill(0)
  for (const x of values) {
    let i = 0
    while (i < edges.length && x >= edges[i]) i++
    counts[i]++
  }
  return counts.map((c) => c / Math.max(1, values.length))
}

/** One small chart per numeric feature: reference (2012) and this page's bins side by side, as shares. */
function drawHistograms(reference, report) {
  const W = 320
  const H = 84
  const charts = Object.entries(reference.features)
    .filter(([, p]) => p.type === 'numeric')
    .map(([name, p]) => {
      const ref = p.counts.map((c) => c / p.n)
      const cur = binShares(
        fed.map((r) => r[name]),
        p.edges,
      )
      const top = Math.max(...ref, ...cur)
      const w = W / ref.length
      const bar = (share, i, k, cls) => {
        const h = (share / top) * (H - 4)
        return `<rect class="${cls}" x="${(i * w + k * (w / 2) + 0.5).toFixed(1)}" y="${(H - h).toFixed(1)}" width="${(w / 2 - 1).toFixed(1)}" height="${h.toFixed(1)}"/>`
      }
      const d = report.features[name]
      const figure = document.createElement('figure')
      figure.className = d?.drifted ? 'drifted' : ''
      figure.innerHTML =
        `<figcaption><b></b> <span></span></figcaption>` +
        `<svg viewBox="0 0 ${W} ${H}" role="img">${ref.map((s, i) => bar(s, i, 0, 'ref')).join('')}${cur.map((s, i) => bar(s, i, 1, 'cur')).join('')}</svg>` +
        `<div class="axis"><span></span><span></span></div>`
      figure.querySelector('b').textContent = name
      figure.querySelector('figcaption span').textContent = d
        ? `JS ${d.js.toFixed(3)} · ${d.reason.replace('_', ' ')}`
        : ''
      figure.querySelector('svg').setAttribute('aria-label', `${name}: reference and current histograms`)
      const [lo, hi] = figure.querySelectorAll('.axis span')
      lo.textContent = `< ${p.edges[0]}`
      hi.textContent = `≥ ${p.edges[p.edges.length - 1]}`
      return figure
    })
  $('histograms').replaceChildren(...charts)
  $('histograms-wrap').hidden = false
}

start().catch((e) => {
  console.error(e)
  setStatus(`Could not load the model: ${e.code ? `${e.code}: ` : ''}${e.message}`, 'error')
})
