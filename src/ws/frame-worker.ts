// A counting pool's worker thread, for a large frame (large-frame.ts): prepares it with exactly
// the main thread's parse, validation, depth check, serialization and count. A module of its own,
// loaded by a thread with its first frame, so a thread that only counts starts as fast as before.
import { countTokens } from '../tokenizer/count-tokens.js'
import { rankTable } from '../tokenizer/rank-table.js'
import { prepareFrame, type FramePreparation, type FrameTask } from './frame-preparation.js'

/** Piscina calls the default export once per task. */
export default function prepare (task: FrameTask): FramePreparation {
  return prepareFrame(task, (text) => countTokens(rankTable(task.encoding), text))
}
