// A counting pool's worker thread: counts one text with exactly the main thread's code.
import { countTokens } from './count-tokens.js'
import { rankTable, type TokenEncoding } from './rank-table.js'

export interface CountTask {
  text: string
  encoding: TokenEncoding
}

/** Piscina calls the default export once per task. */
export default function count ({ text, encoding }: CountTask): number {
  return countTokens(rankTable(encoding), text)
}
