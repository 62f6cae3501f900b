// The body of GET /status and of the get_status WebSocket reply, for one tenant.
import type { Config } from './config.js'
import { serverInfo } from './server-info.js'
import type { SessionInfo, SessionRegistry } from './sessions/session-registry.js'
import type { ContextStore } from './store/context-store.js'

export function statusBody (tenant: string, deps: { config: Config, store: ContextStore, sessions: SessionRegistry<SessionInfo> }) {
  const clients = deps.sessions.ofTenant(tenant)
  const metadata = deps.store.metadata(tenant)
  return {
    connected_clients: clients.length,
    context_entries: metadata.entry_count,
    total_tokens: metadata.total_tokens,
    max_tokens: metadata.max_tokens,
    authenticated_clients: clients.map((client) => ({
      client_id: client.clientId,
      kind: client.kind,
      user_id: client.userId,
      authenticated_at: client.authenticatedAt.toISOString(),
      last_activity: client.lastActivity.toISOString()
    })),
    seq: deps.store.seq(tenant),
    server_info: serverInfo(deps.config, deps.store.backend)
  }
}
