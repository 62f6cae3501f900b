// JSON request bodies parsed by the same rules as WebSocket frames (src/protocol/untrusted-json.ts),
// so one input gets one answer everywhere: not JSON is `invalid_json`; JSON with a `__proto__` or
// `constructor.prototype` key is `validation_error` (Fastify's own parser calls both invalid JSON).
import fp from 'fastify-plugin'
import { ContextError } from '../src/errors.js'
import { parseUntrustedJson } from '../src/protocol/untrusted-json.js'

export default fp(async (app) => {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const parsed = parseUntrustedJson(body as string)
    if (parsed.ok) done(null, parsed.value)
    else done(new ContextError(parsed.code, parsed.message, parsed.details), undefined)
  })
}, { name: 'json-body' })
