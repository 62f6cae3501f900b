// Turns the records of a tenant's Redis stream back into ChangeEvents (the record's own form is
// change-record.ts, shared with the script replies and the embedded journal's history).
import { decodeChange } from './change-record.js'
import type { ChangeEvent } from './types.js'

/** A stream record `[id, [field, value, ...]]` (fields h, 1, 2, ...) as a change. */
export function decodeRecord (tenant: string, record: [string, string[]], epoch = ''): ChangeEvent {
  const [id, fields] = record
  const entryJsons: string[] = []
  for (let i = 3; i < fields.length; i += 2) entryJsons.push(fields[i])
  return decodeChange(tenant, seqOfId(id), fields[1], entryJsons, epoch)
}

/** The seq of a stream id: records are added with the explicit id `<seq>-0`. */
export function seqOfId (id: string): number {
  return Number(id.slice(0, id.indexOf('-')))
}
