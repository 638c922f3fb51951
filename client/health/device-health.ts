/**
 * @module The SDK's device health counts (docs/device-health.md): loads watched for running out of
 * memory and for the page dying under them (the crash beacon's markers), the worker's crashes, and
 * the lost WebGPU devices and out-of-memory runs of loaded versions, all counted into telemetry.
 */
import type { Assignment } from '../../core/formats/assignment.ts'
import type { Backend } from '../../core/formats/common.ts'
import type { SdkDb } from '../db.ts'
import type { TelemetryProcessor, TrackSettings } from '../telemetry/processor.ts'
import type { ReportTarget } from '../telemetry/report-builder.ts'
import { LoadMarkers } from './load-markers.ts'
import { isOutOfMemory } from './out-of-memory.ts'

/** What a version being loaded reports under before its backend is known, and its telemetry settings. */
interface Loading {
  target: ReportTarget
  settings: TrackSettings
  started: number
  /** Set once the worker died under this load: its failure is that crash, counted once. */
  crashed: boolean
}

/**
 * Counts a fleet's device health events into its telemetry.
 */
export class DeviceHealth {
  private markers?: Promise<LoadMarkers>
  private readonly loading = new Set<Loading>()
  private beaconSent = false

  constructor(
    private readonly deps: {
      db: () => Promise<SdkDb>
      /** The processor, started if need be; null when telemetry is off. */
      telemetry: () => Promise<TelemetryProcessor | null>
      now?: () => number
    },
  ) {}

  /**
   * Runs a version's load under a marker: an out-of-memory failure counts `oomLoad` (and the failed
   * load), a worker that died under it `workerCrash`, and a page that dies under it leaves the marker
   * for the next page's crash beacon. Abandoned loads and failed ones are counted under `backends[0]`,
   * the backend the load tried first.
   */
  async watchLoad<T>(assignment: Assignment, backends: readonly Backend[], load: () => Promise<T>): Promise<T> {
    const telemetry = await this.deps.telemetry().catch(() => null)
    if (telemetry === null) return load()
    const { sampleRate, flushSeconds } = assignment.telemetry
    const entry: Loading = {
      target: {
        model: assignment.model,
        version: assignment.version,
        role: assignment.role,
        ...(assignment.rollout ? { rollout: { id: assignment.rollout.id, arm: assignment.rollout.arm } } : {}),
        backend: backends[0] ?? 'wasm',
        fallbacks: {},
      },
      settings: { sampleRate, flushSeconds },
      started: this.now(),
      crashed: false,
    }
    const markers = await this.getMarkers().catch(() => null)
    const clear = await markers?.mark(entry.target, sampleRate).catch(() => undefined)
    this.loading.add(entry)
    try {
      return await load()
    } catch (e) {
      if (!entry.crashed && isOutOfMemory(e))
        telemetry.noteHealth(entry.target, 'oomLoad', {
          settings: entry.settings,
          failedLoadMs: this.now() - entry.started,
        })
      throw e
    } finally {
      this.loading.delete(entry)
      await clear?.()
    }
  }

  /** The worker died: every version loaded in it (`loaded`: their report targets) and every load under way crashed. */
  workerGone(loaded: readonly ReportTarget[]): void {
    // Taken now: the loads fail (and leave `loading`) before the processor answers.
    const loads = [...this.loading]
    for (const entry of loads) entry.crashed = true
    void this.deps
      .telemetry()
      .then((t) => {
        if (t === null) return
        for (const target of loaded) t.noteHealth(target, 'workerCrash')
        for (const entry of loads) t.noteHealth(entry.target, 'workerCrash', { settings: entry.settings })
      })
      .catch(() => undefined)
  }

  /** A loaded version's run failed: counted as `oomRun` when it ran out of memory. */
  runFailed(telemetry: TelemetryProcessor | null, target: ReportTarget | undefined, error: unknown): void {
    if (telemetry && target && isOutOfMemory(error)) telemetry.noteHealth(target, 'oomRun')
  }

  /** The WebGPU device under a loaded version (`target`: its report target on that backend) was lost. */
  deviceLost(telemetry: TelemetryProcessor | null, target: ReportTarget | undefined): void {
    if (telemetry && target) telemetry.noteHealth(target, 'deviceLost')
  }

  /**
   * The crash beacon: the markers pages that died left behind, each counted once as `loadAbandoned`
   * for the version it names (sampled at the rate it was loaded under). Once per fleet.
   */
  async sendBeacon(telemetry: TelemetryProcessor): Promise<number> {
    if (this.beaconSent) return 0
    this.beaconSent = true
    const markers = await this.getMarkers()
    const abandoned = await markers.takeAbandoned()
    for (const m of abandoned)
      telemetry.noteHealth(m.target, 'loadAbandoned', { settings: { sampleRate: m.sampleRate, flushSeconds: 30 } })
    return abandoned.length
  }

  private getMarkers(): Promise<LoadMarkers> {
    this.markers ??= this.deps.db().then((db) => new LoadMarkers(db, { now: this.deps.now }))
    this.markers.catch(() => (this.markers = undefined))
    return this.markers
  }

  private now(): number {
    return (this.deps.now ?? Date.now)()
  }
}
