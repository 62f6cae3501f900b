// History epochs (contract §7): a new one whenever a tenant's change history starts again.
import { randomBytes } from 'node:crypto'

/** The longest epoch a client may send back (and the longest this server makes). */
export const MAX_EPOCH_LENGTH = 64

/**
 * A fresh epoch: the time in base 36 (so a person reading logs can tell old from new) and 64
 * random bits (so two servers starting in the same millisecond never share one). 20 characters.
 */
export function newEpoch (now = Date.now()): string {
  return `${now.toString(36)}-${randomBytes(8).toString('base64url')}`
}
