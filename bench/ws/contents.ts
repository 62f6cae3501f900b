// The realistic contents of bench:ws's `content` scenario: entries of English prose and of JSON
// tool output, alternating, each different, at about one size. The load generator writes them and
// the app server times its own token counter on the same values, so the two figures compare.
import { prose, toolOutput } from '../prose.js'

/** How many different contents one run cycles through (varied, so no cache sees one text only). */
export const CONTENT_VARIANTS = 32

/** The contents for `bytes` (about that many bytes of JSON each), the same in every process. */
export function realisticContents (bytes: number): Array<Record<string, unknown>> {
  return Array.from({ length: CONTENT_VARIANTS }, (_, i) => i % 2 === 0
    ? { kind: 'notes', agent: `agent_${i % 5}`, text: prose(bytes - 60, 101 + i) }
    : toolOutput(bytes, 211 + i))
}
