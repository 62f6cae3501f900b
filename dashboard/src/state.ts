// The one mutable state of the page and its listeners; views are functions of it.
import type { SessionInfo } from '@context-server/client'
import { defaultTableQuery, type FeedItem, type TableQuery } from './model.js'

export interface ConnectedClient {
  readonly client_id: string
  readonly user_id: string
  readonly authenticated_at: string
  readonly last_activity: string
}

export interface BestContext {
  readonly task: string
  readonly maxTokens: number
  readonly keys: readonly string[]
  readonly scores: Readonly<Record<string, number>>
  readonly tokens: number
  readonly matched: number
}

export interface State {
  phase: 'signed-out' | 'connecting' | 'ready' | 'failed'
  connection: string
  error: string | undefined
  notice: string | undefined
  session: SessionInfo | undefined
  table: TableQuery
  selected: string | undefined
  feed: FeedItem[]
  clients: ConnectedClient[] | undefined
  best: BestContext | undefined
  confirmDelete: string | undefined
}

export const state: State = {
  phase: 'signed-out',
  connection: 'disconnected',
  error: undefined,
  notice: undefined,
  session: undefined,
  table: defaultTableQuery,
  selected: undefined,
  feed: [],
  clients: undefined,
  best: undefined,
  confirmDelete: undefined
}

export const canWrite = (session: SessionInfo | undefined): boolean =>
  session !== undefined && (session.roles.includes('writer') || session.roles.includes('admin'))

export const isAdmin = (session: SessionInfo | undefined): boolean => session?.roles.includes('admin') ?? false
