// Fastify/pino logger options. Tokens never reach a log line: the `token` query parameter is
// masked in every logged URL and credentials headers are redacted.
import type { FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { PRETTY_TRANSPORT, prettyLogs } from './log-format.js'

/** Replaces the value of every `token` query parameter in a URL with "[redacted]". */
export function redactUrl (url: string): string {
  const queryStart = url.indexOf('?')
  if (queryStart === -1) return url
  const query = url.slice(queryStart + 1).replace(/(^|&)(token|access_token)=[^&]*/gi, '$1$2=[redacted]')
  return url.slice(0, queryStart + 1) + query
}

/**
 * Logger options from config; `stream` redirects output (tests read what would be logged, always
 * JSON). Readable lines only when src/log-format.ts says so for this terminal.
 */
export function loggerOptions (config: Config, stream?: NodeJS.WritableStream, isTTY = process.stdout.isTTY === true): FastifyServerOptions['logger'] {
  const pretty = stream === undefined && prettyLogs({ format: config.logFormat, production: config.production, isTTY, ci: config.ci })
  return {
    level: config.logLevel,
    ...(stream !== undefined ? { stream } : {}),
    ...(pretty ? { transport: PRETTY_TRANSPORT } : {}),
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
