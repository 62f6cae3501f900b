// Random store operations for the property tests (memory and Redis backends run the same ones
// against the naive reference), and the js-tiktoken oracle they count tokens with.
import fc from 'fast-check'
import { getEncoding } from 'js-tiktoken'

const oracle = getEncoding('o200k_base')

/** Tokens of JSON.stringify(content) as js-tiktoken counts them: the oracle. */
export const oracleCount = (content: unknown) => oracle.encode(JSON.stringify(content), [], []).length

// Keys include __proto__ and constructor; words include special-token text, unicode and JSON quoting.
const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '__proto__', 'constructor')
const priority = fc.integer({ min: 1, max: 10 })
const words = fc.array(fc.constantFrom('alpha', 'beta', 'gamma', 'δέλτα', '🎉', '<|endoftext|>', '42', 'a/b', '"q"'), { maxLength: 40 })

export const storeOperation = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), key, priority, words }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('writeGenerated' as const), priority, words }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('priority' as const), key, priority }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clearSource' as const), prefix: fc.constantFrom('s1', 's2') }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('query' as const), budget: fc.integer({ min: 0, max: 120 }), minPriority: priority }) }
)
