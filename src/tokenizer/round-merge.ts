// Byte-pair merging of a long piece in rounds: each round finds the lowest-ranked pair and merges
// every occurrence of it in one left-to-right sweep over flat arrays.
//
// Why: the pieces that make merging expensive are long and repetitive (runs of one character,
// short patterns repeated), and there each round merges a large share of the parts, so a
// sequential sweep costs a few nanoseconds per part where the queue merge (bpe-merge.ts) pays
// for a queue push, a pop and a stale check per candidate. A round costs O(parts) whatever it
// merges, so rounds go on only while the lowest rank occurs often enough (`minShare`); then the
// queue takes over from the parts left, and a piece stays O(n log n) however it is shaped:
// a round that goes to its end merges at least half its occurrences (overlapping ones, as in
// "aaa", pair up), so at least minShare/2 of the parts; one that stops early leaves at most two
// pairs ranked below its own, too few for another round, so the queue takes over next.
//
// The sweep makes exactly tiktoken's merges (lowest rank first, leftmost on a tie):
// - a merge of rank r never makes a new pair of rank r (that token would be the merged one
//   itself), so after merging the leftmost occurrence, the next merge the loop would make is the
//   next occurrence to the right, unless
// - a merge makes a pair ranked lower than r: the loop would take that one next, so the sweep
//   stops merging there, and the next round (whose lowest rank is now that pair's) goes on.
import { NONE, type PairRanks } from './pair-ranks.js'

/**
 * Merges the parts ids[0, count) in rounds while the lowest-ranked pair occurs at least
 * `minShare * count` times, and returns the number of parts left. `pairRank[j]` is the rank of
 * the pair (ids[j], ids[j + 1]), NONE when that pair is not a token; it is kept current for
 * the parts left, so another merge can go on from them.
 */
export function mergeInRounds (ids: Int32Array, pairRank: Int32Array, count: number, pairs: PairRanks, minShare: number): number {
  for (;;) {
    let lowest = NONE
    let occurrences = 0
    for (let j = 0; j + 1 < count; j++) {
      const rank = pairRank[j]
      if (rank < lowest) {
        lowest = rank
        occurrences = 1
      } else if (rank === lowest) {
        occurrences++
      }
    }
    if (lowest === NONE || occurrences < minShare * count) return count
    count = sweep(ids, pairRank, count, pairs, lowest)
  }
}

/**
 * One round: merges the occurrences of the pair of `rank` from left to right, compacting the
 * arrays in place (the write index never passes the read index), and returns the parts left.
 */
function sweep (ids: Int32Array, pairRank: Int32Array, count: number, pairs: PairRanks, rank: number): number {
  let written = 0
  let read = 0
  // Whether the part written last is a merge of this round; then `after` is the rank of its pair
  // with the part at `read`.
  let lastMerged = false
  let after = NONE
  // Set once a merge makes a pair ranked below `rank`: the rest is copied as it is.
  let stopped = false
  // The last pair looked up on each side of a merge: (beforeId, rank) and (rank, afterId). In
  // the repetitive pieces that rounds are for, a merge's neighbours are mostly the same tokens
  // as the previous merge's, and a compare is several times cheaper than the pair cache.
  let beforeId = -1
  let beforeRank = NONE
  let afterId = -1
  while (read < count) {
    if (!stopped && read + 1 < count && pairRank[read] === rank) {
      ids[written] = rank
      if (written > 0) {
        const left = ids[written - 1]
        if (left !== beforeId) {
          beforeId = left
          beforeRank = pairs.rank(left, rank)
        }
        pairRank[written - 1] = beforeRank
        if (beforeRank < rank) stopped = true
      }
      read += 2
      if (read < count) {
        const right = ids[read]
        if (right !== afterId) {
          afterId = right
          after = pairs.rank(rank, right)
        }
        if (after < rank) stopped = true
      }
      lastMerged = true
    } else {
      // pairRank[read - 1] is still the old pair (ids[read - 1], ids[read]): writes so far went
      // to indexes below `written`, which is at most `read`.
      if (written > 0) pairRank[written - 1] = lastMerged ? after : pairRank[read - 1]
      ids[written++] = ids[read++]
      lastMerged = false
      // Then the stretch up to the next occurrence (or, stopped, the rest) in a loop of its own:
      // on a repeated ten-letter pattern, where a round merges every tenth pair, the rounds cost
      // a third less than with every part taking the general loop.
      if (stopped) {
        while (read < count) {
          pairRank[written - 1] = pairRank[read - 1]
          ids[written++] = ids[read++]
        }
      } else {
        while (read + 1 < count && pairRank[read] !== rank) {
          pairRank[written - 1] = pairRank[read - 1]
          ids[written++] = ids[read++]
        }
      }
      continue
    }
    written++
  }
  pairRank[written - 1] = NONE
  return written
}
