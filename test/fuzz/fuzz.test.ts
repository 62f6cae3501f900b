// A short fuzz run as part of `npm test` (FUZZ_RUNS frames, default 3000, and a fifth as many REST
// requests): every frame is answered or closes the connection with a listed code, nothing
// unhandled, Object.prototype untouched, the budget invariant after every step. `npm run fuzz` runs
// 100,000 frames.
import { test } from 'tap'
import { runFuzz } from './fuzz-run.js'

const frames = Number(process.env.FUZZ_RUNS ?? 3000)

test(`fuzz: ${frames} frames over every message type and ${Math.ceil(frames / 5)} REST requests keep every invariant`, async (t) => {
  const report = await runFuzz({ frames, restRequests: Math.ceil(frames / 5) })
  t.equal(report.framesSent, frames)
  t.equal(report.restSent, Math.ceil(frames / 5))
  const kinds = [...report.counts.keys()].filter((name) => name.startsWith('kind message:'))
  t.ok(kinds.length >= 10, `frames of ${kinds.length} message types were sent`)
  t.ok((report.counts.get('reply update_ack') ?? 0) > 0, 'some writes were applied')
  t.ok((report.counts.get('reply update_ack (evicting)') ?? 0) > 0, 'some of them evicting')
  t.ok([...report.counts.keys()].some((name) => name.startsWith('error validation_error')), 'and some refused')
})
