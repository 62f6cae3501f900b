// A hash table from words to small integers (the relevance index's posting ids), looked up by a
// span of a longer string (text, start, end) and the span's hash, so that reading an entry's words
// allocates nothing per word.
//
// Why not a Map<string, V>: a Map needs each word as a string of its own, and splitting an entry's
// text into ~65 new strings, hashing each on its first lookup and collecting them again was most of
// what indexing an entry cost. Here the scanner hashes a word as it reads its characters
// (`hashStep`), and a known word is found by comparing characters in place; only a word seen for
// the first time is cut out as a string.
//
// Why integers and one character pool, not the word strings and their values in arrays: indexing an
// entry probes the table once per word, ~65 times, at places scattered over a table of 10,000s of
// words, so it is bound by cache misses, not instructions. A slot holds the word's hash, where its
// characters are, its length and its value, and the characters are in one Uint16Array: a probe that
// hits reads two cache lines (the slot, the characters) where a slot pointing at a string and a
// value in an array of objects read four or five.
//
// Open addressing with linear probing over power-of-two arrays kept at most half full; words are
// never removed one by one (the owner clears the table when it has outgrown its use).

const FNV_OFFSET = 0x811c9dc5 | 0
const FNV_PRIME = 16777619

/** The hash of a word before its first character. */
export const HASH_START = FNV_OFFSET

/** The hash after one more character (FNV-1a over UTF-16 code units). */
export function hashStep (hash: number, code: number): number {
  return Math.imul(hash ^ code, FNV_PRIME)
}

/** The hash of a whole string, as the scanner computes it character by character. */
export function hashOf (word: string): number {
  let hash = HASH_START
  for (let i = 0; i < word.length; i++) hash = hashStep(hash, word.charCodeAt(i))
  return hash
}

const INITIAL_SLOTS = 1024
/** Int32 per slot: the word's hash, its offset in `chars` + 1 (0: the slot is free), its length, its value. */
const SLOT = 4

export class WordTable {
  private slots = new Int32Array(INITIAL_SLOTS * SLOT)
  private mask = INITIAL_SLOTS - 1
  /** Every word's characters, back to back. */
  private chars = new Uint16Array(INITIAL_SLOTS * 8)
  private charsUsed = 0
  private count = 0

  /** Words held. */
  get size (): number { return this.count }

  /**
   * The slot of the word `text[start, end)` (whose hash is `hash`), or -1 when it is not held. A
   * slot stays the word's until the table grows or is cleared: use it before the next insert.
   */
  find (text: string, start: number, end: number, hash: number): number {
    const { slots, mask, chars } = this
    const length = end - start
    for (let slot = spread(hash) & mask; ; slot = (slot + 1) & mask) {
      const at = slot * SLOT
      const offset = slots[at + 1]
      if (offset === 0) return -1
      if (slots[at] === hash && slots[at + 2] === length && sameChars(chars, offset - 1, text, start, length)) return slot
    }
  }

  /** Adds a word that `find` did not find, with its value. */
  insert (word: string, hash: number, value: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow()
    if (this.charsUsed + word.length > this.chars.length) {
      const grown = new Uint16Array(Math.max(this.chars.length * 2, this.charsUsed + word.length))
      grown.set(this.chars.subarray(0, this.charsUsed))
      this.chars = grown
    }
    const offset = this.charsUsed
    for (let i = 0; i < word.length; i++) this.chars[offset + i] = word.charCodeAt(i)
    this.charsUsed += word.length
    this.count++
    this.place(this.slots, this.mask, hash, offset + 1, word.length, value)
  }

  /** The word in `slot` (a slot `find` returned). */
  wordAt (slot: number): string {
    const at = slot * SLOT
    const offset = this.slots[at + 1] - 1
    return String.fromCharCode(...this.chars.subarray(offset, offset + this.slots[at + 2]))
  }

  valueAt (slot: number): number { return this.slots[slot * SLOT + 3] }

  setValue (slot: number, value: number): void { this.slots[slot * SLOT + 3] = value }

  /** Forgets every word (the arrays keep their size: a table that grew once is likely to again). */
  clear (): void {
    this.slots.fill(0)
    this.charsUsed = 0
    this.count = 0
  }

  private place (slots: Int32Array, mask: number, hash: number, offset: number, length: number, value: number): void {
    let at = (spread(hash) & mask) * SLOT
    while (slots[at + 1] !== 0) at = (at + SLOT) & (mask * SLOT + SLOT - 1)
    slots[at] = hash
    slots[at + 1] = offset
    slots[at + 2] = length
    slots[at + 3] = value
  }

  private grow (): void {
    const old = this.slots
    const size = (this.mask + 1) * 2
    this.slots = new Int32Array(size * SLOT)
    this.mask = size - 1
    for (let at = 0; at < old.length; at += SLOT) {
      if (old[at + 1] !== 0) this.place(this.slots, this.mask, old[at], old[at + 1], old[at + 2], old[at + 3])
    }
  }
}

/** FNV's low bits are its weakest: fold the high half in before masking. */
function spread (hash: number): number {
  return hash ^ (hash >>> 16)
}

function sameChars (chars: Uint16Array, offset: number, text: string, start: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (chars[offset + i] !== text.charCodeAt(start + i)) return false
  return true
}
