// `npm run openapi`: writes openapi.yaml at the repository root from the document buildApp
// generates out of the route schemas. test/routes/openapi.test.ts fails when the two drift apart.
import { writeFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { openApiYaml } from '../src/rest/openapi-document.js'

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi.yaml', import.meta.url))

/** The OpenAPI document as YAML, from an app built with a fixed, self-contained configuration. */
export async function generateOpenApiYaml (): Promise<string> {
  // Nothing from the caller's environment: the document must come out the same on every machine.
  const config = loadConfig({
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    MCP_DATA_DIR: '',
    MCP_STORE: 'memory',
    MCP_JWT_SECRET_KEY: 'openapi-generation-only-secret-0123456789abcdef'
  })
  const app = await buildApp(config, { logger: false })
  try {
    await app.ready()
    return openApiYaml(app.swagger())
  } finally {
    await app.close()
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(OPENAPI_PATH, await generateOpenApiYaml())
  process.stdout.write(`Wrote ${OPENAPI_PATH}\n`)
}
