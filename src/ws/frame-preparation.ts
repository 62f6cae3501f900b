// Everything the server does with a write frame before the store needs its turn: decode, parse
// (prototype-safe), validate (zod), the depth check, the content's JSON and its token count. Pure
// and synchronous, so a worker thread can run it on a large frame (src/ws/large-frame.ts) with
// exactly the code and the rules the event loop uses for small ones.
import { parseFrame, type ParsedFrame } from './frame-parser.js'
import { findTooDeep } from '../store/json-depth.js'
import type { WriteMessage } from './handlers.js'
import type { TokenEncoding } from '../tokenizer/rank-table.js'

export interface FrameTask {
  /** The frame as received (UTF-8; ws has checked it is valid). */
  bytes: Uint8Array
  maxDepth: number
  encoding: TokenEncoding
}

/** A write's content as the store wants it: serialized once and counted, or too deep (the path). */
export type PreparedContent =
  | { readonly contentJson: string, readonly tokens: number, readonly tooDeep?: undefined }
  | { readonly tooDeep: string, readonly contentJson?: undefined, readonly tokens?: undefined }

export interface FramePreparation {
  /** A write's message has an empty content here: its content is `content.contentJson`. */
  readonly parsed: ParsedFrame
  /** For a valid write (update_context, context_update) only. */
  readonly content?: PreparedContent
}

export function prepareFrame (task: FrameTask, count: (text: string) => number): FramePreparation {
  const text = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength).toString('utf8')
  const parsed = parseFrame(text)
  if (!parsed.ok) return { parsed }
  const message = parsed.message
  if (message.type !== 'update_context' && message.type !== 'context_update') return { parsed }
  const content = message.type === 'update_context' ? message.context : message.data
  const tooDeep = findTooDeep(content, task.maxDepth)
  // The write is refused, so its content is not needed; it must not travel back either: a
  // structured clone of thousands of levels fails in the thread, and the frame would get no reply.
  if (tooDeep !== undefined) return { parsed: { ...parsed, message: withoutContent(message) }, content: { tooDeep } }
  const contentJson = JSON.stringify(content)
  // The content travels back as its JSON only: a structured clone of the parsed tree costs the
  // event loop milliseconds to read for a large entry, and the store needs only the JSON
  // (src/store/content-from-json.ts parses it where something reads the content as a value).
  return { parsed: { ...parsed, message: withoutContent(message) }, content: { contentJson, tokens: count(contentJson) } }
}

/** The write message with an empty content, its other fields as sent. */
function withoutContent (message: WriteMessage): WriteMessage {
  return message.type === 'update_context' ? { ...message, context: {} } : { ...message, data: {} }
}
