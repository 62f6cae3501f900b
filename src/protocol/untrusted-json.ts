// Parses JSON from clients (WebSocket frames, REST bodies) with the same rules and the same
// refusals everywhere: keys named `__proto__` or `constructor.prototype` are refused
// (secure-json-parse), so no later copy of user data can reach Object.prototype.
import sjson from 'secure-json-parse'
import type { ErrorCode, ErrorDetail } from '../errors.js'

export interface JsonRefusal {
  readonly ok: false
  readonly code: ErrorCode
  readonly message: string
  readonly details?: ErrorDetail[]
  /** The value plain JSON.parse saw, when the text was JSON with a forbidden key (to read an id). */
  readonly raw?: unknown
}

export type ParsedJson = { readonly ok: true, readonly value: unknown } | JsonRefusal

const PARSE_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const

/** Parses client JSON. Never throws: not JSON is `invalid_json`, a forbidden key `validation_error`. */
export function parseUntrustedJson (text: string): ParsedJson {
  try {
    return { ok: true, value: sjson.parse(text, null, PARSE_OPTIONS) }
  } catch {
    // Plain JSON.parse tells the two refusals apart safely: it only defines own properties, it
    // never assigns a prototype.
    let raw: unknown
    try {
      raw = JSON.parse(text)
    } catch (error) {
      return { ok: false, code: 'invalid_json', message: `Invalid JSON: ${(error as Error).message}` }
    }
    return {
      ok: false,
      code: 'validation_error',
      message: 'Keys named __proto__ or constructor.prototype are not allowed',
      details: [{ path: '(root)', message: 'forbidden key __proto__ or constructor.prototype' }],
      raw
    }
  }
}
