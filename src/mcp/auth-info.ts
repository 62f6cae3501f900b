// Carries the verified JWT identity from the HTTP route to the MCP tool and resource handlers. The
// SDK passes `authInfo` through to every handler untouched (ctx.http.authInfo), per request, so a
// handler always acts with the roles of the token on the request it serves.
import type { AuthInfo, ServerContext } from '@modelcontextprotocol/server'
import type { Identity } from '../auth/identity.js'
import { ContextError } from '../errors.js'
import type { Actor, Role } from '../store/types.js'

const ROLES: readonly Role[] = ['reader', 'writer', 'admin']

const isRole = (value: string): value is Role => (ROLES as readonly string[]).includes(value)

/** The SDK's AuthInfo for a verified identity: user as clientId, roles as scopes, tenant in extra. */
export function authInfoFor (identity: Identity, token: string): AuthInfo {
  return {
    token,
    clientId: identity.userId,
    scopes: [...identity.roles],
    expiresAt: Math.floor(identity.expiresAt / 1000),
    extra: { tenant: identity.tenant }
  }
}

/**
 * The store actor of the request a handler serves. Throws `unauthorized` when the request carries
 * no identity, which only happens if a server instance is reached without the route's auth gate.
 */
export function actorOf (ctx: ServerContext): Actor {
  const info = ctx.http?.authInfo
  const tenant = info?.extra?.tenant
  if (info === undefined || typeof tenant !== 'string') {
    throw new ContextError('unauthorized', 'This MCP request carries no verified identity')
  }
  // Tagged for the audit trail; a 2025 session's id is its client id (as in the session registry).
  return {
    userId: info.clientId,
    roles: info.scopes.filter(isRole),
    tenant,
    surface: 'mcp',
    ...(ctx.sessionId !== undefined ? { clientId: `mcp-${ctx.sessionId}` } : {})
  }
}
