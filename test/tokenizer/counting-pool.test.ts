// The counting pool: worker threads count exactly what the main thread counts (js-tiktoken's
// counts), small texts stay inline, and a full queue refuses with rate_limited.
import { readdirSync, readFileSync } from 'node:fs'
import { test } from 'tap'
import { getEncoding } from 'js-tiktoken'
import { TOKEN_ENCODINGS } from '../../src/config.js'
import { ContextError } from '../../src/errors.js'
import { tokenCounter } from '../../src/token-counter.js'
import { TokenCountingPool } from '../../src/tokenizer/counting-pool.js'
import { prose } from '../../bench/prose.js'

// Large enough to go to a thread, short enough pieces for js-tiktoken to check in good time.
const SAMPLES = [
  JSON.stringify({ note: prose(40_000) }),
  JSON.stringify({ runs: ['a'.repeat(1500), '='.repeat(1500), ' '.repeat(1500), '7'.repeat(900), '\n'.repeat(1000)], unicode: 'ünïcödé 中文 🎉👩‍👩‍👧 '.repeat(300) }),
  JSON.stringify(Array.from({ length: 600 }, (_, i) => ({ id: i, agent: `agent_${i % 7}`, text: `<|endoftext|> step ${i}` })))
]

for (const encoding of TOKEN_ENCODINGS) {
  test(`${encoding}: a worker thread counts what js-tiktoken and the inline counter count`, async (t) => {
    const pool = new TokenCountingPool({ encoding, threads: 1, inlineBelow: 1024, maxQueue: 8 })
    t.teardown(() => pool.close())
    const oracle = getEncoding(encoding)
    const inline = tokenCounter(encoding)
    for (const text of SAMPLES) {
      const counted = pool.count(text)
      t.ok(counted instanceof Promise, 'a text over the threshold goes to a thread')
      const expected = oracle.encode(text, [], []).length
      t.equal(await counted, expected, `${text.length} characters`)
      t.equal(inline(text), expected)
    }
  })
}

test('below the threshold, or with no threads, the count is inline and synchronous', async (t) => {
  const small = new TokenCountingPool({ encoding: 'o200k_base', threads: 1, inlineBelow: 1024, maxQueue: 8 })
  const none = new TokenCountingPool({ encoding: 'o200k_base', threads: 0, inlineBelow: 1024, maxQueue: 8 })
  t.teardown(async () => { await small.close(); await none.close() })
  const expected = tokenCounter('o200k_base')(SAMPLES[0])
  t.equal(small.count('{"a":"hello world"}'), tokenCounter('o200k_base')('{"a":"hello world"}'))
  t.equal(none.threaded, false)
  t.equal(none.count(SAMPLES[0]), expected, 'MCP_TOKENIZER_THREADS=0 counts even large texts inline')
})

test('a full queue refuses with rate_limited, and the pool goes on', async (t) => {
  const pool = new TokenCountingPool({ encoding: 'o200k_base', threads: 1, inlineBelow: 1024, maxQueue: 1 })
  t.teardown(() => pool.close())
  const counts = [pool.count(SAMPLES[0]), pool.count(SAMPLES[0]), pool.count(SAMPLES[0])]
  const outcomes = await Promise.allSettled(counts)
  t.same(outcomes.map((o) => o.status), ['fulfilled', 'fulfilled', 'rejected'], 'one running, one queued, the third refused')
  const refusal = (outcomes[2] as PromiseRejectedResult).reason as ContextError
  t.ok(refusal instanceof ContextError)
  t.equal(refusal.code, 'rate_limited')
  t.match(refusal.details, { retry_after_ms: Number })
  t.equal(await pool.count(SAMPLES[0]), tokenCounter('o200k_base')(SAMPLES[0]), 'counts again once the queue has room')
})

/** Nice values of this process's threads, by thread id (Linux: /proc/self/task/<tid>/stat, field 19). */
function threadNiceValues (): Map<number, number> {
  const values = new Map<number, number>()
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    values.set(Number(tid), Number(fields[16]))
  }
  return values
}

test('the counting threads run at the nice increment they are given, the event loop does not', { skip: process.platform !== 'linux' && 'nice values are read from /proc' }, async (t) => {
  const before = threadNiceValues()
  const pool = new TokenCountingPool({ encoding: 'o200k_base', threads: 1, inlineBelow: 1024, maxQueue: 8, nice: 7 })
  t.teardown(() => pool.close())
  t.equal(await pool.count(SAMPLES[0]), tokenCounter('o200k_base')(SAMPLES[0]), 'the niced thread counts as the event loop does')
  const after = threadNiceValues()
  // The counting thread (and, under tsx, its module loader's thread) are new and at 7; other
  // threads may start meanwhile (V8's, libuv's) at the process's priority.
  t.notOk([...before.values()].includes(7), 'no thread ran at 7 before')
  const started = [...after].filter(([tid]) => !before.has(tid))
  t.ok(started.some(([, nice]) => nice === 7), `a thread the pool started runs at nice 7 (${JSON.stringify(started)})`)
  t.equal(after.get(process.pid), 0, 'the event loop runs at the process\'s priority')
  t.ok([...before].every(([tid, nice]) => after.get(tid) === undefined || after.get(tid) === nice), 'the event loop and the other threads keep their priority')
})

test('counts whose thread fails are done all the same: the running one here, the queued ones by a new thread', async (t) => {
  const pool = new TokenCountingPool({ encoding: 'o200k_base', threads: 1, inlineBelow: 1024, maxQueue: 8 })
  t.teardown(() => pool.close())
  await pool.count(SAMPLES[0]) // the thread is up
  const texts = [900_000, 300_000, 200_000].map((size, i) => JSON.stringify({ note: prose(size, i + 1) }))
  const counts = texts.map(async (text) => await pool.count(text))
  // Internals reached on purpose: the fault is the real thread terminated while it counts, with
  // the other counts queued behind it.
  await Promise.all((pool as unknown as { pool: { threads: Array<{ terminate: () => Promise<number> }> } }).pool.threads.map(async (thread) => await thread.terminate()))
  const count = tokenCounter('o200k_base')
  // Which task the thread held when it died (a count, or the frame code's warm-up) varies; none
  // may be lost or left waiting.
  t.same(await Promise.all(counts), texts.map((text) => count(text)), 'the exact counts all the same')
})
