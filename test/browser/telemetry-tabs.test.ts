/**
 * @module
 * Tabs of one origin share the device's telemetry queue in IndexedDB; a Web Lock elects the tab that
 * sends, so no batch goes out twice however many tabs flush at once. Two processors on one page stand
 * for two tabs: Web Locks and IndexedDB are per origin, so they contend exactly as tabs do. The
 * browser's `online` event sends the queue at once, ending a backoff that network failures caused.
 */
import { describe, expect, test } from 'vitest'
import { openDatabase } from '../../client/db.ts'
import { TelemetryProcessor } from '../../client/telemetry/processor.ts'
import { TelemetryQueue } from '../../client/telemetry/queue.ts'
import { createTransport } from '../../client/telemetry/transport.ts'
import type { Batch } from '../../core/formats/telemetry.ts'
import vectors from '../vectors/formats/batch.valid.json'

const TEMPLATE = (vectors as { value: Batch }[])[0].value
const DEVICE = TEMPLATE.device

/** A fetch standing in for the edge: records each batch id it is sent, answering 202 after `delayMs`. */
function slowEdge(delayMs: number) {
  const sent: string[] = []
  let down = false
  const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    if (down) throw new TypeError('Failed to fetch')
    const text = await new Response(
      new Blob([init?.body as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip')),
    ).text()
    await new Promise((r) => setTimeout(r, delayMs))
    sent.push((JSON.parse(text) as Batch).batchId)
    return new Response('{}', { status: 202 })
  }) as typeof globalThis.fetch
  return {
    fetch,
    sent,
    setDown(value: boolean) {
      down = value
    },
  }
}

/** One tab's processor over the shared database, with no timers: the test decides when it sends. */
async function tab(dbName: string, fetch: typeof globalThis.fetch, useLocks: boolean, win: EventTarget | null = null) {
  const queue = new TelemetryQueue(await openDatabase(dbName))
  const processor = new TelemetryProcessor({
    queue,
    transport: createTransport({ endpoint: 'https://edge.test', appKey: 'ef_k', fetch, random: () => 0.5 }),
    collect: async () => {
      throw new Error('nothing tracked')
    },
    device: async () => DEVICE,
    locks: useLocks ? navigator.locks : null,
    window: win,
    document: null,
    timers: false,
  })
  return { queue, processor }
}

async function enqueue(queue: TelemetryQueue, ids: string[]): Promise<void> {
  for (const batchId of ids) await queue.enqueue((dropped) => ({ ...TEMPLATE, batchId, dropped }))
}

describe('telemetry across tabs', () => {
  test('two tabs flushing at once send every queued batch exactly once (the Web Lock elects one)', async () => {
    const edge = slowEdge(25)
    const dbName = `tabs-lock-${Date.now()}`
    const a = await tab(dbName, edge.fetch, true)
    const b = await tab(dbName, edge.fetch, true)
    const ids = Array.from({ length: 6 }, (_, i) => `b_lock_${i}`)
    await enqueue(a.queue, ids)
    await Promise.all([a.processor.send(), b.processor.send(), a.processor.send(), b.processor.send()])
    expect([...edge.sent].sort()).toEqual(ids)
    expect(await a.queue.peek()).toEqual([])
    await Promise.all([a.processor.close(), b.processor.close()])
  })

  test('without the lock the same two tabs send batches twice (what the election prevents)', async () => {
    const edge = slowEdge(25)
    const dbName = `tabs-nolock-${Date.now()}`
    const a = await tab(dbName, edge.fetch, false)
    const b = await tab(dbName, edge.fetch, false)
    const ids = Array.from({ length: 6 }, (_, i) => `b_nolock_${i}`)
    await enqueue(a.queue, ids)
    await Promise.all([a.processor.send(), b.processor.send()])
    expect(new Set(edge.sent)).toEqual(new Set(ids))
    expect(edge.sent.length).toBeGreaterThan(ids.length)
    await Promise.all([a.processor.close(), b.processor.close()])
  })

  test('`online` sends the queue at once, even inside the backoff the network failures started', async () => {
    const edge = slowEdge(0)
    const win = window
    const t = await tab(`tabs-online-${Date.now()}`, edge.fetch, true, win)
    await enqueue(t.queue, ['b_online_0', 'b_online_1'])
    edge.setDown(true)
    await t.processor.send()
    expect(edge.sent).toEqual([])
    // The failure started a backoff: a plain send now does nothing.
    edge.setDown(false)
    await t.processor.send()
    expect(edge.sent).toEqual([])
    win.dispatchEvent(new Event('online'))
    await expect.poll(() => edge.sent.length, { timeout: 5000 }).toBe(2)
    expect(edge.sent).toEqual(['b_online_0', 'b_online_1'])
    expect(await t.queue.peek()).toEqual([])
    await t.processor.close()
  })
})
