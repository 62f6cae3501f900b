// One entry: its content, and for writers and admins a priority control and a delete button
// that asks for confirmation first.
import type { Entry } from '@context-server/client'
import { h } from '../dom.js'

export interface DetailActions {
  setPriority (key: string, priority: number): void
  askDelete (key: string): void
  confirmDelete (key: string): void
  cancelDelete (): void
  close (): void
}

export function detailsView (key: string, entry: Entry | undefined, canEdit: boolean, confirming: boolean, actions: DetailActions): HTMLElement {
  if (entry === undefined) {
    return h('div', {}, h('p', {}, `Entry ${key} is no longer in the store.`), h('button', { type: 'button', onclick: actions.close }, 'Close'))
  }
  let chosen = entry.priority
  const controls = canEdit
    ? h('div', { class: 'entry-actions' },
      h('label', {}, 'Priority ', h('select', {
        id: 'detail-priority', onchange: (event: Event) => { chosen = Number((event.target as HTMLSelectElement).value) }
      }, ...Array.from({ length: 10 }, (_, i) => h('option', { value: i + 1, selected: i + 1 === entry.priority }, i + 1)))),
      h('button', { type: 'button', id: 'detail-set-priority', onclick: () => actions.setPriority(key, chosen) }, 'Set priority'),
      confirming
        ? h('span', { class: 'confirm', role: 'alertdialog', 'aria-label': 'confirm delete' },
          `Delete ${key}? `,
          h('button', { type: 'button', id: 'detail-confirm-delete', class: 'danger', onclick: () => actions.confirmDelete(key) }, 'Delete'),
          h('button', { type: 'button', id: 'detail-cancel-delete', onclick: actions.cancelDelete }, 'Cancel'))
        : h('button', { type: 'button', id: 'detail-delete', class: 'danger', onclick: () => actions.askDelete(key) }, 'Delete…'))
    : null
  return h('div', {},
    h('div', { class: 'detail-head' }, h('h3', { id: 'detail-key' }, key), h('button', { type: 'button', onclick: actions.close, 'aria-label': 'close entry' }, '×')),
    h('p', { class: 'meta' }, `${entry.source} · priority ${entry.priority} · ${entry.tokens} tokens · v${entry.version} · ${entry.owner} · ${entry.timestamp}`),
    controls,
    h('pre', { id: 'detail-content', tabindex: 0 }, JSON.stringify(entry.content, null, 2)))
}
