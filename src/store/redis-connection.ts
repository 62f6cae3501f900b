// Where the Redis backend connects: one endpoint (REDIS_URL) or a Redis Cluster
// (MCP_REDIS_CLUSTER_NODES, ioredis's Cluster client, which follows MOVED/ASK redirections and
// failovers by itself). Every connection the server opens to Redis (store, subscribers,
// revocations, rate limits) goes through `openRedis`, so one switch selects the mode everywhere.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

export interface RedisNode { host: string, port: number }

/** One endpoint, or the seed nodes of a cluster (any few of its nodes; the rest are discovered). */
export type RedisTarget = { readonly url: string } | { readonly cluster: readonly RedisNode[] }

/** Either client: they share the command interface the backend uses. */
export type RedisClient = Redis | Cluster

/**
 * Parses `host:port,host:port,...` (MCP_REDIS_CLUSTER_NODES). Returns the nodes, or a sentence
 * saying what is wrong with the first bad item.
 */
export function parseClusterNodes (text: string): RedisNode[] | string {
  const nodes: RedisNode[] = []
  for (const item of text.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(item)
    const port = match === null ? NaN : Number(match[2])
    if (match === null || port < 1 || port > 65535) return `must be host:port pairs separated by commas ("${item}" is not one)`
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port })
  }
  if (nodes.length === 0) return 'must name at least one host:port'
  return nodes
}

/** The target as operators wrote it, for log lines and errors (no credentials: URLs lose theirs). */
export function describeTarget (target: RedisTarget): string {
  if ('url' in target) return `Redis at ${new URL(target.url).host} (REDIS_URL)`
  return `Redis Cluster at ${target.cluster.map((node) => `${node.host}:${node.port}`).join(',')} (MCP_REDIS_CLUSTER_NODES)`
}

export interface OpenOptions {
  /** A cluster client that can SSUBSCRIBE (one connection per shard that holds a channel). */
  sharded?: boolean
  /** Commands are not queued while the cluster is (re)discovering: they fail at once. */
  offlineQueue?: boolean
}

/**
 * Opens a client to `target` with `options` for each connection. On a cluster, commands go to
 * the primary of their key's slot; redirections are followed up to 16 times.
 */
export function openRedis (target: RedisTarget, options: RedisOptions, open: OpenOptions = {}): RedisClient {
  if ('url' in target) return new Redis(target.url, options)
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...redisOptions } = options
  const clusterOptions: ClusterOptions = {
    lazyConnect,
    enableOfflineQueue: open.offlineQueue ?? enableOfflineQueue ?? true,
    redisOptions,
    shardedSubscribers: open.sharded === true,
    // Reconnects to the cluster as a whole follow the same back-off as a single endpoint.
    clusterRetryStrategy: (attempt) => retryStrategy?.(attempt) ?? Math.min(attempt * 100, 1000),
    // During a failover the slot has no primary for a moment: retry redirections briefly.
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    retryDelayOnMoved: 0,
    // A slot being migrated answers TRYAGAIN to a script until all the tenant's keys moved.
    maxRedirections: 32,
    slotsRefreshTimeout: 2000
  }
  return new Cluster(target.cluster.map((node) => ({ ...node })), clusterOptions)
}
