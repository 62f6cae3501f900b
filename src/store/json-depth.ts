// Nesting depth of a JSON value. The object itself is depth 1; each nested object or array adds
// one. The check runs on every write, so the passing case allocates nothing: it recurses at most
// `maxDepth + 1` levels (the limit bounds the stack, whatever the input) and builds the path of
// the offending value only when there is one.

function exceeds (value: object, depth: number, maxDepth: number): boolean {
  if (depth > maxDepth) return true
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const child = value[i]
      if (child !== null && typeof child === 'object' && exceeds(child, depth + 1, maxDepth)) return true
    }
    return false
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const child = (value as Record<string, unknown>)[key]
    if (child !== null && typeof child === 'object' && exceeds(child, depth + 1, maxDepth)) return true
  }
  return false
}

/** The dotted path of the first container nested deeper than `maxDepth` ('' for the root). */
function pathTooDeep (value: object, depth: number, maxDepth: number, path: string): string | undefined {
  if (depth > maxDepth) return path
  for (const [key, child] of Object.entries(value)) {
    if (child === null || typeof child !== 'object') continue
    const found = pathTooDeep(child, depth + 1, maxDepth, path === '' ? key : `${path}.${key}`)
    if (found !== undefined) return found
  }
  return undefined
}

/** The path of the first container nested deeper than `maxDepth`, or undefined. */
export function findTooDeep (value: unknown, maxDepth: number): string | undefined {
  if (value === null || typeof value !== 'object') return undefined
  if (!exceeds(value, 1, maxDepth)) return undefined
  return pathTooDeep(value, 1, maxDepth, '')
}
