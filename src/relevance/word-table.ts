// A hash table from words to values, looked up by a span of a longer string (text, start, end) and
// the span's hash, so that reading an entry's words allocates nothing per word.
//
// Why not a Map<string, V>: a Map needs each word as a string of its own, and splitting an entry's
// text into ~65 new strings, hashing each on its first lookup and collecting them again was most of
// what indexing an entry cost. Here the scanner hashes a word as it reads its characters
// (`hashStep`), and a known word is found by comparing characters in place; only a word seen for
// the first time is cut out as a string.
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

export class WordTable<V> {
  /**
   * Two int32 per slot, side by side so that a probe reads one cache line: the hash of the word in
   * it (compared before the characters) and the word's index + 1, or 0 when the slot is free.
   */
  private slots = new Int32Array(INITIAL_SLOTS * 2)
  private mask = INITIAL_SLOTS - 1
  private words: string[] = []
  /** Per word: its hash, so that growing re-places words without hashing them again. */
  private hashes: number[] = []
  private values: V[] = []

  /** Words held. */
  get size (): number { return this.words.length }

  /** The index of the word `text[start, end)` (whose hash is `hash`), or -1 when it is not held. */
  find (text: string, start: number, end: number, hash: number): number {
    const { slots, mask, words } = this
    for (let slot = spread(hash) & mask; ; slot = (slot + 1) & mask) {
      const held = slots[2 * slot + 1]
      if (held === 0) return -1
      if (slots[2 * slot] === hash && sameSpan(words[held - 1], text, start, end)) return held - 1
    }
  }

  /** Adds a word that `find` did not find; returns its index. */
  insert (word: string, hash: number, value: V): number {
    if ((this.words.length + 1) * 2 > this.mask + 1) this.grow()
    const index = this.words.length
    this.words.push(word)
    this.hashes.push(hash)
    this.values.push(value)
    this.place(index + 1, hash)
    return index
  }

  wordAt (index: number): string { return this.words[index] }

  valueAt (index: number): V { return this.values[index] }

  setValue (index: number, value: V): void { this.values[index] = value }

  /** Forgets every word (the arrays keep their size: a table that grew once is likely to again). */
  clear (): void {
    this.slots.fill(0)
    this.words = []
    this.hashes = []
    this.values = []
  }

  private place (held: number, hash: number): void {
    const { slots, mask } = this
    let slot = spread(hash) & mask
    while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask
    slots[2 * slot] = hash
    slots[2 * slot + 1] = held
  }

  private grow (): void {
    const size = (this.mask + 1) * 2
    this.slots = new Int32Array(size * 2)
    this.mask = size - 1
    for (let i = 0; i < this.words.length; i++) this.place(i + 1, this.hashes[i])
  }
}

/** FNV's low bits are its weakest: fold the high half in before masking. */
function spread (hash: number): number {
  return hash ^ (hash >>> 16)
}

function sameSpan (word: string, text: string, start: number, end: number): boolean {
  if (word.length !== end - start) return false
  for (let i = 0; i < word.length; i++) if (word.charCodeAt(i) !== text.charCodeAt(start + i)) return false
  return true
}
