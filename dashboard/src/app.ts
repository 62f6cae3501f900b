// The dashboard's controller: owns one ContextClient for the signed-in token, turns its events
// into state, and re-renders the views (at most once per animation frame).
import { ContextClient, type Entry, type SessionInfo, type StoreMetadata } from '@context-server/client'
import { byId, render } from './dom.js'
import { feedItems, pushFeed, type TableQuery } from './model.js'
import { canWrite, isAdmin, state, type ConnectedClient } from './state.js'
import { adminView } from './views/admin.js'
import { bestContextView } from './views/best-context.js'
import { budgetView } from './views/budget.js'
import { detailsView } from './views/details.js'
import { feedView } from './views/feed.js'
import { filtersView, tableView } from './views/table.js'

const TOKEN_KEY = 'context-server.token'
const STATUS_EVERY_MS = 5000

let client: ContextClient | undefined
let statusTimer: ReturnType<typeof setInterval> | undefined
let frame = 0

function wsUrl (): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/ws`
}

function entries (): ReadonlyMap<string, Entry> {
  return client?.entries ?? new Map()
}

function metadata (): StoreMetadata {
  return client?.metadata ?? { total_tokens: 0, max_tokens: 0, entry_count: 0 }
}

/** Schedules one render for the next frame, however many changes arrive before it. */
function schedule (): void {
  if (frame !== 0) return
  frame = requestAnimationFrame(() => { frame = 0; renderAll() })
}

function showNotice (text: string | undefined): void {
  state.notice = text
  schedule()
}

const tableActions = {
  query (change: Partial<TableQuery>) { state.table = { ...state.table, ...change }; schedule() },
  select (key: string) { state.selected = key; state.confirmDelete = undefined; schedule() }
}

const detailActions = {
  setPriority (key: string, priority: number) {
    client?.setPriority(key, priority).then(
      (result) => showNotice(`${key}: priority ${result.priority} (version ${result.version})`),
      (error: Error) => showNotice(`Could not change the priority: ${error.message}`))
  },
  askDelete (key: string) { state.confirmDelete = key; schedule() },
  confirmDelete (key: string) {
    state.confirmDelete = undefined
    client?.clear({ keys: [key] }).then(
      () => { showNotice(`${key} deleted`); state.selected = undefined },
      (error: Error) => showNotice(`Could not delete ${key}: ${error.message}`))
  },
  cancelDelete () { state.confirmDelete = undefined; schedule() },
  close () { state.selected = undefined; state.confirmDelete = undefined; schedule() }
}

const bestActions = {
  ask (task: string, maxTokens: number) {
    client?.query({ relevant_to: task, max_tokens: maxTokens }).then((result) => {
      const scores = (result.metadata.scores ?? {}) as Record<string, number>
      state.best = { task, maxTokens, keys: [...result.entries.keys()], scores, tokens: result.metadata.returned_tokens, matched: result.metadata.matched }
      schedule()
    }, (error: Error) => showNotice(`Best context failed: ${error.message}`))
  },
  select: tableActions.select
}

const adminActions = {
  revoke (sub: string) {
    const token = sessionStorage.getItem(TOKEN_KEY) ?? ''
    fetch('/revocations', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sub })
    }).then(async (reply) => {
      if (reply.ok) showNotice(`Every token of ${sub} issued until now is revoked`)
      else showNotice(`Revocation refused: ${((await reply.json().catch(() => ({}))) as { message?: string }).message ?? reply.status}`)
    }, (error: Error) => showNotice(`Revocation failed: ${error.message}`))
  }
}

function renderAll (): void {
  const signedIn = state.phase !== 'signed-out'
  byId('sign-in').hidden = signedIn && state.phase !== 'failed'
  byId('app').hidden = !signedIn || state.phase === 'failed'
  byId('sign-out').hidden = !signedIn
  const errorBox = byId('sign-in-error')
  errorBox.hidden = state.error === undefined
  errorBox.textContent = state.error ?? ''
  const pill = byId('connection')
  pill.textContent = state.phase === 'signed-out' ? 'signed out' : state.connection
  pill.className = `pill ${state.connection}`
  const session: SessionInfo | undefined = state.session
  byId('who').textContent = session === undefined ? '' : `${session.user_id} · ${session.roles.join(', ')} · tenant ${session.tenant}`
  const notice = byId('notice')
  notice.hidden = state.notice === undefined
  notice.textContent = state.notice ?? ''
  if (state.phase !== 'ready') return

  const all = entries()
  render(byId('budget'), budgetView(all, metadata()))
  // The filter inputs keep focus and caret: they are rendered once, then only the table below.
  if (byId('filters').childElementCount === 0) render(byId('filters'), filtersView(state.table, tableActions))
  render(byId('table'), tableView(all, state.table, state.selected, tableActions, Date.now()))
  const detailsCard = byId('details-card')
  detailsCard.hidden = state.selected === undefined
  if (state.selected !== undefined) {
    render(byId('details'), detailsView(state.selected, all.get(state.selected), canWrite(session), state.confirmDelete === state.selected, detailActions))
  }
  if (byId('best').childElementCount === 0 || state.best !== undefined) render(byId('best'), bestContextView(state.best, bestActions))
  render(byId('feed'), feedView(state.feed))
  const adminCard = byId('admin-card')
  adminCard.hidden = !isAdmin(session)
  if (isAdmin(session) && byId('admin').querySelector('input:focus') === null) render(byId('admin'), adminView(state.clients, adminActions))
}

async function refreshStatus (): Promise<void> {
  if (client === undefined || !isAdmin(state.session)) return
  try {
    const status = await client.status()
    state.clients = (status.authenticated_clients ?? []) as ConnectedClient[]
    schedule()
  } catch { /* shown by the connection state; the next tick tries again */ }
}

/** Connects with a token; resolves when the first snapshot is shown or the token is refused. */
export async function signIn (token: string): Promise<void> {
  await signOut(false)
  sessionStorage.setItem(TOKEN_KEY, token)
  state.phase = 'connecting'
  state.error = undefined
  state.connection = 'connecting'
  schedule()
  const current = new ContextClient({ url: wsUrl(), token, mode: 'delta' })
  client = current
  let live = false
  current.on('change', (change) => {
    // The first snapshot is the starting point, not a change anyone made.
    if (live) state.feed = pushFeed(state.feed, feedItems(change))
    schedule()
  })
  current.on('state', ({ state: next }) => { state.connection = next; schedule() })
  current.on('error', (error) => {
    if (state.phase === 'ready') showNotice(error.message)
  })
  try {
    await current.ready
  } catch (error) {
    if (client !== current) return
    await signOut(false)
    state.phase = 'failed'
    state.error = `Sign-in failed: ${(error as Error).message}`
    sessionStorage.removeItem(TOKEN_KEY)
    schedule()
    return
  }
  if (client !== current) return
  live = true
  state.session = current.session
  state.phase = 'ready'
  state.connection = current.state
  schedule()
  if (isAdmin(state.session)) {
    refreshStatus().catch(() => {})
    statusTimer = setInterval(() => { refreshStatus().catch(() => {}) }, STATUS_EVERY_MS)
  }
}

export async function signOut (forget = true): Promise<void> {
  clearInterval(statusTimer)
  statusTimer = undefined
  const previous = client
  client = undefined
  if (forget) sessionStorage.removeItem(TOKEN_KEY)
  Object.assign(state, { phase: 'signed-out', connection: 'disconnected', session: undefined, selected: undefined, feed: [], clients: undefined, best: undefined, notice: undefined, confirmDelete: undefined })
  render(byId('filters'))
  render(byId('best'))
  render(byId('admin'))
  schedule()
  await previous?.close()
}

export function storedToken (): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined
}
