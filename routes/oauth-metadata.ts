// GET /.well-known/oauth-protected-resource (RFC 9728): how to authenticate to /mcp. Open, since
// a host reads it before it has a token; also served at the path-aware form .../mcp that RFC 9728
// and the MCP SDK client derive from the resource URL.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { MCP_PATH, METADATA_PATH, protectedResourceMetadata, publicBaseUrl } from '../src/mcp/protected-resource.js'

const oauthMetadataRoutes: FastifyPluginAsync = async (app) => {
  const { config } = app

  async function metadata (request: FastifyRequest, reply: FastifyReply) {
    const base = publicBaseUrl(config.publicUrl, request)
    // Browser-based hosts fetch this cross-origin; it holds nothing secret.
    return reply.header('access-control-allow-origin', '*')
      .send(protectedResourceMetadata(base, config.jwt.issuer))
  }

  for (const url of [METADATA_PATH, METADATA_PATH + MCP_PATH]) {
    // Hidden from the OpenAPI document, which describes the REST API; docs/mcp.md covers this.
    app.get(url, { schema: { hide: true } }, metadata)
  }
}

export default oauthMetadataRoutes
