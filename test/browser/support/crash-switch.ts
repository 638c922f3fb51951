/**
 * @module
 * A crash switch for a worker, imported before the SDK's worker (support/crashing-worker.ts): once armed
 * through the BroadcastChannel its URL names (`&crash=<channel>`, so test files running side by side
 * never arm each other's workers), the next message from the page (a call in flight) closes the worker
 * instead of being answered, as a crash would end it mid-call.
 */
let armed = false
const channel = new BroadcastChannel(new URL(self.location.href).searchParams.get('crash') ?? 'edgefleet-crash')
channel.onmessage = () => {
  armed = true
  channel.postMessage('armed')
}
// Registered before comlink's listener, so it sees each call first.
self.addEventListener('message', (e) => {
  if (!armed) return
  e.stopImmediatePropagation()
  self.close()
})

// A module, not a script: its names stay its own.
export {}
