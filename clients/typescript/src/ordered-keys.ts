// The order of an object's keys as the JSON text has them. JSON.parse builds objects whose
// integer-like keys ("7", "12") come first in ascending order, whatever the text said; a query's
// matches are sent in rank order, so for those (rare) keys the order is read from the text itself.

const INTEGER_KEY = /^(0|[1-9]\d*)$/

/**
 * The keys of `object` (the value of top-level field `field` in the JSON `text`) in text order.
 * Returns Object.keys when no key is integer-like: then the two orders are the same.
 */
export function keysInTextOrder (object: Record<string, unknown>, text: string, field: string): string[] {
  const keys = Object.keys(object)
  if (!keys.some((key) => INTEGER_KEY.test(key))) return keys
  const scanned = scanKeys(text, field)
  return scanned !== undefined && scanned.length === keys.length ? scanned : keys
}

/** One pass over the text: the keys of the object at top-level `field`, or undefined. */
function scanKeys (text: string, field: string): string[] | undefined {
  let depth = 0
  let topKey: string | undefined
  let expectTopKey = false
  let inside = false
  let expectKey = false
  const keys: string[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) { // a string: a key where one is expected, else a value to skip
      let end = i + 1
      while (end < text.length) {
        const d = text.charCodeAt(end)
        if (d === 0x5c) end += 2
        else if (d === 0x22) break
        else end++
      }
      if (inside && depth === 2 && expectKey) {
        keys.push(JSON.parse(text.slice(i, end + 1)) as string)
        expectKey = false
      } else if (depth === 1 && expectTopKey) {
        topKey = JSON.parse(text.slice(i, end + 1)) as string
        expectTopKey = false
      }
      i = end
    } else if (c === 0x7b || c === 0x5b) { // { or [
      depth++
      if (c === 0x7b && depth === 1) expectTopKey = true
      else if (c === 0x7b && depth === 2 && topKey === field) { inside = true; expectKey = true }
    } else if (c === 0x7d || c === 0x5d) { // } or ]
      if (inside && depth === 2) return keys
      depth--
    } else if (c === 0x2c) { // ,
      if (inside && depth === 2) expectKey = true
      else if (depth === 1) expectTopKey = true
    }
  }
  return undefined
}
