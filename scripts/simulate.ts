// `npm run simulate -- --devices 20 --minutes 3 --scenario drift`: a simulated fleet (sim/) against a
// running edge. Defaults: the local edge of `npm start` and its admin token.
import { Command, Option } from 'commander'
import { SCENARIOS, type ScenarioName } from '../sim/scenarios.ts'
import { simulate } from '../sim/simulate.ts'

const program = new Command('simulate')
  .description('drive simulated devices (headless Chromium running the SDK) against an edge')
  .option('--url <url>', 'the edge', process.env.EDGEFLEET_URL ?? 'http://127.0.0.1:8787')
  .option('--token <token>', 'admin token', process.env.EDGEFLEET_TOKEN ?? 'ef_dev_admin_token_local_only')
  .option('--app-key <key>', 'app key of the devices (default: a new one)')
  .option('--model <name>', 'the model', 'weather')
  .option('--devices <n>', 'devices', '20')
  .option('--minutes <m>', 'real minutes to run', '3')
  .addOption(new Option('--scenario <name>', 'what happens').choices([...SCENARIOS]).default('healthy'))
  .option('--seed <n>', 'seed of every random choice', '1')
  .option('--concurrency <n>', 'devices driven at once', '4')
  .parse()

const o = program.opts<Record<string, string>>()
try {
  await simulate({
    url: o.url,
    token: o.token,
    appKey: o.appKey,
    model: o.model,
    devices: Number(o.devices),
    minutes: Number(o.minutes),
    scenario: o.scenario as ScenarioName,
    seed: Number(o.seed),
    concurrency: Number(o.concurrency),
  })
} catch (e) {
  console.error(`simulate: ${e instanceof Error ? e.message : e}`)
  process.exitCode = 1
}
