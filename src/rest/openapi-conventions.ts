// The conventions every documented route follows, applied in one place (the OpenAPI transform) so
// a route added later gets them without repeating them: a stable operationId, a tag, and the error
// responses that apply to it whatever it does (400 when it validates input, 401 when it takes a
// token, 429 when it is rate limited), each with the one error schema. A route may still name its
// own operationId, tags and extra error statuses; these only fill in what it leaves out.
import { errorResponse, type ErrorStatus } from './response-schemas.js'

/** What the transform sees of a route: its method(s), URL, schema and route config. */
export interface DocumentedRoute {
  method: string | string[]
  url: string
  schema?: object
  config?: { rateLimit?: unknown }
}

const INPUT_PARTS = ['querystring', 'params', 'body', 'headers'] as const

/**
 * `GET /context/:key` -> `getContextByKey`: the method, then each path segment capitalised, with
 * parameters as `By<Name>`. Stable as long as the path is, and unique per method and path.
 */
export function derivedOperationId (method: string, url: string): string {
  const words = url.split('/').filter((segment) => segment !== '').map((segment) => {
    const parameter = /^[:{](\w+)}?$/.exec(segment)
    const name = parameter !== null ? `by-${parameter[1]}` : segment
    return name.split(/[^A-Za-z0-9]+/).filter((word) => word !== '').map(capitalised).join('')
  })
  return method.toLowerCase() + words.join('')
}

/** The first path segment, the default tag: `/revocations/:id` -> `revocations`. */
export function derivedTag (url: string): string {
  return url.split('/').find((segment) => segment !== '') ?? 'root'
}

/** Whether the route requires a credential: the document-wide bearer JWT unless it opts out. */
function takesToken (schema: Record<string, unknown>): boolean {
  const security = schema.security as Array<Record<string, unknown>> | undefined
  return security === undefined || security.some((requirement) => Object.keys(requirement).length > 0)
}

/** The route's schema with the conventions filled in; routes hidden from the document pass unchanged. */
export function withOperationConventions (route: DocumentedRoute): object | undefined {
  const schema = route.schema as Record<string, unknown> | undefined
  if (schema === undefined || schema.hide === true) return schema
  const method = Array.isArray(route.method) ? route.method[0] : route.method
  const responses = { ...(schema.response as Record<string, unknown> | undefined) }
  const add = (status: ErrorStatus) => { if (responses[status] === undefined) responses[status] = errorResponse(status) }
  if (INPUT_PARTS.some((part) => schema[part] !== undefined)) add(400)
  if (takesToken(schema)) add(401)
  if (route.config?.rateLimit !== false) add(429)
  return {
    ...schema,
    operationId: schema.operationId ?? derivedOperationId(method, route.url),
    tags: schema.tags ?? [derivedTag(route.url)],
    response: responses
  }
}

interface Tag { name: string, description?: string }

/** Declares every tag an operation uses but the document does not list, so each has an entry. */
export function withDeclaredTags<T extends object> (document: T): T {
  const { tags, paths } = document as { tags?: Tag[], paths?: Record<string, Record<string, { tags?: string[] } | undefined> | undefined> }
  const declared = new Set((tags ?? []).map((tag) => tag.name))
  const added: Tag[] = []
  for (const operations of Object.values(paths ?? {})) {
    for (const operation of Object.values(operations ?? {})) {
      for (const name of operation?.tags ?? []) {
        if (declared.has(name)) continue
        declared.add(name)
        added.push({ name, description: `Operations under /${name}` })
      }
    }
  }
  return added.length === 0 ? document : { ...document, tags: [...(tags ?? []), ...added] }
}

function capitalised (word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1)
}
