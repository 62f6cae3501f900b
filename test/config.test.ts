import { test } from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

const refused = (env: Record<string, string>) => {
  try {
    loadConfig(env)
    return undefined
  } catch (error) {
    return error instanceof ConfigError ? error.message : `unexpected: ${String(error)}`
  }
}

test('defaults follow the contract', async (t) => {
  const config = loadConfig({})
  t.equal(config.host, '127.0.0.1')
  t.equal(config.port, 9877)
  t.equal(config.maxTokens, 128000)
  t.equal(config.maxEntryTokens, 128000)
  t.equal(config.tokenEncoding, 'o200k_base')
  t.equal(config.jwt.algorithm, 'HS256')
  t.equal(config.connectionTimeoutMs, 86400 * 1000)
  t.equal(config.heartbeatIntervalMs, 30 * 1000)
  t.equal(config.authTimeoutMs, 10 * 1000)
  t.equal(config.maxMessageBytes, 1024 * 1024)
  t.equal(config.maxDepth, 32)
  t.equal(config.historySize, 10000)
  t.equal(config.historyBytes, 64 * 1024 * 1024)
  t.equal(config.store, 'memory')
  t.equal(config.dataDir, './data')
  t.equal(config.trustProxy, false, 'X-Forwarded-For is not trusted unless asked')
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.jwt), 'frozen')
})

test('values are parsed and typed', async (t) => {
  const config = loadConfig({
    MCP_PORT: '8080',
    MCP_MAX_TOKENS: '256000',
    MCP_MAX_ENTRY_TOKENS: '5000',
    MCP_TOKEN_ENCODING: 'cl100k_base',
    JWT_SECRET_KEY: 'fallback-secret',
    MCP_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    MCP_DATA_DIR: ''
  })
  t.equal(config.port, 8080)
  t.equal(config.maxTokens, 256000)
  t.equal(config.maxEntryTokens, 5000)
  t.equal(config.tokenEncoding, 'cl100k_base')
  t.equal(config.jwt.secret, 'fallback-secret', 'JWT_SECRET_KEY is the fallback')
  t.equal(config.jwt.secretGenerated, false)
  t.same(config.allowedOrigins, ['https://a.example', 'https://b.example'])
  t.equal(config.dataDir, undefined, 'empty MCP_DATA_DIR means memory only')
  t.equal(loadConfig({ MCP_JWT_SECRET_KEY: 'primary', JWT_SECRET_KEY: 'fallback' }).jwt.secret, 'primary')
})

test('an empty variable counts as unset; numbers are plain decimal integers', async (t) => {
  const config = loadConfig({ MCP_PORT: '', MCP_HISTORY_SIZE: '  ', MCP_MAX_TOKENS: ' 5000 ', MCP_DATA_DIR: '' })
  t.equal(config.port, 9877, 'MCP_PORT= gives the default, not port 0')
  t.equal(config.historySize, 10000)
  t.equal(config.maxTokens, 5000, 'surrounding spaces are fine')
  t.equal(config.dataDir, undefined, 'MCP_DATA_DIR= still means memory only')
  t.equal(refused({ MCP_PORT: '0x10' }), 'MCP_PORT must be an integer from 0 to 65535')
  t.equal(refused({ MCP_MAX_TOKENS: '1e3' }), `MCP_MAX_TOKENS must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`)
  t.equal(refused({ MCP_HEARTBEAT_INTERVAL: '2.5' }), 'MCP_HEARTBEAT_INTERVAL must be an integer from 1 to 86400')
  t.equal(refused({ MCP_HISTORY_BYTES: '64MiB' }), `MCP_HISTORY_BYTES must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}`)
})

test('a bad value names the variable and what it must be', async (t) => {
  t.equal(refused({ MCP_PORT: 'eighty' }), 'MCP_PORT must be an integer from 0 to 65535')
  t.equal(refused({ MCP_PORT: '70000' }), 'MCP_PORT must be an integer from 0 to 65535')
  t.equal(refused({ MCP_MAX_TOKENS: '0' }), `MCP_MAX_TOKENS must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`)
  t.match(refused({ MCP_STORE: 'postgres' }), /^MCP_STORE must be memory or redis/)
  t.match(refused({ JWT_ALGORITHM: 'none' }), /^JWT_ALGORITHM must be one of HS256/)
  t.match(refused({ MCP_TOKEN_ENCODING: 'p50k_base' }), /^MCP_TOKEN_ENCODING must be one of/)
  t.match(refused({ LOG_LEVEL: 'loud' }), /^LOG_LEVEL must be one of/)
  t.match(refused({ REDIS_URL: 'http://x' }), /^REDIS_URL must be a redis/)
  t.equal(refused({ MCP_TRUST_PROXY: 'yes' }), 'MCP_TRUST_PROXY must be true or false')
  t.equal(loadConfig({ MCP_TRUST_PROXY: 'true' }).trustProxy, true)
  t.match(refused({ JWT_ALGORITHM: 'RS256' }), /^MCP_JWT_PUBLIC_KEY is required/)
})

test('production refuses missing, short and default secrets', async (t) => {
  t.match(refused({ NODE_ENV: 'production' }), /^MCP_JWT_SECRET_KEY must be set in production/)
  t.match(refused({ NODE_ENV: 'production', MCP_JWT_SECRET_KEY: 'short' }), /at least 32 bytes/)
  t.match(refused({ NODE_ENV: 'production', JWT_SECRET_KEY: 'default_secret' }), /^JWT_SECRET_KEY must not be a default/)
  t.equal(loadConfig({ NODE_ENV: 'production', MCP_JWT_SECRET_KEY: 'x'.repeat(32) }).jwt.secret, 'x'.repeat(32))
})

test('outside production a missing secret becomes a random one, flagged as generated', async (t) => {
  const a = loadConfig({})
  const b = loadConfig({})
  t.equal(a.jwt.secretGenerated, true)
  t.ok((a.jwt.secret ?? '').length >= 32)
  t.not(a.jwt.secret, b.jwt.secret)
})

test('security settings: idempotency TTL and cap, revocation cap', async (t) => {
  const defaults = loadConfig({})
  t.same([defaults.idempotencyTtlMs, defaults.idempotencyMaxKeys, defaults.maxRevocations], [600_000, 10000, 1000])
  const set = loadConfig({ MCP_IDEMPOTENCY_TTL: '30', MCP_IDEMPOTENCY_MAX_KEYS: '5', MCP_MAX_REVOCATIONS: '7' })
  t.same([set.idempotencyTtlMs, set.idempotencyMaxKeys, set.maxRevocations], [30_000, 5, 7])
  t.throws(() => loadConfig({ MCP_IDEMPOTENCY_TTL: '0' }), /^MCP_IDEMPOTENCY_TTL must be an integer from 1 to 604800$/)
  t.throws(() => loadConfig({ MCP_MAX_REVOCATIONS: 'many' }), /^MCP_MAX_REVOCATIONS must be an integer/)
})

test('Redis Cluster and durable acks: MCP_REDIS_CLUSTER_NODES, MCP_REDIS_WAIT_REPLICAS', async (t) => {
  const defaults = loadConfig({})
  t.same(defaults.redisTarget, { url: 'redis://127.0.0.1:6379' }, 'one endpoint unless a cluster is named')
  t.same([defaults.redisWaitReplicas, defaults.redisWaitTimeoutMs], [0, 1000])
  const set = loadConfig({
    MCP_STORE: 'redis', MCP_REDIS_CLUSTER_NODES: ' 10.0.0.1:6379, cache.example.com:7000,[::1]:6380 ', MCP_REDIS_WAIT_REPLICAS: '1', MCP_REDIS_WAIT_TIMEOUT: '250'
  })
  t.same(set.redisTarget, { cluster: [{ host: '10.0.0.1', port: 6379 }, { host: 'cache.example.com', port: 7000 }, { host: '::1', port: 6380 }] })
  t.same([set.redisWaitReplicas, set.redisWaitTimeoutMs], [1, 250])
  t.throws(() => loadConfig({ MCP_STORE: 'redis', MCP_REDIS_CLUSTER_NODES: '10.0.0.1:6379,10.0.0.2' }),
    /^MCP_REDIS_CLUSTER_NODES must be host:port pairs separated by commas \("10\.0\.0\.2" is not one\)$/)
  t.throws(() => loadConfig({ MCP_STORE: 'redis', MCP_REDIS_CLUSTER_NODES: 'a:0' }), /^MCP_REDIS_CLUSTER_NODES must be host:port/)
  t.throws(() => loadConfig({ MCP_STORE: 'redis', MCP_REDIS_CLUSTER_NODES: ' , ' }), /^MCP_REDIS_CLUSTER_NODES must name at least one host:port$/)
  t.throws(() => loadConfig({ MCP_REDIS_CLUSTER_NODES: '10.0.0.1:6379' }), /^MCP_REDIS_CLUSTER_NODES needs MCP_STORE=redis$/)
  t.throws(() => loadConfig({ MCP_REDIS_WAIT_REPLICAS: '-1' }), /^MCP_REDIS_WAIT_REPLICAS must be an integer from 0 to 16$/)
})
