// Prometheus metrics (prom-client) on a registry owned by this app instance, so several apps in
// one process (tests) never collide. Store-derived series are read at scrape time; evictions are
// counted from the store's change events. docs/operations.md lists every family (a test holds the
// two together); `promtool check metrics` passes on the output (test/routes/metrics-promtool.test.ts).
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ContextStore } from '../src/store/context-store.js'
import type { TokenCountingPool } from '../src/tokenizer/counting-pool.js'
import type { Revocations } from '../src/security/revocations.js'
import { cappedTenantSeries, type TenantFigures } from '../src/metrics/tenant-series.js'
import { HotCounter, HotHistogram } from '../src/metrics/hot-path-metrics.js'

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

// prom-client's default metrics include three gauges named *_total (promtool: "non-counter
// metrics should not have _total suffix"). Each is the sum of its labelled twin
// (nodejs_active_handles{type} and so on), so nothing is lost by leaving them out.
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']

// A scrape never waits longer than this for the store to answer its readiness probe.
const PROBE_TIMEOUT_MS = 2000

interface MetricsOptions {
  store: ContextStore
  /** MCP_METRICS_MAX_TENANTS: tenants listed by name in per-tenant series. */
  maxTenants: number
  /** MCP_MAX_TOKENS: every tenant's budget. */
  maxTokens: number
  /** Whether the instance is draining (then it is not ready, whatever the store says). */
  draining: () => boolean
  /** The tokenizer pool, read at scrape time (queue depth, threads). */
  tokenizer: TokenCountingPool
  /** The revocations in force, read at scrape time. */
  revocations: Revocations
}

interface Probe { ready: boolean, seconds: number }

/**
 * The store's readiness check, timed. Every gauge that needs it in one scrape shares one call
 * (prom-client collects all metrics at once), so a scrape costs one Redis PING, not several.
 */
function storeProbe (store: ContextStore): () => Promise<Probe> {
  let inflight: Promise<Probe> | undefined
  const measure = async (): Promise<Probe> => {
    const started = process.hrtime.bigint()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS) })
    const ready = await Promise.race([store.isReady().catch(() => false), timeout])
    clearTimeout(timer)
    return { ready, seconds: Number(process.hrtime.bigint() - started) / 1e9 }
  }
  return () => {
    inflight ??= measure().finally(() => { inflight = undefined })
    return inflight
  }
}

/** Every tenant's figures, capped to the largest `max` plus `_other` (src/metrics/tenant-series.ts). */
function tenantRows (store: ContextStore, max: number): TenantFigures[] {
  const rows = store.tenants().map((tenant) => {
    const metadata = store.metadata(tenant)
    return { tenant, tokens: metadata.total_tokens, entries: metadata.entry_count }
  })
  return cappedTenantSeries(rows, max)
}

function createMetrics ({ store, maxTenants, maxTokens, draining, tokenizer, revocations }: MetricsOptions) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name)
  const registers = [registry]
  const probe = storeProbe(store)

  const metrics = {
    registry,
    connections: new Gauge({ name: 'mcp_ws_connections', help: 'Open WebSocket connections', labelNames: ['state'] as const, registers }),
    // The five recorded per message or per change are hot-path metrics (src/metrics/hot-path-metrics.ts).
    messages: new HotCounter({ name: 'mcp_ws_messages_total', help: 'Client messages handled, by type', labelName: 'type', registers }),
    errors: new Counter({ name: 'mcp_errors_total', help: 'Errors returned to clients, by code and surface', labelNames: ['code', 'surface'] as const, registers }),
    authAttempts: new Counter({ name: 'mcp_auth_attempts_total', help: 'Authentication attempts, by result and surface', labelNames: ['result', 'surface'] as const, registers }),
    evictions: new HotCounter({ name: 'mcp_context_removals_total', help: 'Entries removed, by reason (evicted, expired, cleared, deleted)', labelName: 'reason', registers }),
    changes: new HotCounter({ name: 'mcp_context_changes_total', help: 'Store changes, by reason', labelName: 'reason', registers }),
    broadcastSeconds: new Histogram({ name: 'mcp_broadcast_duration_seconds', help: 'Time to fan one change out to local subscribers', buckets: LATENCY_BUCKETS, registers }),
    broadcastRecipients: new Counter({ name: 'mcp_broadcast_deliveries_total', help: 'Messages queued to subscribers, by mode', labelNames: ['mode'] as const, registers }),
    messageSeconds: new HotHistogram({ name: 'mcp_message_duration_seconds', help: 'Time to handle one client message, by type', labelName: 'type', buckets: LATENCY_BUCKETS, registers }),
    httpRequests: new Counter({ name: 'mcp_http_requests_total', help: 'HTTP requests answered, by method, route and status', labelNames: ['method', 'route', 'status'] as const, registers }),
    httpSeconds: new Histogram({ name: 'mcp_http_request_duration_seconds', help: 'Time to answer one HTTP request, by method and route', labelNames: ['method', 'route'] as const, buckets: LATENCY_BUCKETS, registers }),
    wsCloses: new Counter({ name: 'mcp_ws_closes_total', help: 'WebSocket connections closed by the server, by close code (4008: slow consumer, 4029: rate limit, 4001: auth)', labelNames: ['code'] as const, registers }),

    // Recorded by the tokenizer worker pool (MCP_TOKENIZER_THREADS): tasks waiting for a worker,
    // the pool's size, and the time one count takes where it ran (worker or inline).
    tokenizerQueueDepth: new Gauge({
      name: 'mcp_tokenizer_queue_depth',
      help: 'Token counts waiting for a tokenizer worker thread',
      registers,
      collect () { this.set(tokenizer.queueDepth) }
    }),
    tokenizerWorkers: new Gauge({
      name: 'mcp_tokenizer_workers',
      help: 'Worker threads in the tokenizer pool (0: counting inline)',
      registers,
      collect () { this.set(tokenizer.workers) }
    }),
    tokenizerSeconds: new HotHistogram({ name: 'mcp_tokenizer_duration_seconds', help: 'Time to count the tokens of one content, by where it ran (worker, inline)', labelName: 'where', buckets: LATENCY_BUCKETS, registers }),

    // Recorded by the idempotency and revocation code (contract §8).
    idempotencyReplays: new Counter({ name: 'mcp_idempotency_replays_total', help: 'Requests answered with the first reply of the same idempotency key, by surface', labelNames: ['surface'] as const, registers }),
    idempotencyConflicts: new Counter({ name: 'mcp_idempotency_conflicts_total', help: 'Idempotency keys reused with a different request (refused), by surface', labelNames: ['surface'] as const, registers }),
    revocations: new Counter({ name: 'mcp_revocations_total', help: 'Revocations created, by kind (sub, jti)', labelNames: ['kind'] as const, registers }),
    revocationsActive: new Gauge({
      name: 'mcp_revocations_active',
      help: 'Revocations in force',
      registers,
      collect () { this.set(revocations.activeCount) }
    }),
    revokedRefusals: new Counter({ name: 'mcp_revoked_token_refusals_total', help: 'Requests and connections refused because their token is revoked, by surface', labelNames: ['surface'] as const, registers })
  }

  // Read from the store and the lifecycle at scrape time, so they can never drift from them.
  const readAtScrape = [
    new Gauge({
      name: 'mcp_context_entries',
      help: 'Entries in each tenant store (the largest MCP_METRICS_MAX_TENANTS tenants by tokens; the rest summed as tenant="_other")',
      labelNames: ['tenant'] as const,
      registers,
      collect () {
        this.reset()
        for (const row of tenantRows(store, maxTenants)) this.set({ tenant: row.tenant }, row.entries)
      }
    }),
    new Gauge({
      name: 'mcp_context_tokens',
      help: 'Tokens held in each tenant store (the largest MCP_METRICS_MAX_TENANTS tenants; the rest summed as tenant="_other")',
      labelNames: ['tenant'] as const,
      registers,
      collect () {
        this.reset()
        for (const row of tenantRows(store, maxTenants)) this.set({ tenant: row.tenant }, row.tokens)
      }
    }),
    new Gauge({
      name: 'mcp_context_tenants',
      help: 'Tenant stores this instance holds (with Redis: the tenant replicas it keeps)',
      registers,
      collect () { this.set(store.tenants().length) }
    }),
    // Replicas on demand (src/store/replica-leases.ts): with Redis an instance holds only the
    // tenants in use on it. With the memory backend every tenant is loaded and none is dropped.
    new Gauge({
      name: 'mcp_replicas_loaded',
      help: 'Tenant replicas loaded on this instance (with Redis: tenants used here within MCP_REPLICA_IDLE_SECONDS)',
      registers,
      collect () { this.set(store.replicaStats().loaded) }
    }),
    new Gauge({
      name: 'mcp_replicas_in_use',
      help: 'Loaded tenants with a connection, session, stream or request open on this instance',
      registers,
      collect () { this.set(store.replicaStats().inUse) }
    }),
    new Counter({
      name: 'mcp_replica_loads_total',
      help: 'Tenant replicas loaded from Redis on first use since start',
      registers,
      collect () { this.reset(); this.inc(store.replicaStats().loads) }
    }),
    new Counter({
      name: 'mcp_replica_unloads_total',
      help: 'Tenant replicas dropped after MCP_REPLICA_IDLE_SECONDS without use since start',
      registers,
      collect () { this.reset(); this.inc(store.replicaStats().unloads) }
    }),
    new Gauge({
      name: 'mcp_context_max_tokens',
      help: 'The token budget of each tenant (MCP_MAX_TOKENS)',
      registers,
      collect () { this.set(maxTokens) }
    }),
    new Gauge({
      name: 'mcp_store_ready',
      help: 'Whether the store backend answers its readiness check (with Redis: a PING), 1 or 0',
      labelNames: ['backend'] as const,
      registers,
      async collect () { this.set({ backend: store.backend }, (await probe()).ready ? 1 : 0) }
    }),
    new Gauge({
      name: 'mcp_store_round_trip_seconds',
      help: `Time the store backend took to answer the readiness check at scrape time (with Redis: a PING round trip; at most ${PROBE_TIMEOUT_MS / 1000} s)`,
      labelNames: ['backend'] as const,
      registers,
      async collect () { this.set({ backend: store.backend }, (await probe()).seconds) }
    }),
    new Gauge({
      name: 'mcp_ready',
      help: 'Whether GET /ready answers 200: not draining and the store answers, 1 or 0',
      registers,
      async collect () { this.set(!draining() && (await probe()).ready ? 1 : 0) }
    })
  ]
  return { ...metrics, readAtScrape }
}

declare module 'fastify' {
  interface FastifyInstance { metrics: ReturnType<typeof createMetrics> }
}

/** A metric's child per label value, made on first use and kept (for bounded label sets only). */
function boundChildren<C> (make: (value: string) => C): (value: string) => C {
  const children = new Map<string, C>()
  return (value) => {
    let child = children.get(value)
    if (child === undefined) children.set(value, (child = make(value)))
    return child
  }
}

export default fp(async (app) => {
  const metrics = createMetrics({
    store: app.store,
    maxTenants: app.config.metricsMaxTenants,
    maxTokens: app.config.maxTokens,
    draining: () => app.lifecycle.draining,
    tokenizer: app.tokenizer,
    revocations: app.revocations
  })
  app.decorate('metrics', metrics)
  // Fed by the pool, the audit log (revocations made, refusals) and the store (idempotency,
  // through the onIdempotency option of plugins/store.ts).
  app.tokenizer.observe((where, seconds) => metrics.tokenizerSeconds.labels(where).observe(seconds))
  const unobserve = app.audit.observe({
    revocationCreated: (revocation) => metrics.revocations.inc({ kind: revocation.jti !== undefined ? 'jti' : 'sub' }),
    refused: (refusal) => { if (refusal.reason === 'revoked') metrics.revokedRefusals.inc({ surface: refusal.surface }) }
  })
  const unsubscribe = app.store.onChange((change) => {
    metrics.changes.labels(change.reason).inc()
    for (const removal of change.removed) metrics.evictions.labels(removal.reason).inc()
  })
  app.addHook('onClose', async () => { unsubscribe(); unobserve(); app.tokenizer.observe(undefined) })
  // Labelled by route template (/context/:key), never the raw URL, so keys and probes for unknown
  // paths cannot create unbounded series.
  // A callback hook: an async one costs a promise and a microtask turn on every request.
  // Their children are bound too: methods (what Node's parser accepts), route templates and status
  // codes are bounded sets, and the label look-up was 5% of a POST /context (bench:http profile).
  const requestsBy = boundChildren((key) => {
    const [method, route, status] = key.split('\u0000')
    return metrics.httpRequests.labels({ method, route, status })
  })
  const secondsBy = boundChildren((key) => {
    const [method, route] = key.split('\u0000')
    return metrics.httpSeconds.labels({ method, route })
  })
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? '(unmatched)'
    const methodRoute = `${request.method}\u0000${route}`
    requestsBy(`${methodRoute}\u0000${reply.statusCode}`).inc()
    secondsBy(methodRoute).observe(reply.elapsedTime / 1000)
    done()
  })
}, { name: 'metrics', dependencies: ['store', 'lifecycle', 'tokenizer', 'revocations', 'audit'] })
