// Prometheus metrics (prom-client) on a registry owned by this app instance, so several apps in
// one process (tests) never collide. Store-derived series are read at scrape time; evictions are
// counted from the store's change events.
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ContextStore } from '../src/store/context-store.js'
import type { StoreMetadata } from '../src/store/types.js'

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

/** A per-tenant gauge read from the store at scrape time, so it can never drift from the store. */
function tenantGauge (registry: Registry, store: ContextStore, name: string, help: string, pick: (metadata: StoreMetadata) => number) {
  return new Gauge({
    name,
    help,
    labelNames: ['tenant'] as const,
    registers: [registry],
    collect () {
      this.reset()
      for (const tenant of store.tenants()) this.set({ tenant }, pick(store.metadata(tenant)))
    }
  })
}

function createMetrics (store: ContextStore) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const metrics = {
    registry,
    connections: new Gauge({ name: 'mcp_ws_connections', help: 'Open WebSocket connections', labelNames: ['state'] as const, registers: [registry] }),
    messages: new Counter({ name: 'mcp_ws_messages_total', help: 'Client messages handled, by type', labelNames: ['type'] as const, registers: [registry] }),
    errors: new Counter({ name: 'mcp_errors_total', help: 'Errors returned to clients, by code and surface', labelNames: ['code', 'surface'] as const, registers: [registry] }),
    authAttempts: new Counter({ name: 'mcp_auth_attempts_total', help: 'Authentication attempts, by result and surface', labelNames: ['result', 'surface'] as const, registers: [registry] }),
    evictions: new Counter({ name: 'mcp_context_removals_total', help: 'Entries removed, by reason (evicted, expired, cleared, deleted)', labelNames: ['reason'] as const, registers: [registry] }),
    changes: new Counter({ name: 'mcp_context_changes_total', help: 'Store changes, by reason', labelNames: ['reason'] as const, registers: [registry] }),
    broadcastSeconds: new Histogram({ name: 'mcp_broadcast_duration_seconds', help: 'Time to fan one change out to local subscribers', buckets: LATENCY_BUCKETS, registers: [registry] }),
    broadcastRecipients: new Counter({ name: 'mcp_broadcast_deliveries_total', help: 'Messages queued to subscribers, by mode', labelNames: ['mode'] as const, registers: [registry] }),
    messageSeconds: new Histogram({ name: 'mcp_message_duration_seconds', help: 'Time to handle one client message, by type', labelNames: ['type'] as const, buckets: LATENCY_BUCKETS, registers: [registry] }),
    httpRequests: new Counter({ name: 'mcp_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] }),
    httpSeconds: new Histogram({ name: 'mcp_http_request_duration_seconds', help: 'Time to answer one HTTP request, by method and route', labelNames: ['method', 'route'] as const, buckets: LATENCY_BUCKETS, registers: [registry] })
  }
  tenantGauge(registry, store, 'mcp_context_entries', 'Entries in each tenant store', (m) => m.entry_count)
  tenantGauge(registry, store, 'mcp_context_tokens', 'Tokens held in each tenant store', (m) => m.total_tokens)
  return metrics
}

declare module 'fastify' {
  interface FastifyInstance { metrics: ReturnType<typeof createMetrics> }
}

export default fp(async (app) => {
  const metrics = createMetrics(app.store)
  app.decorate('metrics', metrics)
  const unsubscribe = app.store.onChange((change) => {
    metrics.changes.inc({ reason: change.reason })
    for (const removal of change.removed) metrics.evictions.inc({ reason: removal.reason })
  })
  app.addHook('onClose', async () => { unsubscribe() })
  // Labelled by route template (/context/:key), never the raw URL, so keys and probes for unknown
  // paths cannot create unbounded series.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? '(unmatched)'
    metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) })
    metrics.httpSeconds.observe({ method: request.method, route }, reply.elapsedTime / 1000)
  })
}, { name: 'metrics', dependencies: ['store'] })
