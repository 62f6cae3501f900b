// Contents kept as their JSON until something reads them as a value. A large write is parsed,
// checked, serialized and counted on a worker thread (src/ws/frame-preparation.ts); sending the
// parsed content back to the event loop is a structured clone of the whole tree (2.8 ms for a
// 900 KB entry, on the event loop every other client waits on), and nothing on the write path
// needs the tree: the store, the journal, Redis, broadcasts and replies all use the JSON. So such a
// write carries only the JSON, and its content is parsed where a reader asks for it: the
// relevance index (once, when it takes the entry in), an MCP prompt, a budgeted MCP reply. The
// same holds for an entry read back from a change record (a Redis instance applying another's
// write, the journal's history): a large content is not parsed until something reads it.
//
// The JSON is the value's own JSON.stringify (made in the thread from the parsed frame), so
// JSON.parse gives back the same value: keys in the same order, no __proto__ keys (refused at the
// parse), -0 read as 0 (as every client sees it in the JSON anyway).
import type { Entry, WriteInput } from './types.js'

const CONTENT_JSON = Symbol('content JSON')
const READ_FROM_JSON = Symbol('content read from the entry JSON')

type WithContentJson = { [CONTENT_JSON]?: string }

/**
 * The write input with `content` read from `contentJson` on first use (parsed once, kept: an input
 * lives for one operation). The write path itself never reads it (contentJsonOfInput).
 */
export function inputWithContentJson (input: Omit<WriteInput, 'content'>, contentJson: string): WriteInput {
  let parsed: { value: unknown } | undefined
  const result = { ...input } as WriteInput & WithContentJson
  Object.defineProperty(result, 'content', {
    enumerable: true,
    configurable: true,
    get: () => (parsed ??= { value: JSON.parse(contentJson) }).value
  })
  Object.defineProperty(result, CONTENT_JSON, { value: contentJson })
  return result
}

/** The content's JSON when the input was made by inputWithContentJson, without parsing it. */
export function contentJsonOfInput (input: WriteInput): string | undefined {
  return (input as WriteInput & WithContentJson)[CONTENT_JSON]
}

/**
 * Makes `entry.content` a getter that parses the content's JSON, `json` from `start` to `end` (the
 * entry's own JSON, which holds it: no second copy), at each read, in the property's place (the
 * entry's field order stays). Not kept once parsed: a stored entry lives long, and keeping the tree
 * would hold the content twice after one read by the relevance index.
 */
export function contentFromJson (entry: Entry, json: string, start: number, end: number): void {
  Object.defineProperty(entry, 'content', { enumerable: true, configurable: true, get: () => JSON.parse(json.slice(start, end)) as unknown })
  Object.defineProperty(entry, READ_FROM_JSON, { value: true })
}

/** Stands for "the content, read from the entry's JSON" where a content is passed on. */
export const FROM_JSON: unique symbol = Symbol('content read from its JSON')

/** The input's content to store, FROM_JSON for an input made by inputWithContentJson (unread). */
export function contentOfInput (input: WriteInput): unknown {
  return contentJsonOfInput(input) !== undefined ? FROM_JSON : input.content
}

/** The entry's content to carry over to a new version of it, FROM_JSON for one read from JSON (unread). */
export function contentOfEntry (entry: Entry): unknown {
  return (entry as Entry & { [READ_FROM_JSON]?: true })[READ_FROM_JSON] === true ? FROM_JSON : entry.content
}

/** The fields around the content in an entry's JSON (buildStoredEntry's order, the Redis script's too). */
export const CONTENT_FIELD = ',"content":'
export const TOKENS_FIELD = ',"tokens":'

/** Where the content's JSON is in an entry's JSON: [start, end). */
export function contentSpanOf (json: string): [number, number] {
  return [json.indexOf(CONTENT_FIELD) + CONTENT_FIELD.length, json.lastIndexOf(TOKENS_FIELD)]
}

/**
 * Contents of fewer characters are parsed with their entry: below about this size the tree costs
 * less to parse than the getter costs to define (~1 µs; in-process, a 400 B content: 1.4 µs to parse
 * the entry whole, 2.0 µs for its fields and the getter; 40 KB: 50 µs against 2.0).
 */
export const PARSE_CONTENTS_BELOW = 1024

/**
 * An entry from its JSON as the store writes it (a change record from Redis or the journal's
 * history), its content left as JSON when large (contentFromJson): an instance applying another's
 * 900 KB write parses ~150 characters of fields instead of the whole entry (1.5 ms).
 */
export function entryFromJson (json: string): Entry {
  const [start, end] = contentSpanOf(json)
  if (end - start < PARSE_CONTENTS_BELOW) return JSON.parse(json) as Entry
  const entry = JSON.parse(`${json.slice(0, start)}0${json.slice(end)}`) as Entry
  contentFromJson(entry, json, start, end)
  return entry
}

/**
 * The entry with its content as a plain value, parsed once, for code that reads it several times
 * (an MCP result is serialized twice, as text and as structured content, and re-rendered while it
 * is fitted to the cap): a JSON-backed entry's getter would parse it at every read. Others as they are.
 */
export function withParsedContent (entry: Entry): Entry {
  return contentOfEntry(entry) === FROM_JSON ? { ...entry } : entry
}
