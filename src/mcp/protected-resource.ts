// OAuth 2.0 protected-resource discovery (RFC 9728) for /mcp. MCP hosts that get a 401 read the
// `resource_metadata` URL from the WWW-Authenticate challenge (RFC 6750) and fetch the document to
// learn how to authenticate. Tokens here are the server's own JWTs, sent as a bearer header.

export const MCP_PATH = '/mcp'
export const METADATA_PATH = '/.well-known/oauth-protected-resource'

/** How the request reached us, for deriving the public base URL when MCP_PUBLIC_URL is unset. */
export interface RequestOrigin {
  protocol: string
  host: string
}

/**
 * The public base URL of the server, without a trailing slash: MCP_PUBLIC_URL when set, else the
 * scheme and host the request came in on (X-Forwarded-* are honoured behind a trusted proxy).
 */
export function publicBaseUrl (publicUrl: string | undefined, request: RequestOrigin): string {
  const base = publicUrl ?? `${request.protocol}://${request.host}`
  return base.replace(/\/+$/, '')
}

/** The RFC 9728 protected-resource metadata document of the /mcp resource. */
export function protectedResourceMetadata (baseUrl: string, issuer: string | undefined) {
  return {
    resource: baseUrl + MCP_PATH,
    // Listed only when the configured issuer is a URL: an opaque issuer name is no server to visit.
    ...(issuer !== undefined && isHttpUrl(issuer) ? { authorization_servers: [issuer] } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'Context server (MCP)'
  }
}

/**
 * The WWW-Authenticate value of a 401 from /mcp. Without a token the challenge carries no error
 * code (RFC 6750 §3.1); with a bad one, `invalid_token`.
 */
export function bearerChallenge (baseUrl: string, error?: { description: string }): string {
  const parts = [`resource_metadata="${baseUrl}${METADATA_PATH}"`]
  if (error !== undefined) parts.push('error="invalid_token"', `error_description="${error.description.replace(/["\\]/g, '')}"`)
  return `Bearer ${parts.join(', ')}`
}

function isHttpUrl (value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || url.protocol === 'http:'
  } catch {
    return false
  }
}
