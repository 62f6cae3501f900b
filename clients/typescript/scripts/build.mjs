// Builds the package: ES modules and declarations with tsc (dist/*.js, dist/*.d.ts), then one
// self-contained browser bundle with esbuild (dist/context-client.browser.js), minified, with a
// source map. The browser bundle is the same code: no runtime dependency, the platform WebSocket.
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

rmSync(join(root, 'dist'), { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' })
await build({
  entryPoints: [join(root, 'src/index.ts')],
  outfile: join(root, 'dist/context-client.browser.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning'
})
