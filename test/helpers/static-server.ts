import { createReadStream, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { extname, join, normalize } from 'node:path'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.csv': 'text/csv',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
}

export interface StaticServer {
  url: string
  /** Requests served so far, by path (to prove what did and did not touch the network). */
  hits: string[]
  close(): Promise<void>
}

/**
 * Serves a folder on 127.0.0.1 at a free port, as a customer's web app would be, optionally
 * cross-origin isolated (COOP/COEP) so ORT can use threads and timers are precise.
 */
export async function serveStatic(
  dir: string,
  options: { isolated?: boolean; routes?: Record<string, string>; mounts?: Record<string, string> } = {},
): Promise<StaticServer> {
  const hits: string[] = []
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    hits.push(path)
    const mount = Object.entries(options.mounts ?? {}).find(([prefix]) => path.startsWith(prefix))
    const mapped =
      options.routes?.[path] ?? (mount ? join(mount[1], normalize(path.slice(mount[0].length))) : undefined)
    const file = mapped ?? join(dir, normalize(path === '/' ? '/index.html' : path).replace(/^(\.\.[/\\])+/, ''))
    let size: number
    try {
      const st = statSync(file)
      if (!st.isFile()) throw new Error('not a file')
      size = st.size
    } catch {
      res.writeHead(404).end('not found')
      return
    }
    const headers: Record<string, string> = {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': String(size),
      'Cache-Control': 'no-store',
    }
    if (options.isolated)
      Object.assign(headers, {
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cross-Origin-Resource-Policy': 'same-origin',
      })
    res.writeHead(200, headers)
    createReadStream(file).pipe(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    // Browsers keep connections alive; drop them so close() does not wait for their timeouts.
    close: () => new Promise((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  }
}
