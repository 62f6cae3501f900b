// Paging of a query in rank order (priority descending, then most recent write first) with an
// opaque cursor, as one separate step of TenantStore.query: the ranking decides the order, this
// step only decides where a page starts and whether another one follows.
//
// A cursor holds no server state. It names the rank position of the last entry returned,
// (priority, seq), the tenant seq when the walk began (`walkSeq`), and a tag of the tenant's
// epoch (contract §7): seqs only name the same changes within one history, so a cursor from an
// earlier history (a memory-only restart, a Redis reset) is refused rather than read against a
// store it never saw. A later page holds the
// matches that rank after that position and were last written at or before `walkSeq`. So, across
// concurrent writes:
// - an entry is never returned twice in one walk: one returned earlier either kept its position
//   (before the cursor) or was written again, which gives it a seq above `walkSeq`;
// - every entry that existed when the walk began and was not written during it is returned once;
// - entries created or rewritten during the walk (and the new positions of re-prioritised ones)
//   are left out of the rest of that walk: re-read from the start, or follow the changes with a
//   delta subscription from the first page's `seq`.
import { createHash } from 'node:crypto'
import { ContextError } from '../errors.js'
import { MAX_PRIORITY, MIN_PRIORITY } from './ranked-index.js'
import type { ContextQuery, QueryResult, StoredEntry } from './types.js'

/** Where a walk stands: the rank position of the last entry returned, and when the walk began. */
export interface PagePosition {
  readonly priority: number
  readonly seq: number
  readonly walkSeq: number
  /** The epoch's tag (epochTag); absent in the first cursor format, which carried none. */
  readonly epoch?: string
}

// Query options that choose which matches make the result rather than only filtering them: a walk
// could not resume after them without passing some matches over, so they do not combine with a
// cursor; relevant_to orders by score, not rank, so a rank position means nothing there.
const NOT_WITH_CURSOR = ['max_tokens', 'relevant_to'] as const satisfies ReadonlyArray<keyof ContextQuery>

// c2 adds the epoch tag; c1 cursors (made before it) are still read, without the epoch check.
const CURSOR_FORMAT = /^c([12])\.(\d{1,2})\.(\d{1,16})\.(\d{1,16})(?:\.([A-Za-z0-9_-]{8}))?$/

/** Eight characters naming an epoch: enough to tell one history from the next, short in a URL. */
export function epochTag (epoch: string): string {
  return createHash('sha256').update(epoch).digest('base64url').slice(0, 8)
}

/** The opaque text a client sends back: versioned, so its format may change later. */
export function encodeCursor (position: PagePosition): string {
  const tail = position.epoch !== undefined ? `c2.${position.priority}.${position.seq}.${position.walkSeq}.${position.epoch}` : `c1.${position.priority}.${position.seq}.${position.walkSeq}`
  return Buffer.from(tail).toString('base64url')
}

/** The position a cursor names, or undefined when it is not a cursor this server could have made. */
export function decodeCursor (cursor: string): PagePosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,96}$/.test(cursor)) return undefined
  const match = CURSOR_FORMAT.exec(Buffer.from(cursor, 'base64url').toString('latin1'))
  if (match === null || (match[1] === '2') !== (match[5] !== undefined)) return undefined
  const [priority, seq, walkSeq] = [Number(match[2]), Number(match[3]), Number(match[4])]
  if (priority < MIN_PRIORITY || priority > MAX_PRIORITY || seq > walkSeq || !Number.isSafeInteger(walkSeq)) return undefined
  return { priority, seq, walkSeq, ...(match[5] !== undefined ? { epoch: match[5] } : {}) }
}

/** Whether a query pages: it gives a page size or continues a walk. */
export interface Paging {
  /** Where this page starts; undefined for the first page. */
  readonly after: PagePosition | undefined
  /** The tenant seq the walk began at (carried in every cursor of the walk). */
  readonly walkSeq: number
  /** Whether a next_cursor may be given (a page size, and nothing that picks matches). */
  readonly continues: boolean
  /** The epoch tag the walk's cursors carry. */
  readonly epoch: string
}

/**
 * The paging of one query against a store now at `currentSeq` in history `epoch`. Refuses, as
 * validation_error, a cursor combined with an option that picks matches, a cursor that does not
 * decode, or one from another history of the tenant.
 */
export function pagingOf (query: ContextQuery, currentSeq: number, epoch: string): Paging {
  if (query.cursor === undefined) {
    const continues = query.limit !== undefined && !picksMatches(query)
    return { after: undefined, walkSeq: currentSeq, continues, epoch: continues ? epochTag(epoch) : '' }
  }
  const conflicting = NOT_WITH_CURSOR.find((option) => query[option] !== undefined)
  if (conflicting !== undefined) {
    throw new ContextError('validation_error', `cursor cannot be combined with ${conflicting}`,
      [{ path: 'cursor', message: `cannot be combined with ${conflicting}: a page walk returns every match in rank order` }])
  }
  const after = decodeCursor(query.cursor)
  if (after === undefined) {
    throw new ContextError('validation_error', 'cursor is not one this server returned', [{ path: 'cursor', message: 'is not a cursor this server returned' }])
  }
  const tag = epochTag(epoch)
  // walkSeq past the store's seq can only come from another history, whatever the format.
  if ((after.epoch !== undefined && after.epoch !== tag) || after.walkSeq > currentSeq) {
    throw new ContextError('validation_error', 'cursor belongs to an earlier history of this tenant (its epoch changed); start the walk again without a cursor',
      [{ path: 'cursor', message: 'is from an earlier history of the tenant (epoch changed)' }])
  }
  return { after, walkSeq: after.walkSeq, continues: true, epoch: tag }
}

function picksMatches (query: ContextQuery): boolean {
  return NOT_WITH_CURSOR.some((option) => query[option] !== undefined)
}

/** The paging step before the fill: the entries (in rank order) that belong to the rest of the walk. */
export function restOfWalk<T extends Iterable<StoredEntry>> (entries: T, paging: Paging): T | StoredEntry[] {
  if (paging.after === undefined) return entries
  const rest: StoredEntry[] = []
  for (const stored of entries) if (inRestOfWalk(stored, paging)) rest.push(stored)
  return rest
}

/** Ranked after the walk's position and not written since the walk began. */
function inRestOfWalk (stored: StoredEntry, paging: Paging): boolean {
  const after = paging.after
  if (after === undefined) return true
  if (stored.seq > paging.walkSeq) return false
  const priority = stored.entry.priority
  return priority < after.priority || (priority === after.priority && stored.seq < after.seq)
}

/** The paging step after the fill: a next_cursor, when matches remain after a page of `limit`. */
export function withNextCursor (result: QueryResult, paging: Paging): QueryResult {
  const last = result.entries[result.entries.length - 1]
  if (paging.continues && result.metadata.omitted.length > 0 && last !== undefined) {
    result.metadata.next_cursor = encodeCursor({ priority: last.entry.priority, seq: last.seq, walkSeq: paging.walkSeq, epoch: paging.epoch })
  }
  return result
}
