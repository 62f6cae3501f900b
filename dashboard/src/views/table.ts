// The entries table: filters (source prefix, priority range, text), sortable headers, pages.
import type { Entry } from '@context-server/client'
import { h } from '../dom.js'
import { shortDuration, tablePage, type SortColumn, type TableQuery } from '../model.js'

const COLUMNS: ReadonlyArray<{ column: SortColumn, label: string }> = [
  { column: 'key', label: 'Key' }, { column: 'source', label: 'Source' }, { column: 'priority', label: 'Priority' },
  { column: 'tokens', label: 'Tokens' }, { column: 'version', label: 'Version' }, { column: 'owner', label: 'Owner' },
  { column: 'age', label: 'Age' }, { column: 'ttl', label: 'TTL' }
]

export interface TableActions {
  query (change: Partial<TableQuery>): void
  select (key: string): void
}

function priorityOptions (selected: number): HTMLOptionElement[] {
  return Array.from({ length: 10 }, (_, i) => h('option', { value: i + 1, selected: i + 1 === selected }, i + 1))
}

export function filtersView (query: TableQuery, actions: TableActions): HTMLElement {
  return h('form', { class: 'filters', role: 'search', onsubmit: (event: Event) => event.preventDefault() },
    h('label', {}, 'Source prefix ', h('input', {
      id: 'filter-source',
      type: 'search',
      value: query.source,
      autocomplete: 'off',
      oninput: (event: Event) => actions.query({ source: (event.target as HTMLInputElement).value, page: 0 })
    })),
    h('label', {}, 'Priority ', h('select', {
      id: 'filter-min-priority',
      'aria-label': 'lowest priority',
      onchange: (event: Event) => actions.query({ minPriority: Number((event.target as HTMLSelectElement).value), page: 0 })
    }, ...priorityOptions(query.minPriority)), ' to ', h('select', {
      id: 'filter-max-priority',
      'aria-label': 'highest priority',
      onchange: (event: Event) => actions.query({ maxPriority: Number((event.target as HTMLSelectElement).value), page: 0 })
    }, ...priorityOptions(query.maxPriority))),
    h('label', {}, 'Text ', h('input', {
      id: 'filter-text',
      type: 'search',
      value: query.text,
      autocomplete: 'off',
      oninput: (event: Event) => actions.query({ text: (event.target as HTMLInputElement).value, page: 0 })
    })))
}

export function tableView (entries: ReadonlyMap<string, Entry>, query: TableQuery, selected: string | undefined, actions: TableActions, now: number): HTMLElement {
  const page = tablePage(entries, query)
  const header = h('tr', {}, ...COLUMNS.map(({ column, label }) => {
    const sorted = query.sort === column
    return h('th', { scope: 'col', 'aria-sort': sorted ? (query.descending ? 'descending' : 'ascending') : 'none' },
      h('button', {
        type: 'button',
        class: 'sort',
        'data-column': column,
        onclick: () => actions.query({ sort: column, descending: sorted ? !query.descending : column !== 'key' && column !== 'source' && column !== 'owner', page: 0 })
      }, label, sorted ? (query.descending ? ' ▼' : ' ▲') : ''))
  }))
  const rows = page.rows.map(({ key, entry }) => h('tr', { 'data-key': key, class: key === selected ? 'selected' : undefined },
    h('td', {}, h('button', { type: 'button', class: 'key', onclick: () => actions.select(key), title: key }, key)),
    h('td', {}, entry.source), h('td', { class: 'num' }, entry.priority), h('td', { class: 'num' }, entry.tokens.toLocaleString()),
    h('td', { class: 'num' }, entry.version), h('td', {}, entry.owner),
    h('td', { class: 'num' }, shortDuration(now - Date.parse(entry.timestamp))),
    h('td', { class: 'num' }, entry.expires_at === undefined ? '—' : shortDuration(Date.parse(entry.expires_at) - now))))
  const pager = h('nav', { class: 'pager', 'aria-label': 'table pages' },
    h('button', { type: 'button', id: 'page-prev', disabled: page.page === 0, onclick: () => actions.query({ page: page.page - 1 }) }, '‹ Previous'),
    h('span', { id: 'page-info' }, `${page.matched.toLocaleString()} of ${entries.size.toLocaleString()} entries · page ${page.page + 1} of ${page.pages}`),
    h('button', { type: 'button', id: 'page-next', disabled: page.page >= page.pages - 1, onclick: () => actions.query({ page: page.page + 1 }) }, 'Next ›'))
  return h('div', {},
    h('div', { class: 'table-scroll' }, h('table', { id: 'entries' }, h('thead', {}, header), h('tbody', {}, ...rows))),
    pager)
}
