// Fastify/pino logger options. Tokens never reach a log line: the `token` query parameter is
// masked in every logged URL (by its decoded name) and credentials headers are redacted.
import type { FastifyServerOptions } from 'fastify'
import pinoPretty from 'pino-pretty'
import type { Config } from './config.js'
import { stdoutDestination, stdoutLines } from './log-destination.js'
import { PRETTY_OPTIONS, prettyLogs } from './log-format.js'

/** Marks the stream of readable lines (what loggerOptions chose is visible to the tests). */
export const READABLE_LINES = Symbol('readable lines')

// Query parameters that carry a credential. The WebSocket route reads `token`; `access_token` is
// the common OAuth spelling, masked too in case a client sends it.
const CREDENTIAL_PARAMETERS = new Set(['token', 'access_token'])

/** A parameter name as the query parser reads it: `+` is a space, percent escapes decoded. */
function decodedName (name: string): string {
  const plain = name.replaceAll('+', ' ')
  try {
    return decodeURIComponent(plain)
  } catch {
    // A malformed escape: the parser keeps such a name undecoded, and so does this.
    return plain
  }
}

/**
 * Replaces the value of every credential query parameter in a URL with "[redacted]". Names are
 * compared decoded (and in any case), as the query parser reads them: `%74oken=` and `tok%65n=`
 * authenticate exactly as `token=` does, so they are masked as well.
 */
export function redactUrl (url: string): string {
  const queryStart = url.indexOf('?')
  if (queryStart === -1) return url
  const query = url.slice(queryStart + 1).split('&').map((parameter) => {
    const equals = parameter.indexOf('=')
    const name = equals === -1 ? parameter : parameter.slice(0, equals)
    return CREDENTIAL_PARAMETERS.has(decodedName(name).toLowerCase()) ? `${name}=[redacted]` : parameter
  })
  return url.slice(0, queryStart + 1) + query.join('&')
}

/**
 * Logger options from config; `stream` redirects output (tests read what would be logged, always
 * JSON). Otherwise stdout (src/log-destination.ts), with readable lines only when
 * src/log-format.ts says so for this terminal: pino-pretty formats them in this process (a person
 * at a terminal reads a few lines a second; a worker thread did not survive the terminal closing).
 */
export function loggerOptions (config: Config, stream?: NodeJS.WritableStream, isTTY = process.stdout.isTTY === true): FastifyServerOptions['logger'] {
  const pretty = stream === undefined && prettyLogs({ format: config.logFormat, production: config.production, isTTY, ci: config.ci })
  return {
    level: config.logLevel,
    stream: stream ?? (pretty ? readableLines() : stdoutLines()),
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.query.token', 'headers.authorization', 'token'],
      censor: '[redacted]'
    },
    serializers: {
      req (request: { method: string, url: string, hostname?: string, ip?: string, socket?: { remotePort?: number } }) {
        return {
          method: request.method,
          url: redactUrl(request.url),
          host: request.hostname,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort
        }
      }
    }
  }
}

function readableLines (): NodeJS.WritableStream {
  return Object.assign(pinoPretty({ ...PRETTY_OPTIONS, destination: stdoutDestination() }), { [READABLE_LINES]: true })
}
