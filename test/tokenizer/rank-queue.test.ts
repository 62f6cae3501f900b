// The rank queue yields (rank, position) pairs in exactly the order of one sorted list: lowest
// rank first, leftmost position within a rank, whatever order they were pushed in.
import { test } from 'tap'
import fc from 'fast-check'
import { RankQueue } from '../../src/tokenizer/rank-queue.js'

const RANKS = 16

type Step = { push: [number, number] } | { pop: true }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: RANKS - 1 }), fc.integer({ min: 0, max: 200 })).map((push) => ({ push })) },
  // Pushes in increasing order within a rank, the common case that keeps a bucket a plain queue.
  { weight: 2, arbitrary: fc.integer({ min: 0, max: RANKS - 1 }).map((rank) => ({ push: [rank, -1] as [number, number] })) },
  { weight: 2, arbitrary: fc.constant({ pop: true as const }) }
)

test('pops follow (rank, position) order under any mix of pushes and pops', async (t) => {
  fc.assert(fc.property(fc.array(step, { maxLength: 400 }), (steps) => {
    const slots = new Int32Array(RANKS).fill(-1)
    const queue = new RankQueue(slots)
    const reference: Array<[number, number]> = []
    const next = new Array<number>(RANKS).fill(0)
    const drain = (limit: number): boolean => {
      for (let k = 0; k < limit && reference.length > 0; k++) {
        reference.sort((a, b) => a[0] - b[0] || a[1] - b[1])
        const [rank, position] = reference.shift() as [number, number]
        if (queue.lowestRank() !== rank || queue.popLeftmost(rank) !== position) return false
      }
      return true
    }
    for (const s of steps) {
      if ('pop' in s) {
        if (!drain(1)) return false
        continue
      }
      const [rank, given] = s.push
      const position = given < 0 ? (next[rank] += 1 + (rank % 3)) : given
      queue.push(rank, position)
      reference.push([rank, position])
    }
    if (!drain(Infinity) || queue.lowestRank() !== -1) return false
    queue.release()
    return slots.every((slot) => slot === -1)
  }), { numRuns: 2000 })
  t.pass('2000 sequences in order')
})
