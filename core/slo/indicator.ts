/**
 * @module Service-level indicators: the bad and all events of an objective in one window of fleet
 * telemetry. Latency and load time count from the merged DDSketch: good events are the values at most
 * the threshold (`DDSketch.countAtMost`, within the sketch's 1 % relative accuracy: a value up to ~2 %
 * above the threshold may count as good, never one below it as bad). Pure.
 */
import type { Objective } from '../formats/slo.ts'
import type { DDSketch } from '../sketch/DDSketch.ts'

/** What the indicators of one window are computed from. */
export interface WindowFigures {
  inferences: number
  errors: number
  /** Inference latencies and load times (ms). */
  latency: DDSketch
  loadMs: DDSketch
  /** Distinct devices seen, and how many of them reported a backend falling back. */
  devices: number
  fellBack: number
}

/** Bad and all events of an objective in a window. */
export interface Events {
  bad: number
  total: number
}

/**
 * The events of `objective` in a window:
 * - `latency` / `load_time`: inferences (loads) over the threshold, of all inferences (loads);
 * - `error_rate`: errors, of all inferences (errors above inferences count as all bad);
 * - `fallback_rate`: devices that reported a fallback, of all devices.
 *
 * @example eventsOf({kind: 'error_rate', name: 'e', target: 0.999}, figures) // {bad: figures.errors, total: figures.inferences}
 */
export function eventsOf(objective: Objective, f: WindowFigures): Events {
  switch (objective.kind) {
    case 'latency':
      return overThreshold(f.latency, objective.thresholdMs)
    case 'load_time':
      return overThreshold(f.loadMs, objective.thresholdMs)
    case 'error_rate':
      return { bad: Math.min(f.errors, f.inferences), total: f.inferences }
    case 'fallback_rate':
      return { bad: Math.min(f.fellBack, f.devices), total: f.devices }
  }
}

function overThreshold(sketch: DDSketch, thresholdMs: number): Events {
  const total = sketch.count
  return { bad: Math.max(0, total - sketch.countAtMost(thresholdMs)), total }
}
