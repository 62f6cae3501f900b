// The serializer compiler of the REST responses (src/app.ts sets it): each route's zod response
// schema becomes JSON Schema once, at startup, and fast-json-stringify writes the replies from it.
// The zod type provider's serializer ran zod's encode on every reply, then JSON.stringify: ~11 µs
// for a write's small reply against ~0.6 µs here (issue 16's profile), to check output the server
// builds itself; the tests hold every reply to its schema instead. The OpenAPI document does not
// change: the swagger transform generates it from the zod schemas, not from this.
import fastJson from 'fast-json-stringify'
import { z } from 'zod'

/** What Fastify hands a serializer compiler; only the schema matters here. */
export interface SerializerCompilerInput { schema: unknown, method: string, url: string, httpStatus?: string }

/** The zod schema of a route response: given as is, or inside a `{ description, content }` wrapper. */
function zodSchemaOf (schema: unknown): z.ZodType | undefined {
  if (schema instanceof z.ZodType) return schema
  const properties = (schema as { properties?: unknown } | null)?.properties
  return properties instanceof z.ZodType ? properties : undefined
}

/**
 * The JSON Schema fast-json-stringify compiles, or undefined for a schema JSON cannot describe
 * (a 204's `z.undefined()`): such a reply is encoded by zod, as before.
 */
function jsonSchemaOf (schema: z.ZodType): object | undefined {
  try {
    // draft-7 keeps `definitions`, which fast-json-stringify resolves for the local $refs that
    // schemas with a meta id (Entry, WriteResult) turn into.
    return z.toJSONSchema(schema, { io: 'output', target: 'draft-7', unrepresentable: 'throw' })
  } catch {
    return undefined
  }
}

export function serializerCompiler ({ schema: routeSchema, method, url }: SerializerCompilerInput): (data: unknown) => string {
  const schema = zodSchemaOf(routeSchema)
  if (schema === undefined) throw new Error(`${method} ${url}: a response schema that is not a zod schema`)
  const json = jsonSchemaOf(schema)
  if (json === undefined) return (data) => JSON.stringify(z.encode(schema, data))
  return fastJson(json as Parameters<typeof fastJson>[0]) as (data: unknown) => string
}
