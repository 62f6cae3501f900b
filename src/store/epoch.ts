// History epochs (contract §7): a new one whenever a tenant's change history starts again.
import { randomBytes } from 'node:crypto'

/** The longest epoch a client may send back (and the longest this server makes). */
export const MAX_EPOCH_LENGTH = 64

// 64 random bits drawn once per process, then a counter: two servers starting in the same
// millisecond never share an epoch, nor do two epochs of one process. Not a draw per epoch: the
// Redis store offers a fresh epoch with every write (used only where Redis lost the tenant's), and
// a draw from the system's random source was ~10 µs of each one.
const PROCESS_BITS = randomBytes(8).toString('base64url')
let made = 0

/**
 * A fresh epoch: the time in base 36 (so a person reading logs can tell old from new), this
 * process's random bits and a count of the epochs it made. At most ~36 characters.
 */
export function newEpoch (now = Date.now()): string {
  return `${now.toString(36)}-${PROCESS_BITS}${(made++).toString(36)}`
}
