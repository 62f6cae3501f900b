// Summarises a V8 CPU profile (node --cpu-prof, e.g. BENCH_PROFILE_DIR of bench:http) by self time:
// the functions, then the files (packages grouped), where the samples landed; then by total time
// (self and callees, each sample counted once per function), which shows what a hook or a
// library call costs as a whole.
// Several files (the slices of one side of a bench:http case) are summed.
//   npx tsx bench/cpuprofile-summary.ts <file.cpuprofile>... [top=30]
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** node_modules/<package> (scoped too), or the path inside the project, or a V8 pseudo-frame. */
function fileOf (url: string): string {
  if (url === '') return '(native / V8)'
  const path = url.replace(/^file:\/\//, '')
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  if (inModules !== null) return `pkg ${inModules[1]}`
  if (path.startsWith('node:')) return path
  const project = /\/(src|plugins|routes|bench|test)\/.*$/.exec(path)
  return project?.[0].slice(1) ?? path
}

function top (totals: Map<string, number>, all: number, count: number): string[] {
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([name, micros]) => `${(100 * micros / all).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${name}`)
}

const args = process.argv.slice(2)
const count = /^\d+$/.test(args.at(-1) ?? '') ? Number(args.pop()) : 30
if (args.length === 0) throw new Error('usage: tsx bench/cpuprofile-summary.ts <file.cpuprofile>... [top]')

const nameOf = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame
  return `${functionName === '' ? '(anonymous)' : functionName}  ${fileOf(url)}${url === '' ? '' : `:${lineNumber + 1}`}`
}
const add = (totals: Map<string, number>, name: string, micros: number) => totals.set(name, (totals.get(name) ?? 0) + micros)

const byFunction = new Map<string, number>()
const totalByFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let all = 0
let idle = 0
for (const file of args) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)

  // A sample's weight is the time until the next one (timeDeltas[i + 1]).
  const selfMicros = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0))
  }
  for (const [id, micros] of selfMicros) {
    const node = byId.get(id) as ProfileNode
    if (node.callFrame.functionName === '(idle)') { idle += micros; continue }
    all += micros
    add(byFunction, nameOf(node), micros)
    add(byFile, fileOf(node.callFrame.url), micros)
    // Every function on the stack gets the sample once, however often it recurs.
    const onStack = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) onStack.add(nameOf(byId.get(at) as ProfileNode))
    for (const caller of onStack) add(totalByFunction, caller, micros)
  }
}

console.log(`busy ${(all / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms (percentages of busy time)\n`)
console.log(`Self time by function (top ${count}):`)
for (const line of top(byFunction, all, count)) console.log(line)
console.log('\nSelf time by file or package:')
for (const line of top(byFile, all, count)) console.log(line)
console.log(`\nTotal time by function (top ${count}):`)
for (const line of top(totalByFunction, all, count)) console.log(line)
