// A real Redis Cluster for tests: three primaries and three replicas (redis-server
// --cluster-enabled yes, joined by redis-cli --cluster create), on loopback ports chosen at run
// time, in a temporary directory, stopped at teardown. Nodes can be killed and restarted to
// test failover. Needs only the redis-server and redis-cli binaries.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { redisAnswers } from './redis.js'

export interface ClusterNode {
  readonly port: number
  /** Whether the process is running. */
  running (): boolean
  stop (signal?: NodeJS.Signals): Promise<void>
  start (): Promise<void>
}

export interface TestCluster {
  readonly nodes: readonly ClusterNode[]
  /** host:port,host:port,... for MCP_REDIS_CLUSTER_NODES. */
  readonly seeds: string
  /** The node serving `slot` as primary right now. */
  primaryOf (slot: number): Promise<ClusterNode>
  /** Waits until every running node reports cluster_state:ok. */
  waitHealthy (timeoutMs?: number): Promise<void>
  /** Waits until a node other than `formerPort` is primary for `slot` (a failover happened). */
  waitFailover (slot: number, formerPort: number, timeoutMs?: number): Promise<ClusterNode>
  /** Resolves once every replica has finished its first sync with its primary. */
  waitReplicasSynced (timeoutMs?: number): Promise<void>
}

async function portFree (port: number): Promise<boolean> {
  const server = createServer()
  return await new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

// A cluster node also listens on port + 10000 (the cluster bus), so both must be free.
async function freeNodePorts (count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 20000)
    const ports = Array.from({ length: count }, (_, i) => base + i)
    const free = await Promise.all(ports.flatMap((port) => [portFree(port), portFree(port + 10000)]))
    if (free.every(Boolean)) return ports
  }
  throw new Error('no free range of loopback ports for a Redis Cluster')
}

const answers = async (port: number): Promise<boolean> => await redisAnswers(`redis://127.0.0.1:${port}`)

async function clusterInfo (port: number): Promise<string> {
  return await askNode(port, async (client) => await client.cluster('INFO') as string)
}

/** INFO replication of a node, or '' when it does not answer. */
async function replicationInfo (port: number): Promise<string> {
  return await askNode(port, async (client) => await client.info('replication'))
}

async function askNode (port: number, ask: (client: Redis) => Promise<string>): Promise<string> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 500 })
  client.on('error', () => {})
  try {
    await client.connect()
    return await ask(client)
  } catch {
    return ''
  } finally {
    client.disconnect()
  }
}

/** A replica done with its first sync: linked to its primary and not loading a snapshot. */
const synced = (info: string) => info.includes('master_link_status:up') && info.includes('master_sync_in_progress:0')

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

/** Starts a 3-primary, 3-replica cluster (every write is replicated: WAIT 1 can succeed). */
export async function startRedisCluster (t: Test, options: { primaries?: number, replicasPerPrimary?: number } = {}): Promise<TestCluster> {
  const primaries = options.primaries ?? 3
  const replicas = options.replicasPerPrimary ?? 1
  const ports = await freeNodePorts(primaries * (1 + replicas))
  const dir = mkdtempSync(join(tmpdir(), 'ctx-cluster-'))
  const nodes: ClusterNode[] = ports.map((port) => {
    let child: ChildProcess | undefined
    const node: ClusterNode = {
      port,
      running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
      async start () {
        child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000', '--cluster-replica-validity-factor', '0', '--save', '',
          // A snapshot file of its own: a replica's first sync writes the snapshot it received
          // there and loads it back, and with one shared dump.rdb replicas loaded each other's
          // (an acknowledged write then missing after a failover, seen in CI).
          '--dbfilename', `dump-${port}.rdb`,
          '--appendonly', 'yes', '--appendfsync', 'always', '--appendfilename', `aof-${port}.aof`,
          '--appenddirname', `aof-${port}`, '--dir', dir], { stdio: 'ignore' })
        for (let i = 0; i < 100 && !(await answers(port)); i++) await sleep(50)
        if (!(await answers(port))) throw new Error(`cluster node on port ${port} did not start`)
      },
      async stop (signal = 'SIGTERM') {
        if (!node.running() || child === undefined) return
        const exited = once(child, 'exit')
        child.kill(signal)
        await exited
      }
    }
    return node
  })
  t.teardown(async () => {
    await Promise.all(nodes.map(async (node) => await node.stop('SIGKILL')))
    rmSync(dir, { recursive: true, force: true })
  })
  await Promise.all(nodes.map(async (node) => await node.start()))
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`),
    '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}\n${created.stderr}`)

  const cluster: TestCluster = {
    nodes,
    seeds: ports.map((port) => `127.0.0.1:${port}`).join(','),
    async primaryOf (slot) {
      for (const node of nodes) {
        if (!node.running()) continue
        const client = new Redis({ port: node.port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
        client.on('error', () => {})
        try {
          await client.connect()
          const slots = await client.cluster('SLOTS')
          const range = slots.find(([from, to]) => slot >= from && slot <= to)
          const owner = range === undefined ? undefined : nodes.find((candidate) => candidate.port === Number(range[2]?.[1]))
          if (owner !== undefined) return owner
        } catch { /* ask the next node */ } finally {
          client.disconnect()
        }
      }
      throw new Error(`no running node knows the primary of slot ${slot}`)
    },
    async waitHealthy (timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const infos = await Promise.all(nodes.filter((node) => node.running()).map(async (node) => await clusterInfo(node.port)))
        if (infos.length > 0 && infos.every((info) => info.includes('cluster_state:ok'))) return
        await sleep(100)
      }
      throw new Error(`the Redis Cluster on ports ${ports.join(', ')} did not report cluster_state:ok within ${timeoutMs} ms`)
    },
    async waitReplicasSynced (timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const infos = await Promise.all(nodes.filter((node) => node.running()).map(async (node) => await replicationInfo(node.port)))
        const linked = infos.filter((info) => info.includes('role:slave'))
        if (linked.length === primaries * replicas && linked.every(synced)) return
        await sleep(100)
      }
      throw new Error(`the replicas of the Redis Cluster on ports ${ports.join(', ')} did not finish their first sync within ${timeoutMs} ms`)
    },
    async waitFailover (slot, formerPort, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (Date.now() < deadline) {
        const primary = await cluster.primaryOf(slot).catch(() => undefined)
        if (primary !== undefined && primary.port !== formerPort && primary.running()) {
          await cluster.waitHealthy(Math.max(1000, deadline - Date.now()))
          return primary
        }
        await sleep(100)
      }
      throw new Error(`no replica took over slot ${slot} from port ${formerPort} within ${timeoutMs} ms`)
    }
  }
  await cluster.waitHealthy()
  // Writes made while a replica still loads its first snapshot are in that snapshot; a test that
  // kills a primary right after relies on its replica holding them.
  await cluster.waitReplicasSynced()
  return cluster
}
