// The official TypeScript client (clients/typescript) for tests: made with the `ws` class and
// short reconnect delays, closed at teardown, plus waits on its events and state that each carry
// their own deadline and say what they waited for. Tests import the client's source, so they run
// without a build; test/clients/package.test.ts checks the built package itself.
import type { Test } from 'tap'
import { WebSocket } from 'ws'
import { ContextClient, type ClientEvents, type ContextClientOptions, type Entry } from '../../clients/typescript/src/index.js'

const SAFETY_TIMEOUT_MS = 15_000

/** A client against `url`, closed at teardown. Reconnects fast (tests restart servers). */
export function testClient (t: Test, options: Partial<ContextClientOptions> & Pick<ContextClientOptions, 'url' | 'token'>): ContextClient {
  const client = new ContextClient({
    WebSocket: WebSocket as unknown as ContextClientOptions['WebSocket'],
    reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
    ...options
  })
  t.teardown(() => client.close())
  return client
}

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
export async function until (check: () => boolean | Promise<boolean>, what: string, timeoutMs = SAFETY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The next event of a kind (matching `predicate`), or a failure after `timeoutMs`. */
export async function nextEvent<K extends keyof ClientEvents> (
  client: ContextClient, event: K, predicate: (payload: ClientEvents[K]) => boolean = () => true, timeoutMs = SAFETY_TIMEOUT_MS
): Promise<ClientEvents[K]> {
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no '${String(event)}' event within ${timeoutMs} ms`)) }, timeoutMs)
    const off = client.on(event, (payload) => {
      if (!predicate(payload)) return
      clearTimeout(timer)
      off()
      resolve(payload)
    })
  })
}

/**
 * Entries as [key, entry] pairs sorted by key, for exact comparison of a mirror with a REST read
 * (pairs, not an object, so a key like `__proto__` stays an ordinary key).
 */
export function sortedEntries (entries: ReadonlyMap<string, Entry> | Record<string, unknown>): Array<[string, unknown]> {
  const pairs: Array<[string, unknown]> = entries instanceof Map ? [...entries] : Object.entries(entries)
  return pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}
