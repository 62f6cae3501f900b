// Entry point: parse the environment, build the app, listen, and shut down gracefully on
// SIGTERM/SIGINT (readiness flips to 503 first, clients are closed, the process exits 0).
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { signToken } from './auth/token-signer.js'

function configOrExit (): Config {
  try {
    return loadConfig(process.env)
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Invalid configuration: ${error.message}\n`)
      process.exit(1)
    }
    throw error
  }
}

/** Builds the app; a backend that cannot start (Redis down, data dir locked) is one line, exit 1. */
async function appOrExit (config: Config) {
  try {
    return await buildApp(config)
  } catch (error) {
    process.stderr.write(`Could not start: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
}

const config = configOrExit()
const app = await appOrExit(config)

// Signals that report a fault (SIGSEGV, SIGBUS, ...) are not shutdown requests: a JavaScript
// listener for one means the process can never die of it, and a fault then repeats forever on a
// core (seen when the terminal closed: a fault while exiting, then 100% CPU until killed).
const FAULT_SIGNALS: closeWithGrace.AllEvents[] = ['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGTRAP']

closeWithGrace({ delay: config.shutdownGraceMs, skip: FAULT_SIGNALS }, async ({ signal, err }) => {
  if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
  else app.log.info({ signal }, 'shutting down')
  app.lifecycle.beginShutdown()
  await app.close()
})

try {
  await app.listen({ host: config.host, port: config.port })
} catch (error) {
  app.log.fatal({ err: error }, 'could not start')
  process.exit(1)
}

if (config.jwt.secretGenerated) {
  // Development convenience: a fresh clone is usable at once, with no secret to set up.
  const token = signToken(config.jwt, { sub: 'admin', roles: ['admin'], ttlSeconds: 24 * 3600 })
  const shownHost = config.host === '0.0.0.0' ? '127.0.0.1' : config.host
  process.stdout.write([
    '',
    'No MCP_JWT_SECRET_KEY set: using a random secret for this run (development only).',
    `Admin token (24h): ${token}`,
    `WebSocket:         ws://${shownHost}:${config.port}/ws?token=${token}`,
    `REST:              curl -H "Authorization: Bearer ${token}" http://${shownHost}:${config.port}/status`,
    // The token rides in the fragment, which browsers never send: it stays out of logs.
    `Dashboard:         http://${shownHost}:${config.port}/dashboard#token=${token}`,
    ''
  ].join('\n') + '\n')
}
