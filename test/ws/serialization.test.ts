// The write ack assembled by hand (ackFrame) is byte for byte the generic reply it replaced.
import fc from 'fast-check'
import { test } from 'tap'
import { ackFrame, replyFrame } from '../../src/ws/serialization.js'
import { replayedMark } from '../../src/store/idempotency.js'
import type { WriteResult } from '../../src/store/types.js'

test('ackFrame is replyFrame(update_ack) with the write result', async (t) => {
  const result = fc.record({
    key: fc.string({ unit: 'binary', maxLength: 20 }),
    tokens: fc.nat(),
    version: fc.nat(),
    seq: fc.nat(),
    epoch: fc.string({ maxLength: 20 }),
    evicted: fc.array(fc.string({ unit: 'binary', maxLength: 8 }), { maxLength: 3 }),
    stored: fc.boolean(),
    replayed: fc.option(fc.constant(true as const), { nil: undefined })
  })
  const id = fc.option(fc.oneof(fc.string({ maxLength: 64 }), fc.integer()), { nil: undefined })
  fc.assert(fc.property(id, result, (id, result) => {
    const { replayed, ...rest } = result
    const written: WriteResult = replayed === undefined ? rest : { ...rest, replayed }
    const expected = replyFrame('update_ack', id, {
      status: 'success',
      key: written.key,
      tokens: written.tokens,
      version: written.version,
      seq: written.seq,
      epoch: written.epoch,
      evicted: written.evicted,
      stored: written.stored,
      ...replayedMark(written)
    })
    return ackFrame(id, written) === expected
  }), { numRuns: 5000 })
  t.pass('5,000 results')
})
