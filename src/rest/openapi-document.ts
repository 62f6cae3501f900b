// Pure helpers for the OpenAPI document: trimming what no route uses, and the one YAML rendering
// shared by `npm run openapi` and the test that compares it with the committed openapi.yaml.
import { stringify } from 'yaml'

const REF_PREFIX = '#/components/schemas/'

/**
 * Drops component schemas that nothing refers to. The zod provider lists every schema with an id
 * twice (as input and as output) and any id another module registers; only the ones the routes
 * use belong in the document.
 */
export function withoutUnusedSchemas<T extends object> (document: T): T {
  const { components, ...rest } = document as { components?: { schemas?: Record<string, unknown> } }
  const schemas = components?.schemas
  if (schemas === undefined) return document
  const used = new Set<string>()
  const pending = referencesIn(rest)
  while (pending.length > 0) {
    const name = pending.pop() as string
    if (used.has(name) || !Object.hasOwn(schemas, name)) continue
    used.add(name)
    pending.push(...referencesIn(schemas[name]))
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)))
  return { ...document, components: { ...components, schemas: kept } }
}

function referencesIn (value: unknown): string[] {
  const found: string[] = []
  const stack = [value]
  while (stack.length > 0) {
    const current = stack.pop()
    if (current === null || typeof current !== 'object') continue
    for (const [key, child] of Object.entries(current)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(REF_PREFIX)) found.push(child.slice(REF_PREFIX.length))
      else stack.push(child)
    }
  }
  return found
}

/** The document as YAML, in one fixed style, so the same document always gives the same text. */
export function openApiYaml (document: unknown): string {
  // lineWidth 0: no folding, so a longer description changes one line of the diff, not a paragraph.
  return stringify(document, { lineWidth: 0, aliasDuplicateObjects: false })
}
