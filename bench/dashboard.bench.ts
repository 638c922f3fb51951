// The dashboard's two figures, and why its chart library is uPlot.
//  1. Chart libraries: uPlot, Observable Plot and ECharts, each bundled minified for the one chart the
//     dashboard draws most (a 10,000-point time line), compared on min+gzip size and on render time in
//     Chromium (interleaved rounds, median of per-round ratios against uPlot).
//  2. The dashboard itself on a local edge: gzip size of what the first view loads, and first render
//     (navigation start → the models list drawn), median of 7 cold loads.
// Plot and ECharts are not dependencies of edgefleet: they are installed into bench/out/ on first run.
//   node --import tsx bench/dashboard.bench.ts
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import * as esbuild from 'esbuild'
import { chromium } from 'playwright-core'
import { chromiumArgs, chromiumPath } from '../scripts/lib/chromium.ts'
import { E2E_ADMIN_TOKEN, startWranglerDev } from '../scripts/lib/wrangler-dev.ts'
import { ratioRow, record } from './results.ts'

const root = fileURLToPath(new URL('..', import.meta.url))
const libs = `${root}bench/out/chart-libs`
const POINTS = 10_000
const ROUNDS = 7

if (!existsSync(`${libs}/node_modules/echarts`)) {
  mkdirSync(libs, { recursive: true })
  writeFileSync(`${libs}/package.json`, '{"private":true}')
  const r = spawnSync(
    'npm',
    ['install', '--save-exact', '--no-audit', '--no-fund', '@observablehq/plot@0.6.17', 'echarts@6.1.0'],
    {
      cwd: libs,
      stdio: 'inherit',
    },
  )
  if (r.status !== 0) throw new Error('npm install of the compared chart libraries failed')
}

// Each entry draws xs/ys into a fresh element the same way the dashboard would (no animation).
const entries: Record<string, string> = {
  uplot: `import uPlot from 'uplot'
window.draw = (el, xs, ys) => new uPlot({ width: 560, height: 200, scales: { x: { time: true } }, series: [{}, { stroke: '#0072B2' }] }, [xs, ys], el)`,
  plot: `import * as Plot from '@observablehq/plot'
window.draw = (el, xs, ys) => el.append(Plot.plot({ width: 560, height: 200, marks: [Plot.lineY(ys, { x: xs.map((t) => new Date(t * 1000)), y: (d) => d })] }))`,
  echarts: `import * as echarts from 'echarts/core'
import { LineChart } from 'echarts/charts'
import { GridComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
echarts.use([LineChart, GridComponent, CanvasRenderer])
window.draw = (el, xs, ys) => {
  el.style.width = '560px'; el.style.height = '200px'
  const c = echarts.init(el)
  c.setOption({ animation: false, xAxis: { type: 'time' }, yAxis: { type: 'value' }, series: [{ type: 'line', showSymbol: false, data: xs.map((t, i) => [t * 1000, ys[i]]) }] })
}`,
}

const bundles: Record<string, { code: string; gzip: number }> = {}
for (const [name, source] of Object.entries(entries)) {
  const out = await esbuild.build({
    stdin: { contents: source, resolveDir: name === 'uplot' ? root : libs, loader: 'js' },
    nodePaths: [`${root}node_modules`, `${libs}/node_modules`],
    bundle: true,
    minify: true,
    format: 'iife',
    write: false,
    logLevel: 'error',
  })
  const code = out.outputFiles[0].text
  bundles[name] = { code, gzip: gzipSync(code, { level: 9 }).length }
}

// Runs in the page: draws POINTS points and resolves with the ms until the next frame after the call,
// so canvas and SVG libraries are both measured until on screen.
const DRAW = `(async () => {
  const n = POINTS
  const xs = Array.from({ length: n }, (_, i) => 1700000000 + i * 60)
  const ys = xs.map((_, i) => Math.sin(i / 50) * 10 + ((i * 7919) % 13))
  const el = document.createElement('div')
  document.body.replaceChildren(el)
  const t0 = performance.now()
  window.draw(el, xs, ys)
  await new Promise((r) => requestAnimationFrame(() => setTimeout(r)))
  return performance.now() - t0
})()`

const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
const times: Record<string, number[]> = { uplot: [], plot: [], echarts: [] }
try {
  const pages = Object.fromEntries(
    await Promise.all(
      Object.keys(bundles).map(async (name) => {
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
        await page.setContent('<!doctype html><body></body>')
        await page.addScriptTag({ content: bundles[name].code })
        return [name, page] as const
      }),
    ),
  )
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? ['echarts', 'plot', 'uplot'] : ['uplot', 'plot', 'echarts']
    for (const name of order) {
      const ms = Number(await pages[name].evaluate(DRAW.replace('POINTS', String(POINTS))))
      times[name].push(ms)
    }
  }
} finally {
  await browser.close()
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
console.log(`chart libraries, one ${POINTS.toLocaleString()}-point line, ${ROUNDS} interleaved rounds in Chromium:`)
for (const name of Object.keys(bundles)) {
  const ratio = median(times[name].map((t, i) => t / times.uplot[i]))
  console.log(
    `  ${name.padEnd(8)} ${(bundles[name].gzip / 1024).toFixed(1).padStart(6)} KB min+gzip (×${(bundles[name].gzip / bundles.uplot.gzip).toFixed(1)})  render ${median(times[name]).toFixed(1)} ms (×${ratio.toFixed(2)} of uPlot)`,
  )
}

const fastest = ['plot', 'echarts'].sort((a, b) => median(times[a]) - median(times[b]))[0]!
record(
  ratioRow({
    name: 'dashboard-render',
    unit: 'ms',
    values: times.uplot,
    baselines: times[fastest],
    target: { atMost: 1 },
    note: `uPlot drawing a ${POINTS.toLocaleString('en')}-point line vs ${fastest === 'plot' ? 'Observable Plot' : 'ECharts'} (the faster alternative), Chromium; ${(bundles.uplot.gzip / 1024).toFixed(1)} KB vs ${(bundles[fastest].gzip / 1024).toFixed(1)} KB min+gzip`,
  }),
)

// 2. The dashboard on a local edge.
const built = `${root}public/dashboard`
const gz = (f: string) => gzipSync(readFileSync(`${built}/${f}`), { level: 9 }).length
const all = readdirSync(built).reduce((a, f) => a + gz(f), 0)
const dev = await startWranglerDev()
const browser2 = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs })
try {
  const firstRender: number[] = []
  let firstLoad = 0
  for (let i = 0; i < ROUNDS; i++) {
    const context = await browser2.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    let bytes = 0
    page.on('response', async (r) => {
      if (r.url().includes('/dashboard/')) bytes += Number((await r.allHeaders())['content-length'] ?? 0)
    })
    const scripts: string[] = []
    page.on('request', (r) => {
      if (r.url().includes('/dashboard/')) scripts.push(r.url().split('/dashboard/')[1].split('#')[0] || 'index.html')
    })
    await page.goto(`${dev.url}/dashboard/#token=${E2E_ADMIN_TOKEN}`)
    await page.getByTestId('models-list').waitFor()
    firstRender.push(await page.evaluate('performance.now()'))
    if (i === 0) firstLoad = [...new Set(scripts)].reduce((a, f) => a + (existsSync(`${built}/${f}`) ? gz(f) : 0), 0)
    void bytes
    await context.close()
  }
  console.log(`dashboard on the local edge (${ROUNDS} cold loads, Chromium 1280×800, empty registry):`)
  console.log(
    `  all files ${(all / 1024).toFixed(1)} KB gzip; the models view loads ${(firstLoad / 1024).toFixed(1)} KB gzip`,
  )
  console.log(
    `  first render (navigation → models list drawn): median ${median(firstRender).toFixed(0)} ms, max ${Math.max(...firstRender).toFixed(0)} ms (budget 1000 ms)`,
  )
  record({
    name: 'dashboard-first-render',
    unit: 'ms',
    value: median(firstRender),
    baseline: null,
    ratio: null,
    target: '≤ 1000 ms',
    ok: median(firstRender) <= 1000,
    min: Math.min(...firstRender),
    max: Math.max(...firstRender),
    rounds: firstRender.length,
    note: `navigation → models list drawn, ${ROUNDS} cold loads on wrangler dev; the models view loads ${(firstLoad / 1024).toFixed(1)} KB gzip`,
  })
} finally {
  await browser2.close()
  await dev.stop({ removeState: true })
}
