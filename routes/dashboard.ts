// GET /dashboard: the live dashboard's page and assets (built into dashboard/dist by
// `npm run build`), under a strict Content-Security-Policy. The page is open; its data needs a
// token, which the page keeps in sessionStorage and sends only over the WebSocket.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'

// No inline script or style, nothing from another origin; the WebSocket and REST calls go to
// this server only.
export const DASHBOARD_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
  "connect-src 'self' ws: wss:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"
].join('; ')

const ASSETS: Record<string, { file: string, type: string }> = {
  '/dashboard': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' }
}

// From source (routes/) and compiled (dist/routes/) alike, the built files are at the root's
// dashboard/dist.
const CANDIDATES = ['../dashboard/dist/', '../../dashboard/dist/'].map((path) => fileURLToPath(new URL(path, import.meta.url)))

async function loadAssets (): Promise<Map<string, Buffer> | undefined> {
  for (const dir of CANDIDATES) {
    try {
      const files = new Map<string, Buffer>()
      for (const { file } of Object.values(ASSETS)) files.set(file, await readFile(dir + file))
      return files
    } catch { /* try the next place */ }
  }
  return undefined
}

const dashboardRoutes: FastifyPluginAsync = async (app) => {
  // Read once at start: three small files, served from memory with no path taken from the request.
  const files = await loadAssets()
  for (const [url, { file, type }] of Object.entries(ASSETS)) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      reply.header('content-security-policy', DASHBOARD_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
      const body = files?.get(file)
      if (body === undefined) {
        return reply.code(503).type('text/plain; charset=utf-8').send('The dashboard is not built: run `npm run build`.\n')
      }
      return reply.type(type).send(body)
    })
  }
}

export default dashboardRoutes
