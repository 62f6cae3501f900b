// The searchable text of an entry's content: every string, number and boolean value, and every
// object key (keys are often the topic: `{"quiz": {...}}`). Numbers count because tasks name them
// ("lesson 3"); camelCase keys count as their words. Walked iteratively: the store already bounds nesting (MCP_MAX_DEPTH), but no
// recursion means no stack to think about.
import { keyWords } from './terms.js'

/** The words of `content` joined by spaces, in document order. */
export function contentText (content: unknown): string {
  const parts: string[] = []
  const stack: unknown[] = [content]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value === 'string') parts.push(value)
    else if (typeof value === 'number' || typeof value === 'boolean') parts.push(String(value))
    else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i])
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value)
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push(entries[i][1])
        stack.push(keyWords(entries[i][0]))
      }
    }
  }
  return parts.join(' ')
}
