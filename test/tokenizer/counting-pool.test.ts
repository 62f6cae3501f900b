// The counting pool: worker threads count exactly what the main thread counts (js-tiktoken's
// counts), small texts stay inline, and a full queue refuses with rate_limited.
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
