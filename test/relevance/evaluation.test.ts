// A small run of `npm run eval:relevance`: the labelled set is sound (enough entries and tasks,
// every label names a real entry) and, on the first twelve tasks at 4k tokens, the shipped formula
// at least doubles the relevant share of the budget of priority order and stays within 10% of
// relevance alone, in recall and in share.
import { test } from 'tap'
import { buildCorpus } from '../fixtures/relevance/corpus.js'
import { evaluate } from '../fixtures/relevance/evaluate.js'

test('the labelled set: at least 300 entries and 40 tasks, labels naming existing entries', async (t) => {
  const { entries, tasks } = buildCorpus()
  t.ok(entries.length >= 300, `${entries.length} entries`)
  t.ok(tasks.length >= 40, `${tasks.length} tasks`)
  const keys = new Set(entries.map((entry) => entry.key))
  t.equal(keys.size, entries.length, 'keys are unique')
  for (const task of tasks) {
    t.ok(task.relevant.length >= 6 && task.relevant.every((key) => keys.has(key)), `${task.id}: ${task.relevant.length} relevant entries, all present`)
  }
})

test('on a small run the shipped formula meets the targets', async (t) => {
  const { results } = evaluate({ taskCount: 12, budgets: [4000] })
  const shipped = results['shipped formula'][4000]
  const priority = results['priority order'][4000]
  const relevance = results['relevance only'][4000]
  t.ok(shipped.budgetShare >= 2 * priority.budgetShare, `share ${shipped.budgetShare.toFixed(3)} vs priority order ${priority.budgetShare.toFixed(3)}`)
  t.ok(shipped.budgetShare >= 0.9 * relevance.budgetShare, `share ${shipped.budgetShare.toFixed(3)} vs relevance only ${relevance.budgetShare.toFixed(3)}`)
  t.ok(shipped.recall >= 0.9 * relevance.recall, `recall ${shipped.recall.toFixed(3)} vs relevance only ${relevance.recall.toFixed(3)}`)
})
