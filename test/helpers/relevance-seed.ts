// A small store for the relevant_to surface tests: three entries that share terms with TASK to
// different degrees and a high-priority notice that shares none. Written through the store (the
// surfaces under test are the reads).
import type { ContextStore } from '../../src/store/context-store.js'
import type { Actor } from '../../src/store/types.js'

export const TASK = 'Write the quiz for lesson 3 on percentages'

/** The order relevant_to TASK must give: most shared terms first, the notice (no shared term) last. */
export const EXPECTED_ORDER = ['quiz-plan', 'quiz-finding', 'video-plan', 'notice']

export async function seedRelevance (store: ContextStore, actor: Actor): Promise<void> {
  await store.write(actor, { key: 'notice', priority: 10, source: 'team_lead', content: { notice: 'Deployment freeze from 20 December' } })
  await store.write(actor, { key: 'video-plan', priority: 4, source: 'video_agent', content: { task: 'Lesson 2 video script: decimals', status: 'in_progress' } })
  await store.write(actor, { key: 'quiz-finding', priority: 5, source: 'research_agent', content: { finding: 'Reverse percentages had the lowest pass rate, 41%' } })
  await store.write(actor, { key: 'quiz-plan', priority: 5, source: 'planner_agent', content: { task: 'Lesson 3 quiz: percentages', next_step: 'ten questions' } })
}
