// The audit log's info lines, written straight to the logger's stream in pino's own line format:
// the details serialized by one native JSON.stringify instead of pino's walk over their keys.
//
// Why: every change writes an audit line, and pino's line building (a loop over the keys, each
// value stringified on its own, the message escaped by hand) was the largest cost of a write after
// token counting and the frame's parse in the bench:ws ingest profile (issue 16). The line is the
// same: pino's level and time strings, the logger's bindings, the details, the message, pino's
// line end; it goes to the same stream. This uses `pino.symbols`, which pino exposes "for
// performant integration"; where the logger does anything per line that this would skip (a mixin,
// a stream-write hook, a nested key, a log formatter, a stream that wants line metadata, a
// serializer or redaction on an audit key), the line goes through pino as before.
import pino from 'pino'
import type { AuditSink } from './audit-log.js'

// msgPrefixSym is missing from pino's type of its symbols (it is in the object).
const symbols = pino.symbols as typeof pino.symbols & { msgPrefixSym: symbol }

/** Every top-level key an audit line has (src/security/audit-log.ts), besides pino's own. */
export const AUDIT_KEYS = ['audit', 'event', 'tenant', 'seq', 'reason', 'actor', 'upserted', 'removed', 'upserted_count', 'removed_count', 'revocation', 'by', 'surface', 'ip', 'sub', 'jti'] as const

type Internals = Record<symbol, unknown>

const INFO = 30

/** Whether this logger writes info lines with nothing more than pino's plain format. */
function writesPlainLines (logger: pino.Logger): boolean {
  const internals = logger as unknown as Internals
  const stream = internals[symbols.streamSym] as (Internals & { write?: unknown }) | undefined
  const formatters = internals[symbols.formattersSym] as { log?: unknown } | undefined
  const hooks = internals[symbols.hooksSym] as { streamWrite?: unknown } | undefined
  const serializers = (internals[symbols.serializersSym] ?? {}) as Record<string, unknown>
  const stringifiers = (internals[symbols.stringifiersSym] ?? {}) as Record<string, unknown>
  return stream !== undefined && typeof stream.write === 'function' &&
    stream[symbols.needsMetadataGsym] !== true &&
    internals[symbols.mixinSym] === undefined &&
    hooks?.streamWrite === undefined &&
    formatters?.log === undefined &&
    internals[symbols.nestedKeySym] === null &&
    typeof internals[symbols.lsCacheSym] === 'object' &&
    AUDIT_KEYS.every((key) => serializers[key] === undefined && stringifiers[key] === undefined)
}

/** The audit sink on `logger`: info lines written directly where pino would write the same line, warn lines through pino. */
export function auditSinkOn (logger: pino.Logger): AuditSink {
  if (!writesPlainLines(logger)) return logger
  const internals = logger as unknown as Internals
  const stream = internals[symbols.streamSym] as { write: (line: string) => void }
  const levelPrefix = (internals[symbols.lsCacheSym] as Record<number, string>)[INFO]
  const time = internals[symbols.timeSym] as () => string
  const bindings = internals[symbols.chindingsSym] as string
  const messageKey = JSON.stringify(internals[symbols.messageKeySym] as string)
  const end = internals[symbols.endSym] as string
  const prefix = (internals[symbols.msgPrefixSym] as string | undefined) ?? ''
  return {
    info (details: object, message: string) {
      if (!logger.isLevelEnabled('info')) return
      const json = JSON.stringify(details)
      const fields = json.length > 2 ? ',' + json.slice(1, -1) : ''
      stream.write(`${levelPrefix}${time()}${bindings}${fields},${messageKey}:${JSON.stringify(prefix + message)}${end}`)
    },
    warn: (details: object, message: string) => { logger.warn(details, message) }
  }
}
