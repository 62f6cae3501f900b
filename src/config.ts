// Parses the environment once into a typed, frozen Config. Plugins receive this object and never
// read process.env themselves, so tests can build any configuration without touching globals.
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { z } from 'zod'
import { DEFAULT_HISTORY_BYTES } from './store/change-history.js'
import { parseClusterNodes, type RedisTarget } from './store/redis-connection.js'

export const TOKEN_ENCODINGS = ['o200k_base', 'cl100k_base'] as const
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'ES256'] as const

// Plain decimal integers only: z.coerce.number would read "" as 0 and accept "0x10" or "1e3".
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) => {
  const requirement = { error: `must be an integer from ${min} to ${max}` }
  return z.string().trim().regex(/^\d+$/, requirement).transform(Number)
    .pipe(z.number().int(requirement).min(min, requirement).max(max, requirement))
}

const optionalText = z.string().trim().optional().transform((value) => (value === '' ? undefined : value))

// The URL hosts use to reach the server (MCP resource id, OAuth metadata): http(s) only.
const optionalHttpUrl = optionalText.refine((value) => value === undefined || (/^https?:\/\/[^/?#\s]+/.test(value) && URL.canParse(value)),
  { error: 'must be an http:// or https:// URL' })

const commaList = z.string().optional().transform((value) =>
  (value ?? '').split(',').map((item) => item.trim()).filter((item) => item.length > 0))

// One schema per environment variable, named exactly as the variable, so an error names it.
const environmentSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    { error: 'must be one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
  MCP_HOST: z.string().min(1, { error: 'must not be empty' }).default('127.0.0.1'),
  MCP_PORT: integer(0, 65535).default(9877),
  MCP_MAX_TOKENS: integer(1).default(128000),
  MCP_MAX_ENTRY_TOKENS: integer(1).optional(),
  MCP_TOKEN_ENCODING: z.enum(TOKEN_ENCODINGS, { error: `must be one of ${TOKEN_ENCODINGS.join(', ')}` }).default('o200k_base'),
  MCP_JWT_SECRET_KEY: optionalText,
  JWT_SECRET_KEY: optionalText,
  JWT_ALGORITHM: z.enum(JWT_ALGORITHMS, { error: `must be one of ${JWT_ALGORITHMS.join(', ')}` }).default('HS256'),
  MCP_JWT_PUBLIC_KEY: optionalText,
  MCP_JWT_ISSUER: optionalText,
  MCP_JWT_AUDIENCE: optionalText,
  MCP_AUTH_TIMEOUT: integer(1, 3600).default(10),
  MCP_CONNECTION_TIMEOUT: integer(1).default(86400),
  MCP_HEARTBEAT_INTERVAL: integer(1, 86400).default(30),
  MCP_MAX_MESSAGE_BYTES: integer(64).default(1024 * 1024),
  MCP_MAX_DEPTH: integer(1, 1000).default(32),
  MCP_WS_RATE_LIMIT: integer(1).default(100),
  MCP_WS_RATE_BURST: integer(1).optional(),
  MCP_WS_BYTE_RATE: integer(1).default(1024 * 1024),
  MCP_MAX_BUFFERED_BYTES: integer(1024).default(16 * 1024 * 1024),
  MCP_MAX_CONNECTIONS: integer(1).default(10000),
  MCP_MAX_CONNECTIONS_PER_USER: integer(1).default(1000),
  MCP_ALLOWED_ORIGINS: commaList,
  MCP_HISTORY_SIZE: integer(0).default(10000),
  MCP_HISTORY_BYTES: integer(0).default(DEFAULT_HISTORY_BYTES),
  MCP_SHUTDOWN_GRACE: integer(1, 3600).default(10),
  MCP_STORE: z.enum(['memory', 'redis'], { error: 'must be memory or redis' }).default('memory'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
  MCP_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/, { error: 'must be letters, digits, ":", "_" or "-"' }).default('mcp'),
  // Unset means ./data; an explicit empty value means memory only.
  MCP_DATA_DIR: z.string().default('./data'),
  MCP_FSYNC: z.enum(['always', 'batch'], { error: 'must be always or batch' }).default('batch'),
  MCP_METRICS_TOKEN: optionalText,
  MCP_HTTP_RATE_LIMIT: integer(1).default(600),
  MCP_TRUST_PROXY: z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }).default('false')
    .transform((value) => value === 'true' || value === '1'),
  MCP_PUBLIC_URL: optionalHttpUrl,
  MCP_METRICS_MAX_TENANTS: integer(1, 100000).default(100),
  MCP_LOG_FORMAT: z.enum(['auto', 'json', 'pretty'], { error: 'must be auto, json or pretty' }).default('auto'),
  // Set by CI systems; with MCP_LOG_FORMAT=auto it means JSON logs even on a terminal.
  CI: z.string().optional().transform((value) => value !== undefined && value !== '' && value !== 'false' && value !== '0'),
  MCP_SESSION_IDLE_TIMEOUT: integer(1).default(600),
  MCP_STREAM_MAX_BUFFERED_BYTES: integer(1024).default(4 * 1024 * 1024),
  MCP_IDEMPOTENCY_TTL: integer(1, 7 * 86400).default(600),
  MCP_IDEMPOTENCY_MAX_KEYS: integer(1).default(10000),
  MCP_MAX_REVOCATIONS: integer(1).default(1000),
  // Token counting off the event loop (src/tokenizer/counting-pool.ts); unset threads means
  // one per core but one, at least one.
  MCP_TOKENIZER_THREADS: integer(0, 256).optional(),
  MCP_TOKENIZER_INLINE_BELOW: integer(0).default(8192),
  MCP_TOKENIZER_QUEUE: integer(0, 100000).default(32),
  // How much the counting threads yield to the event loop (Linux nice increment, 0-19).
  MCP_TOKENIZER_NICE: integer(0, 19).default(10),
  // Redis Cluster in place of REDIS_URL (src/store/redis-connection.ts); checked in loadConfig.
  MCP_REDIS_CLUSTER_NODES: optionalText,
  MCP_REDIS_WAIT_REPLICAS: integer(0, 16).default(0),
  MCP_REDIS_WAIT_TIMEOUT: integer(1, 60000).default(1000),
  // Redis: how long a tenant's replica stays loaded after its last use (src/store/replica-leases.ts).
  MCP_REPLICA_IDLE_SECONDS: integer(1, 86400).default(300)
})

export type Environment = Record<string, string | undefined>

export type Config = Readonly<ReturnType<typeof toConfig>>

export class ConfigError extends Error {
  constructor (readonly variable: string, readonly requirement: string) {
    super(`${variable} ${requirement}`)
    this.name = 'ConfigError'
  }
}

const WEAK_SECRETS = new Set(['default_secret', 'secret', 'changeme'])

function toConfig (env: z.infer<typeof environmentSchema>, jwtSecret: string | undefined, secretGenerated: boolean, redisTarget: RedisTarget) {
  return {
    env: env.NODE_ENV,
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL,
    host: env.MCP_HOST,
    port: env.MCP_PORT,
    maxTokens: env.MCP_MAX_TOKENS,
    maxEntryTokens: Math.min(env.MCP_MAX_ENTRY_TOKENS ?? env.MCP_MAX_TOKENS, env.MCP_MAX_TOKENS),
    tokenEncoding: env.MCP_TOKEN_ENCODING,
    jwt: Object.freeze({
      secret: jwtSecret,
      secretGenerated,
      algorithm: env.JWT_ALGORITHM,
      publicKey: env.MCP_JWT_PUBLIC_KEY,
      issuer: env.MCP_JWT_ISSUER,
      audience: env.MCP_JWT_AUDIENCE
    }),
    authTimeoutMs: env.MCP_AUTH_TIMEOUT * 1000,
    connectionTimeoutMs: env.MCP_CONNECTION_TIMEOUT * 1000,
    heartbeatIntervalMs: env.MCP_HEARTBEAT_INTERVAL * 1000,
    maxMessageBytes: env.MCP_MAX_MESSAGE_BYTES,
    maxDepth: env.MCP_MAX_DEPTH,
    wsRateLimit: env.MCP_WS_RATE_LIMIT,
    wsRateBurst: env.MCP_WS_RATE_BURST ?? env.MCP_WS_RATE_LIMIT * 2,
    // Bytes of write messages per second per connection; the burst is twice that, so the
    // default lets two maximum-size (1 MiB) writes through back to back.
    wsByteRate: env.MCP_WS_BYTE_RATE,
    maxBufferedBytes: env.MCP_MAX_BUFFERED_BYTES,
    maxConnections: env.MCP_MAX_CONNECTIONS,
    maxConnectionsPerUser: env.MCP_MAX_CONNECTIONS_PER_USER,
    allowedOrigins: Object.freeze(env.MCP_ALLOWED_ORIGINS),
    historySize: env.MCP_HISTORY_SIZE,
    historyBytes: env.MCP_HISTORY_BYTES,
    shutdownGraceMs: env.MCP_SHUTDOWN_GRACE * 1000,
    store: env.MCP_STORE,
    redisUrl: env.REDIS_URL,
    redisPrefix: env.MCP_REDIS_PREFIX,
    dataDir: env.MCP_DATA_DIR.trim() === '' ? undefined : env.MCP_DATA_DIR.trim(),
    fsync: env.MCP_FSYNC,
    metricsToken: env.MCP_METRICS_TOKEN,
    httpRateLimit: env.MCP_HTTP_RATE_LIMIT,
    trustProxy: env.MCP_TRUST_PROXY,
    publicUrl: env.MCP_PUBLIC_URL,
    metricsMaxTenants: env.MCP_METRICS_MAX_TENANTS,
    logFormat: env.MCP_LOG_FORMAT,
    ci: env.CI,
    mcpSessionIdleTimeoutMs: env.MCP_SESSION_IDLE_TIMEOUT * 1000,
    mcpStreamMaxBufferedBytes: env.MCP_STREAM_MAX_BUFFERED_BYTES,
    idempotencyTtlMs: env.MCP_IDEMPOTENCY_TTL * 1000,
    idempotencyMaxKeys: env.MCP_IDEMPOTENCY_MAX_KEYS,
    maxRevocations: env.MCP_MAX_REVOCATIONS,
    tokenizerThreads: env.MCP_TOKENIZER_THREADS ?? Math.max(1, availableParallelism() - 1),
    tokenizerInlineBelow: env.MCP_TOKENIZER_INLINE_BELOW,
    tokenizerQueue: env.MCP_TOKENIZER_QUEUE,
    tokenizerNice: env.MCP_TOKENIZER_NICE,
    /** REDIS_URL, or the cluster of MCP_REDIS_CLUSTER_NODES when that is set. */
    redisTarget,
    redisWaitReplicas: env.MCP_REDIS_WAIT_REPLICAS,
    redisWaitTimeoutMs: env.MCP_REDIS_WAIT_TIMEOUT,
    replicaIdleMs: env.MCP_REPLICA_IDLE_SECONDS * 1000
  }
}

/** REDIS_URL, or the cluster nodes; a cluster needs MCP_STORE=redis (it would be ignored otherwise). */
function redisTargetOf (env: z.infer<typeof environmentSchema>): RedisTarget {
  if (env.MCP_REDIS_CLUSTER_NODES === undefined) return { url: env.REDIS_URL }
  const nodes = parseClusterNodes(env.MCP_REDIS_CLUSTER_NODES)
  if (typeof nodes === 'string') throw new ConfigError('MCP_REDIS_CLUSTER_NODES', nodes)
  if (env.MCP_STORE !== 'redis') throw new ConfigError('MCP_REDIS_CLUSTER_NODES', 'needs MCP_STORE=redis')
  return { cluster: Object.freeze(nodes) }
}

/**
 * Parses and checks the environment. Throws ConfigError naming the first bad variable.
 * Outside production a missing JWT secret is replaced by a random one (flagged as generated).
 */
export function loadConfig (environment: Environment = process.env): Config {
  const parsed = environmentSchema.safeParse(withoutBlanks(environment))
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new ConfigError(String(issue.path[0] ?? 'environment'), issue.message)
  }
  const env = parsed.data
  const production = env.NODE_ENV === 'production'
  const asymmetric = env.JWT_ALGORITHM.startsWith('RS') || env.JWT_ALGORITHM.startsWith('ES')
  let secret = env.MCP_JWT_SECRET_KEY ?? env.JWT_SECRET_KEY
  const secretVariable = env.MCP_JWT_SECRET_KEY !== undefined ? 'MCP_JWT_SECRET_KEY' : 'JWT_SECRET_KEY'

  if (asymmetric && env.MCP_JWT_PUBLIC_KEY === undefined) {
    throw new ConfigError('MCP_JWT_PUBLIC_KEY', `is required when JWT_ALGORITHM is ${env.JWT_ALGORITHM}`)
  }
  if (production && !asymmetric) {
    if (secret === undefined) throw new ConfigError('MCP_JWT_SECRET_KEY', 'must be set in production (or JWT_SECRET_KEY)')
    if (WEAK_SECRETS.has(secret)) throw new ConfigError(secretVariable, 'must not be a default value in production')
    if (Buffer.byteLength(secret) < 32) throw new ConfigError(secretVariable, 'must be at least 32 bytes in production')
  }
  let generated = false
  if (secret === undefined && !asymmetric) {
    secret = randomBytes(32).toString('base64url')
    generated = true
  }
  return deepFreeze(toConfig(env, secret, generated, redisTargetOf(env)))
}

/**
 * A variable set to nothing (`MCP_PORT=` in a compose file whose source is unset) counts as
 * unset, so its default applies. MCP_DATA_DIR is the exception: empty means memory only.
 */
function withoutBlanks (environment: Environment): Environment {
  const out: Environment = {}
  for (const [name, value] of Object.entries(environment)) {
    out[name] = name !== 'MCP_DATA_DIR' && value !== undefined && value.trim() === '' ? undefined : value
  }
  return out
}

function deepFreeze<T extends object> (value: T): T {
  for (const child of Object.values(value)) {
    if (child !== null && typeof child === 'object' && !Object.isFrozen(child)) deepFreeze(child)
  }
  return Object.freeze(value)
}
