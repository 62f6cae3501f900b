// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line
// must be a HELP, a TYPE or a sample of a declared family, or it throws.

export interface Sample { name: string, labels: Record<string, string>, value: number }

export interface Exposition {
  types: Map<string, string>
  help: Map<string, string>
  samples: Sample[]
  /** The value of one series, or undefined when it is absent. */
  value: (name: string, labels?: Record<string, string>) => number | undefined
}

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const HELP_LINE = new RegExp(`^# HELP (${METRIC_NAME}) (.*)$`)
const TYPE_LINE = new RegExp(`^# TYPE (${METRIC_NAME}) (counter|gauge|histogram|summary|untyped)$`)
const SAMPLE_LINE = new RegExp(`^(${METRIC_NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`)
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y

const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] }

export function parsePrometheusText (text: string): Exposition {
  const types = new Map<string, string>()
  const help = new Map<string, string>()
  const samples: Sample[] = []
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue
    const where = `line ${index + 1}: ${line.slice(0, 80)}`
    const helpMatch = HELP_LINE.exec(line)
    if (helpMatch !== null) { help.set(helpMatch[1], helpMatch[2]); continue }
    const typeMatch = TYPE_LINE.exec(line)
    if (typeMatch !== null) { types.set(typeMatch[1], typeMatch[2]); continue }
    if (line.startsWith('#')) throw new Error(`unknown comment, ${where}`)
    const sample = SAMPLE_LINE.exec(line)
    if (sample === null) throw new Error(`not a sample, ${where}`)
    const [, name, labelText, valueText] = sample
    if (familyOf(name, types) === undefined) throw new Error(`sample of an undeclared family, ${where}`)
    const value = parseValue(valueText)
    if (value === undefined) throw new Error(`bad value, ${where}`)
    samples.push({ name, labels: parseLabels(labelText ?? '', where), value })
  }
  const value = (name: string, labels: Record<string, string> = {}) => samples.find((s) =>
    s.name === name && Object.keys(labels).length === Object.keys(s.labels).length &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
  return { types, help, samples, value }
}

function familyOf (name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name
  for (const [family, type] of types) {
    if ((SUFFIXES[type] ?? []).some((suffix) => name === family + suffix)) return family
  }
  return undefined
}

// As Prometheus reads values (Go's ParseFloat): Inf and NaN in any case (prom-client writes "Nan").
function parseValue (text: string): number | undefined {
  if (/^\+?inf$/i.test(text)) return Infinity
  if (/^-inf$/i.test(text)) return -Infinity
  if (/^nan$/i.test(text)) return NaN
  const value = Number(text)
  return Number.isNaN(value) ? undefined : value
}

function parseLabels (text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {}
  LABEL.lastIndex = 0
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text)
    if (match === null) throw new Error(`bad labels, ${where}`)
    labels[match[1]] = match[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
  }
  return labels
}
