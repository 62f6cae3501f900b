// The token count of pieces of one to four bytes, straight from the text's characters: no piece
// string, no lookup in the table's Map of 200,000 strings, no piece cache.
//
// Why: dense text that never repeats (random base64, hex, keys and hashes) splits into a short
// piece every three or four bytes, nine in ten of them four bytes or less, and each one looked up
// in the rank Map costs a few cache misses (~0.5 µs: the Map is tens of MB, a random piece lands
// anywhere in it). Prose repeats its words, so the same lookups hit warm memory. Here the tokens
// of two to four bytes live in one flat open-addressing table keyed by the packed bytes (about
// 1 MB, one probe per lookup, usually one cache line), and the merge of a piece that short has a
// closed form (see shortPieceCount), so such pieces cost the same whatever their content.
import type { MergeTable } from './bpe-merge.js'

/** Pieces of at most this many UTF-8 bytes are counted here. */
export const SHORT_PIECE_MAX_BYTES = 4

/** Not a token. */
const NONE = -1

/** A piece this module does not count (too long, or a character of three UTF-8 bytes or more). */
export const NOT_SHORT = -1

const SLOT_BITS = 17
const SLOTS = 1 << SLOT_BITS

/**
 * Tokens of two to four bytes: `slots[2s]` is the bytes packed little-endian, `slots[2s + 1]` is
 * (length << 24) | rank, or -1 for an empty slot. Keys and values side by side: one probe reads
 * one cache line.
 */
export class ShortTokenTable {
  private readonly slots = new Int32Array(2 * SLOTS).fill(-1)

  constructor (table: MergeTable) {
    let filled = 0
    for (const [bytes, rank] of table.ranks) {
      if (bytes.length < 2 || bytes.length > SHORT_PIECE_MAX_BYTES) continue
      let packed = 0
      for (let i = 0; i < bytes.length; i++) packed |= bytes.charCodeAt(i) << (8 * i)
      this.insert(packed, bytes.length, rank)
      // Probes stay short only while the table is at most half full (o200k: ~60,000 such tokens).
      if (++filled > SLOTS / 2) throw new Error('too many short tokens for the table')
    }
  }

  private insert (packed: number, length: number, rank: number): void {
    let slot = hash(packed, length)
    while (this.slots[2 * slot + 1] !== -1) slot = (slot + 1) & (SLOTS - 1)
    this.slots[2 * slot] = packed
    this.slots[2 * slot + 1] = (length << 24) | rank
  }

  /** The rank of the token made of `length` (2-4) bytes packed little-endian, or -1. */
  rank (packed: number, length: number): number {
    let slot = hash(packed, length)
    for (;;) {
      const tagged = this.slots[2 * slot + 1]
      if (tagged === -1) return NONE
      if (this.slots[2 * slot] === packed && (tagged >>> 24) === length) return tagged & 0xffffff
      slot = (slot + 1) & (SLOTS - 1)
    }
  }

  has (packed: number, length: number): boolean {
    return this.rank(packed, length) !== NONE
  }
}

function hash (packed: number, length: number): number {
  return (Math.imul(packed ^ (length << 29), 0x9e3779b1) >>> (32 - SLOT_BITS))
}

/**
 * The number of tokens the piece `text[start, end)` merges into, or NOT_SHORT when it is more than
 * four UTF-8 bytes or holds a surrogate (those take the general path).
 */
export function shortPieceCount (short: ShortTokenTable, text: string, start: number, end: number): number {
  if (end - start > SHORT_PIECE_MAX_BYTES) return NOT_SHORT
  // The piece's UTF-8 bytes, packed little-endian: b0 | b1 << 8 | ...
  let packed = 0
  let length = 0
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) {
      if (length === SHORT_PIECE_MAX_BYTES) return NOT_SHORT
      packed |= c << (8 * length++)
    } else if (c < 0x800) {
      if (length > SHORT_PIECE_MAX_BYTES - 2) return NOT_SHORT
      packed |= (0xc0 | (c >> 6)) << (8 * length++)
      packed |= (0x80 | (c & 0x3f)) << (8 * length++)
    } else if (c < 0xd800 || (c > 0xdfff && c <= 0xffff)) {
      if (length > SHORT_PIECE_MAX_BYTES - 3) return NOT_SHORT
      packed |= (0xe0 | (c >> 12)) << (8 * length++)
      packed |= (0x80 | ((c >> 6) & 0x3f)) << (8 * length++)
      packed |= (0x80 | (c & 0x3f)) << (8 * length++)
    } else {
      // Surrogates (astral characters, or lone ones that become U+FFFD) take the general path.
      return NOT_SHORT
    }
  }
  // Every single byte is a token, and so is any piece that is a token as a whole.
  if (length === 1 || short.has(packed, length)) return 1
  // Not a token as a whole: two bytes stay two tokens.
  if (length === 2) return 2
  const b0 = packed & 0xff
  const b1 = (packed >>> 8) & 0xff
  const b2 = (packed >>> 16) & 0xff
  if (length === 3) {
    // Three bytes make two tokens if either pair is one (merging it leaves a pair that is the whole
    // piece, not a token), else three.
    return short.has(b0 | (b1 << 8), 2) || short.has(b1 | (b2 << 8), 2) ? 2 : 3
  }
  // Four bytes, abcd, not a token: the first merge is the pair of lowest rank (leftmost on a tie).
  // After it three parts remain, and one more merge happens if either new pair is a token; the
  // last pair would be the whole piece, which is not. So the count is 4, 3 or 2.
  const b3 = packed >>> 24
  const ab = short.rank(b0 | (b1 << 8), 2)
  const bc = short.rank(b1 | (b2 << 8), 2)
  const cd = short.rank(b2 | (b3 << 8), 2)
  const lowest = Math.min(ab === NONE ? Infinity : ab, bc === NONE ? Infinity : bc, cd === NONE ? Infinity : cd)
  if (lowest === Infinity) return 4
  const abc = packed & 0xffffff
  const bcd = packed >>> 8
  // [ab, c, d]: then "abc" or "cd"; [a, bc, d]: "abc" or "bcd"; [a, b, cd]: "ab" or "bcd".
  if (lowest === ab) return short.has(abc, 3) || cd !== NONE ? 2 : 3
  if (lowest === bc) return short.has(abc, 3) || short.has(bcd, 3) ? 2 : 3
  return ab !== NONE || short.has(bcd, 3) ? 2 : 3
}

const tables = new WeakMap<MergeTable, ShortTokenTable>()

/** The short-token table of an encoding, built on first use (~30 ms, 1 MB per encoding and thread). */
export function shortTokenTableOf (table: MergeTable): ShortTokenTable {
  let short = tables.get(table)
  if (short === undefined) {
    short = new ShortTokenTable(table)
    tables.set(table, short)
  }
  return short
}
