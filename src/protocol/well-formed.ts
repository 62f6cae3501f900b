// Text that names something (keys, sources, a token's user) must be well-formed Unicode: a lone
// surrogate has no UTF-8 form, no percent-encoding (encodeURIComponent throws on it), and turns
// into U+FFFD on its way through JSON logs, Redis or SQLite, so two different names would meet.
export const wellFormedMessage = { error: 'must be well-formed Unicode (no lone surrogate)' }

/** False when the string holds a surrogate that is not half of a pair. */
export const isWellFormed = (value: string): boolean => !/\p{Cs}/u.test(value)
