// Redis for tests: the shared Redis at REDIS_URL (each test run under its own key prefix, cleaned
// afterwards), a private redis-server a test can stop and start, and a TCP proxy that can cut a
// client off from Redis (a network partition) while others keep talking to it.
//
// Without a Redis answering, the Redis tests skip loudly outside CI and fail in CI.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { test, type Test } from 'tap'

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

/** Whether a Redis answers PING at `url` within a second. */
export async function redisAnswers (url = REDIS_URL): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: 1000, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

const available = await redisAnswers()
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'
const skipReason = available ? false : `no Redis answers at ${REDIS_URL}: Redis tests SKIPPED (start redis-server or set REDIS_URL)`
if (!available && !inCi) process.stderr.write(`\n*** ${skipReason as string} ***\n\n`)
if (!available && inCi) {
  test('Redis answers (required in CI)', async (t) => { t.fail(`no Redis answers at ${REDIS_URL}; the Redis tests never skip in CI`) })
}

/** A tap test that needs the shared Redis: skipped loudly without one outside CI, failed in CI. */
export function redisTest (name: string, fn: (t: Test) => Promise<void>): void {
  if (!available && inCi) return // the failing test above reports it once
  test(name, { skip: skipReason }, fn)
}

/** A key prefix no other test run uses; its keys are deleted at teardown. */
export function uniquePrefix (t: Test, url = REDIS_URL): string {
  const prefix = `test-${process.pid}-${randomUUID().slice(0, 8)}`
  t.teardown(() => deletePrefix(prefix, url))
  return prefix
}

/** Deletes every key of the store under `prefix` (tenant keys and the tenant set). */
export async function deletePrefix (prefix: string, url = REDIS_URL): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    for (const pattern of [`{${prefix}:*`, `${prefix}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        if (keys.length > 0) await client.del(...keys)
        cursor = next
      } while (cursor !== '0')
    }
  } catch {
    // A private Redis already stopped: nothing to clean.
  } finally {
    client.disconnect()
  }
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/**
 * A redis-server of the test's own on a free port, with an append-only file synced on every
 * write, so stopping and starting it keeps every acknowledged write (as Redis persistence would
 * in production). Stopped at teardown.
 */
export async function privateRedis (t: Test) {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'ctx-redis-'))
  let child: ChildProcess | undefined
  const url = `redis://127.0.0.1:${port}`
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir], { stdio: 'ignore' })
    for (let i = 0; i < 100 && !(await redisAnswers(url)); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    if (!(await redisAnswers(url))) throw new Error(`redis-server on port ${port} did not start`)
  }
  const stop = async () => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGTERM') // redis-server fsyncs its append-only file and exits
    await exited
  }
  /** Kills the server with SIGKILL (no shutdown, no final fsync): what the append-only file holds is what survives. */
  const kill = async () => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  /** Deletes what the stopped server persisted, so the next start is empty (a Redis without persistence). */
  const wipe = () => {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir)
  }
  await start()
  t.teardown(async () => { await stop(); rmSync(dir, { recursive: true, force: true }) })
  return { url, port, start, stop, kill, wipe }
}

/**
 * A TCP proxy to Redis that a test can cut (every connection through it is dropped and new ones
 * are refused) and restore: a network partition between one instance and Redis.
 */
export async function partitionableProxy (t: Test, targetUrl = REDIS_URL) {
  const target = new URL(targetUrl)
  const sockets = new Set<Socket>()
  let open = true
  const server = createServer((client) => {
    if (!open) { client.destroy(); return }
    const upstream = connect(Number(target.port || 6379), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream).pipe(client)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    cut () {
      open = false
      for (const socket of sockets) socket.destroy()
    },
    restore () { open = true }
  }
}

/** Polls `check` until it holds (or fails the wait after `timeoutMs`): for eventual delivery. */
export async function eventually (check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
