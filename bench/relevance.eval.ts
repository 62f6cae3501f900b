// npm run eval:relevance — how well `relevant_to` picks context for a task, on the labelled set in
// test/fixtures/relevance: per budget, the recall of relevant entries and the share of the budget
// spent on relevant tokens, for today's priority order, relevance alone and the shipped formula.
import { BUDGETS, evaluate, STRATEGIES } from '../test/fixtures/relevance/evaluate.js'

const evaluation = evaluate()
const pct = (n: number) => `${(n * 100).toFixed(1)}%`
console.log(`\nRelevance evaluation: ${evaluation.entries} entries (${evaluation.storeTokens.toLocaleString('en-US')} tokens), ${evaluation.tasks} tasks\n`)
console.log('| order | budget | recall | relevant tokens / budget | relevant tokens / returned |')
console.log('| --- | ---: | ---: | ---: | ---: |')
for (const budget of BUDGETS) {
  for (const strategy of STRATEGIES) {
    const m = evaluation.results[strategy][budget]
    console.log(`| ${strategy} | ${budget.toLocaleString('en-US')} | ${pct(m.recall)} | ${pct(m.budgetShare)} | ${pct(m.precision)} |`)
  }
}
const at4k = evaluation.results
const gain = at4k['shipped formula'][4000].budgetShare / at4k['priority order'][4000].budgetShare
console.log(`\nshipped / priority order, relevant share of the budget at 4k: ${gain.toFixed(2)}x (target >= 2x) ${gain >= 2 ? 'PASS' : 'MISS'}`)
let worst = Infinity
for (const budget of BUDGETS) {
  for (const measure of ['recall', 'budgetShare'] as const) {
    worst = Math.min(worst, at4k['shipped formula'][budget][measure] / at4k['relevance only'][budget][measure])
  }
}
console.log(`shipped / relevance only, worst of recall and share at any budget: ${worst.toFixed(2)} (target >= 0.90) ${worst >= 0.9 ? 'PASS' : 'MISS'}`)
