// A client generated from openapi.yaml alone (openapi-typescript types + openapi-fetch), the way
// an API user would make one: no import from the server's code. test/openapi/typed-client.test.ts
// type-checks this file with tsc and runs `walkThroughTheApi` against a real listening server.
import createClient from 'openapi-fetch'
import type { components, paths } from './openapi-types.js'

export type Entry = components['schemas']['Entry']
export type ApiError = components['schemas']['Error']

export function contextClient (baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${token}` } })
}

type Client = ReturnType<typeof contextClient>

/** What each step answered, as the generated types describe it. */
export interface Transcript {
  created: { status: number, key: string, version: number, evicted: string[] }
  read: { status: number, entry: Entry & { key: string } }
  pages: string[][]
  patched: { status: number, priority: number, version: number }
  deleted: number
  afterDelete: { status: number, error: ApiError | undefined }
  badCursor: { status: number, error: ApiError | undefined }
}

/** Create, read, list page by page, patch, delete, then read the deleted entry and page with a bad cursor. */
export async function walkThroughTheApi (client: Client, keys: string[]): Promise<Transcript> {
  let created: Transcript['created'] | undefined
  for (const [index, key] of keys.entries()) {
    const { data, error, response } = await client.PUT('/context/{key}', {
      params: { path: { key } },
      body: { context: { step: index, note: `entry ${key}` }, source: 'typed_client', priority: 5 }
    })
    if (data === undefined) throw new Error(`PUT ${key}: ${JSON.stringify(error)}`)
    created ??= { status: response.status, key: data.key, version: data.version, evicted: data.evicted }
  }
  const first = keys[0]

  const read = await client.GET('/context/{key}', { params: { path: { key: first } } })
  if (read.data === undefined) throw new Error(`GET ${first}: ${JSON.stringify(read.error)}`)

  const pages: string[][] = []
  let cursor: string | undefined
  do {
    const page = await client.GET('/context', { params: { query: { source: 'typed_client', limit: 2, ...(cursor !== undefined ? { cursor } : {}) } } })
    if (page.data === undefined) throw new Error(`GET /context: ${JSON.stringify(page.error)}`)
    pages.push(Object.keys(page.data.data))
    cursor = page.data.metadata.next_cursor
    if (pages.length > keys.length) throw new Error('the walk does not end')
  } while (cursor !== undefined)

  const patched = await client.PATCH('/context/{key}', { params: { path: { key: first } }, body: { priority: 9 } })
  if (patched.data === undefined) throw new Error(`PATCH ${first}: ${JSON.stringify(patched.error)}`)

  const deleted = await client.DELETE('/context/{key}', { params: { path: { key: first } } })
  const afterDelete = await client.GET('/context/{key}', { params: { path: { key: first } } })
  const badCursor = await client.GET('/context', { params: { query: { limit: 2, cursor: 'not-a-cursor' } } })

  return {
    created: created as Transcript['created'],
    read: { status: read.response.status, entry: read.data },
    pages,
    patched: { status: patched.response.status, priority: patched.data.priority, version: patched.data.version },
    deleted: deleted.response.status,
    afterDelete: { status: afterDelete.response.status, error: afterDelete.error },
    badCursor: { status: badCursor.response.status, error: badCursor.error }
  }
}

/** Never called: each line is a mistake the generated types must refuse (tsc fails if one is accepted). */
export async function mistakesTheTypesRefuse (client: Client): Promise<void> {
  // @ts-expect-error priority is an integer, not a string
  await client.PATCH('/context/{key}', { params: { path: { key: 'k' } }, body: { priority: 'high' } })
  // @ts-expect-error POST /context needs `context`
  await client.POST('/context', { body: { source: 'x' } })
  // @ts-expect-error there is no such route
  await client.GET('/contexts')
  // @ts-expect-error limit is a number
  await client.GET('/context', { params: { query: { limit: 'ten' } } })
}
