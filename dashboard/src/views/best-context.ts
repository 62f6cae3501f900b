// "What would the best N tokens for this task be?": query_context with relevant_to and max_tokens.
import { h } from '../dom.js'
import type { BestContext } from '../state.js'

export interface BestContextActions {
  ask (task: string, maxTokens: number): void
  select (key: string): void
}

export function bestContextView (best: BestContext | undefined, actions: BestContextActions): HTMLElement {
  let task = best?.task ?? ''
  let budget = best?.maxTokens ?? 4000
  const form = h('form', {
    class: 'best-form', onsubmit: (event: Event) => { event.preventDefault(); if (task.trim() !== '') actions.ask(task.trim(), budget) }
  },
  h('label', {}, 'Task ', h('input', { id: 'relevant-to', type: 'text', value: task, placeholder: 'e.g. write the quiz for lesson 3', oninput: (e: Event) => { task = (e.target as HTMLInputElement).value } })),
  h('label', {}, 'Tokens ', h('input', { id: 'relevant-budget', type: 'number', min: 1, value: budget, oninput: (e: Event) => { budget = Number((e.target as HTMLInputElement).value) } })),
  h('button', { type: 'submit', id: 'relevant-submit' }, 'Show best context'))
  if (best === undefined) return h('div', {}, form)
  return h('div', {}, form,
    h('p', { id: 'relevant-summary' }, `${best.keys.length} of ${best.matched} matching entries, ${best.tokens.toLocaleString()} of ${best.maxTokens.toLocaleString()} tokens`),
    h('ol', { id: 'relevant-list' }, ...best.keys.map((key) => h('li', {},
      h('button', { type: 'button', class: 'key', onclick: () => actions.select(key) }, key),
      best.scores[key] !== undefined ? h('span', { class: 'score' }, ` score ${best.scores[key].toFixed(3)}`) : null))))
}
