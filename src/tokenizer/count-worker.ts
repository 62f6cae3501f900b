// A counting pool's worker thread: counts one text with exactly the main thread's code, or
// prepares one large WebSocket frame (src/ws/frame-preparation.ts) with exactly the main thread's
// parse, validation, depth check, serialization and count.
import { countTokens } from './count-tokens.js'
import { rankTable, type TokenEncoding } from './rank-table.js'
import type { FramePreparation, FrameTask } from '../ws/frame-preparation.js'

export interface CountTask {
  text: string
  encoding: TokenEncoding
}

/** Piscina calls the default export once per task. */
export default function count ({ text, encoding }: CountTask): number {
  return countTokens(rankTable(encoding), text)
}

// The frame code (zod schemas and all) loads with the first frame task, so a thread that only
// counts starts as fast as before.
let frameModule: Promise<typeof import('../ws/frame-preparation.js')> | undefined

/** The `frame` task (piscina's `name` option). */
export async function frame (task: FrameTask): Promise<FramePreparation> {
  frameModule ??= import('../ws/frame-preparation.js')
  const { prepareFrame } = await frameModule
  return prepareFrame(task, (text) => countTokens(rankTable(task.encoding), text))
}
