// Host and Origin checks for /mcp against DNS rebinding: a web page whose domain an attacker
// re-points at this server would send the attacker's Host and Origin. Built on the SDK's validators
// (hostnames compared without ports).
import { localhostAllowedHostnames, localhostAllowedOrigins, validateHostHeader, validateOriginHeader } from '@modelcontextprotocol/server'

export interface RebindingPolicy {
  /** Hostnames the Host header may name; undefined when the server answers to any name. */
  readonly hosts?: readonly string[]
  /** Exact origins a browser may call from (MCP_ALLOWED_ORIGINS and the public URL's origin). */
  readonly origins: ReadonlySet<string>
  /** Whether localhost-class origins pass too (when MCP_ALLOWED_ORIGINS is not set). */
  readonly localOrigins: boolean
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', ''])

/**
 * The policy for a server bound to `bindHost`. A server bound to a specific address answers to
 * localhost names, that address and the public URL's host. One bound to all interfaces without a
 * public URL cannot know its names and checks no Host (a token is still required).
 */
export function rebindingPolicy (bindHost: string, publicUrl: string | undefined, allowedOrigins: readonly string[]): RebindingPolicy {
  const publicHost = publicUrl !== undefined ? new URL(publicUrl) : undefined
  const origins = new Set(allowedOrigins)
  if (publicHost !== undefined) origins.add(publicHost.origin)
  const localOrigins = allowedOrigins.length === 0
  if (WILDCARD_HOSTS.has(bindHost) && publicHost === undefined) return { origins, localOrigins }
  const hosts = new Set(localhostAllowedHostnames())
  if (!WILDCARD_HOSTS.has(bindHost)) hosts.add(bindHost.includes(':') ? `[${bindHost}]` : bindHost)
  if (publicHost !== undefined) hosts.add(publicHost.hostname)
  return { hosts: [...hosts], origins, localOrigins }
}

export interface RebindingRefusal {
  /** Which header gave it away. */
  readonly header: 'host' | 'origin'
  readonly message: string
}

/** Why a request is refused (answer 403), or undefined when it may proceed. */
export function rebindingRefusal (policy: RebindingPolicy, host: string | undefined, origin: string | undefined): RebindingRefusal | undefined {
  if (policy.hosts !== undefined) {
    const checked = validateHostHeader(host, [...policy.hosts])
    if (!checked.ok) return { header: 'host', message: checked.message }
  }
  // Requests without Origin come from non-browser clients, which DNS rebinding cannot drive.
  if (origin === undefined || origin === '') return undefined
  if (policy.origins.has(origin)) return undefined
  if (policy.localOrigins && validateOriginHeader(origin, localhostAllowedOrigins()).ok) return undefined
  return { header: 'origin', message: `Origin not allowed: ${origin.slice(0, 200)}` }
}
