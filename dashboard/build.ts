// The dashboard's build step: bundles src/main.ts with the official client (from its source, so
// the dashboard never lags the client) into dist/app.js, and copies the page and its stylesheet.
// `npm run build` runs it; the browser tests call buildDashboard() so they test what ships.
import { copyFile, mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const here = fileURLToPath(new URL('.', import.meta.url))
export const DASHBOARD_DIST = fileURLToPath(new URL('./dist/', import.meta.url))

/** Builds dashboard/dist (index.html, app.js, app.css); returns its path. */
export async function buildDashboard (): Promise<string> {
  await mkdir(DASHBOARD_DIST, { recursive: true })
  await build({
    entryPoints: [`${here}src/main.ts`],
    outfile: `${DASHBOARD_DIST}app.js`,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    alias: { '@context-server/client': fileURLToPath(new URL('../clients/typescript/src/index.ts', import.meta.url)) },
    logLevel: 'warning'
  })
  await copyFile(`${here}index.html`, `${DASHBOARD_DIST}index.html`)
  await copyFile(`${here}styles.css`, `${DASHBOARD_DIST}app.css`)
  return DASHBOARD_DIST
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildDashboard()
}
