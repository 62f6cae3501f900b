// Deterministic English-like prose for the benchmarks: common words with a tail of rarer and
// longer ones, capitals, punctuation and paragraphs, so the tokenizer meets what ordinary text
// gives it (mostly whole-word tokens, some merged words), the same bytes in every run.
const COMMON = ('the of and to in a is that for it as was with be by on not he this are or his from at which but have an ' +
  'they you were her she there been one all we their has would when if more no out so said what up its about than into ' +
  'them can only other new some could time these two may then do first any my now such like our over man me even most ' +
  'made after also did many before must through back years where much your way well down should because each just ' +
  'those people how too little state good very make world still own see men work long get here between both life being ' +
  'under never day same another know while last might us great old year off come since against go came right used take ' +
  'three').split(' ')
const RARE = ('context agent budget tokenizer subscription replication throughput acknowledgement eviction priority ' +
  'snapshot resynchronisation heterogeneous idempotency interoperability serialisation quadratic logarithmic ' +
  'microsecond backpressure multiplexing Kubernetes WebSocket JavaScript TypeScript deterministically ' +
  'incomprehensibilities Mississippi antidisestablishmentarianism photosynthesis').split(' ')

/** About `bytes` bytes of prose; the same text for the same arguments. */
export function prose (bytes: number, seed = 7): string {
  let state = seed
  const random = (): number => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
  const parts: string[] = []
  let length = 0
  let sentenceStart = true
  while (length < bytes) {
    let word = random() < 0.06 ? RARE[Math.floor(random() * RARE.length)] : COMMON[Math.floor(random() * COMMON.length)]
    if (sentenceStart) word = word[0].toUpperCase() + word.slice(1)
    const r = random()
    const end = r < 0.07 ? (random() < 0.15 ? '.\n\n' : '. ') : r < 0.12 ? ', ' : r < 0.125 ? '; ' : ' '
    sentenceStart = end.startsWith('.')
    parts.push(word + end)
    length += word.length + end.length
  }
  return parts.join('').slice(0, bytes)
}

const TOOLS = ['web_search', 'read_file', 'run_tests', 'sql_query', 'list_issues'] as const

/**
 * About `bytes` bytes of JSON as an agent's tool call returns it: a tool name, arguments and a
 * list of result records mixing short fields (ids, numbers, flags, URLs, paths) with prose
 * snippets; the same value for the same arguments.
 */
export function toolOutput (bytes: number, seed = 11): Record<string, unknown> {
  let state = seed
  const random = (): number => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
  const tool = TOOLS[Math.floor(random() * TOOLS.length)]
  const results: Array<Record<string, unknown>> = []
  const output = { tool, arguments: { query: prose(40, seed + 1).trim(), limit: 20 }, status: 'ok', elapsed_ms: Math.floor(random() * 900), results }
  let length = JSON.stringify(output).length
  for (let i = 0; length < bytes; i++) {
    const record = {
      id: `r${seed}-${i}`,
      score: Math.round(random() * 10_000) / 10_000,
      url: `https://docs.example.com/${tool}/${Math.floor(random() * 1e6).toString(36)}/page-${i}.html`,
      path: `src/${['store', 'ws', 'tokenizer', 'rest'][i % 4]}/${Math.floor(random() * 1e4).toString(16)}.ts`,
      line: Math.floor(random() * 2000),
      passed: random() < 0.9,
      snippet: prose(60 + Math.floor(random() * 180), seed * 31 + i)
    }
    // The last record's snippet is cut so the whole lands near `bytes`.
    const over = length + JSON.stringify(record).length + 1 - bytes
    if (over > 0) record.snippet = record.snippet.slice(0, Math.max(20, record.snippet.length - over))
    results.push(record)
    length += JSON.stringify(record).length + 1
  }
  return output
}
