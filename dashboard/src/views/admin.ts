// For admins: the connected clients (from get_status) and revocation of a user's tokens.
import { h } from '../dom.js'
import type { ConnectedClient } from '../state.js'

export interface AdminActions {
  revoke (sub: string): void
}

export function adminView (clients: readonly ConnectedClient[] | undefined, actions: AdminActions): HTMLElement {
  let sub = ''
  const list = clients === undefined
    ? h('p', { class: 'empty' }, 'Loading…')
    : h('table', { id: 'clients' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col' }, 'Client'), h('th', { scope: 'col' }, 'Since'), h('th', { scope: 'col' }, 'Last activity'))),
      h('tbody', {}, ...clients.map((client) => h('tr', {},
        h('td', {}, client.user_id), h('td', { class: 'mono' }, client.client_id),
        h('td', {}, new Date(client.authenticated_at).toLocaleTimeString()), h('td', {}, new Date(client.last_activity).toLocaleTimeString())))))
  return h('div', {},
    h('h3', {}, `Connected clients (${clients?.length ?? '…'})`), list,
    h('form', {
      class: 'revoke', onsubmit: (event: Event) => { event.preventDefault(); if (sub.trim() !== '') actions.revoke(sub.trim()) }
    }, h('label', {}, 'Revoke every token of user ', h('input', {
      id: 'revoke-sub', required: true, autocomplete: 'off', oninput: (event: Event) => { sub = (event.target as HTMLInputElement).value }
    })), h('button', { type: 'submit', id: 'revoke-submit', class: 'danger' }, 'Revoke')))
}
