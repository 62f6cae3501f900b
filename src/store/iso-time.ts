// ISO 8601 timestamps of the kind Date.prototype.toISOString writes, for the write path.
//
// Why not `new Date(ms).toISOString()` each time: every write stamps its entry, and on the 2-core
// VMs this server is measured on that call is ~1.2 µs (a runtime call in V8 that breaks the time
// into its fields), about 3% of a whole WebSocket write (bench:ws ingest, issue 16). Writes
// arriving within one second share everything up to the milliseconds, so the text of the current
// second is kept and only the milliseconds are appended (~0.06 µs).

/** The largest time a Date holds, in ms either side of 1970 (ECMAScript's TimeClip). */
const MAX_TIME = 8.64e15

let cachedSecond = Number.NaN
/** `YYYY-MM-DDTHH:mm:ss.` of `cachedSecond` (a longer year for years past 9999, as toISOString). */
let cachedPrefix = ''

/** The same string as `new Date(ms).toISOString()`, including its RangeError for an invalid time. */
export function isoTimestamp (ms: number): string {
  // toISOString truncates fractions and refuses times out of range; leave those cases to it.
  if (!Number.isInteger(ms) || Math.abs(ms) > MAX_TIME) return new Date(ms).toISOString()
  const second = Math.floor(ms / 1000)
  if (second !== cachedSecond) {
    // Within the range checked above, the second's own start is a valid time too.
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, -4)
    cachedSecond = second
  }
  const millis = ms - second * 1000
  return cachedPrefix + (millis < 10 ? '00' : millis < 100 ? '0' : '') + millis + 'Z'
}
