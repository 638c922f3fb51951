import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http'

/** One request as it arrived on the wire, and what became of it. */
export interface RecordedRequest {
  method: string
  /** Path and query, exactly as sent. */
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
  /** The edge's status; null when the proxy cut the connection (or the edge did not answer). */
  status: number | null
}

export interface RecordingProxy {
  url: string
  /** Every request received so far, in arrival order (recorded when its body has arrived). */
  requests: RecordedRequest[]
  /** While set, requests it returns true for are recorded and then cut off unanswered (a failed network). */
  cut: ((r: RecordedRequest) => boolean) | null
  close(): Promise<void>
}

/**
 * An HTTP proxy on 127.0.0.1 in front of `target` that records every byte a client sends (headers
 * unchanged, `Host` included, so the target builds its URLs on the proxy's origin). It sees what a
 * browser's instrumentation may not, such as keepalive requests sent by a page that is going away.
 */
export async function recordingProxy(target: string): Promise<RecordingProxy> {
  const to = new URL(target)
  const proxy: RecordingProxy = { url: '', requests: [], cut: null, close: async () => undefined }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks),
        status: null,
      }
      proxy.requests.push(recorded)
      if (proxy.cut?.(recorded)) {
        req.socket.destroy()
        return
      }
      const upstream = request(
        { host: to.hostname, port: to.port, method: recorded.method, path: recorded.path, headers: req.headers },
        (answer) => {
          recorded.status = answer.statusCode ?? null
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        },
      )
      upstream.on('error', () => req.socket.destroy())
      upstream.end(recorded.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  proxy.close = () => new Promise((resolve) => (server.close(() => resolve()), server.closeAllConnections()))
  return proxy
}
