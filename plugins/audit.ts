// The audit log (src/security/audit-log.ts) on the app's logger: every change the store makes here,
// and the revocations and refused authentications the surfaces report through `app.audit`. Audit
// lines are written at info level or above even when LOG_LEVEL is quieter (only `silent` stops
// them), so turning down the noise never turns off the trail.
import fp from 'fastify-plugin'
import type { FastifyBaseLogger } from 'fastify'
import type { Logger } from 'pino'
import { AuditLog } from '../src/security/audit-log.js'
import { auditSinkOn } from '../src/security/audit-line-sink.js'

declare module 'fastify' {
  interface FastifyInstance { audit: AuditLog }
}

const QUIETER_THAN_INFO = new Set(['warn', 'error', 'fatal'])

function auditLogger (log: FastifyBaseLogger): FastifyBaseLogger {
  // Each line carries `audit: true` itself (src/security/audit-log.ts).
  return log.child({}, QUIETER_THAN_INFO.has(log.level) ? { level: 'info' } : {})
}

export default fp(async (app) => {
  const audit = new AuditLog(auditSinkOn(auditLogger(app.log) as unknown as Logger))
  app.decorate('audit', audit)
  const { store } = app
  // With Redis every instance hears every change; only the one that decided it (its id is in the
  // actor) writes the line, so the trail has one line per change, not one per instance.
  const instance = store.instanceId
  const unsubscribe = store.onChange((change) => {
    if (instance === undefined || change.actor.instance === instance) audit.change(change)
  })
  app.addHook('onClose', async () => { unsubscribe() })
}, { name: 'audit', dependencies: ['store'] })
