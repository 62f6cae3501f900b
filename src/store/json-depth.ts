// Nesting depth of a JSON value, checked without recursion so hostile input cannot overflow the
// stack. The object itself is depth 1; each nested object or array adds one.

/** The path of the first container nested deeper than `maxDepth`, or undefined. */
export function findTooDeep (value: unknown, maxDepth: number): string | undefined {
  const stack: Array<{ value: unknown, depth: number, path: string }> = [{ value, depth: 1, path: '' }]
  while (stack.length > 0) {
    const { value: current, depth, path } = stack.pop() as { value: unknown, depth: number, path: string }
    if (current === null || typeof current !== 'object') continue
    if (depth > maxDepth) return path
    for (const [k, child] of Object.entries(current)) {
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1, path: path === '' ? k : `${path}.${k}` })
    }
  }
  return undefined
}
