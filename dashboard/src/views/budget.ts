// The token budget: used / max, as two stacked bars (by source, by priority) with the numbers.
import type { Entry, StoreMetadata } from '@context-server/client'
import { h } from '../dom.js'
import { budgetBreakdown, type BudgetSegment } from '../model.js'

const percent = (share: number): string => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`

function bar (label: string, segments: readonly BudgetSegment[], classOf: (segment: BudgetSegment, index: number) => string): HTMLElement {
  // Widths are set through the CSSOM (element.style), which a strict style-src allows; only
  // inline style attributes and <style> elements are refused.
  const track = h('div', { class: 'bar', role: 'img', 'aria-label': `${label}: ${segments.map((s) => `${s.label} ${s.tokens} tokens`).join(', ') || 'empty'}` })
  segments.forEach((segment, index) => {
    const piece = h('span', { class: `segment ${classOf(segment, index)}`, title: `${segment.label}: ${segment.tokens.toLocaleString()} tokens (${percent(segment.share)})` })
    piece.style.width = percent(Math.min(1, segment.share))
    track.append(piece)
  })
  const legend = h('ul', { class: 'legend' }, ...segments.map((segment, index) =>
    h('li', {}, h('span', { class: `swatch ${classOf(segment, index)}` }), `${segment.label} `, h('b', {}, segment.tokens.toLocaleString()))))
  return h('div', { class: 'bar-group' }, h('h3', {}, label), track, legend)
}

export function budgetView (entries: ReadonlyMap<string, Entry>, metadata: StoreMetadata): HTMLElement {
  const { bySource, byPriority } = budgetBreakdown(entries, metadata.max_tokens)
  const used = metadata.total_tokens
  const share = used / Math.max(1, metadata.max_tokens)
  return h('div', {},
    h('p', { class: 'budget-numbers', id: 'budget-numbers' },
      h('b', { 'data-testid': 'budget-used' }, used.toLocaleString()), ' / ',
      h('span', { 'data-testid': 'budget-max' }, metadata.max_tokens.toLocaleString()), ' tokens (', percent(share), ') in ',
      h('b', { 'data-testid': 'entry-count' }, metadata.entry_count.toLocaleString()), ' entries'),
    bar('By source', bySource, (_, index) => `c${index}`),
    bar('By priority', byPriority, (segment) => `p${segment.label.replace('priority ', '')}`))
}
