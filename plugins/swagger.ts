// The OpenAPI document (@fastify/swagger), generated from the zod route schemas, and Swagger UI
// (@fastify/swagger-ui) over it at /docs. The same document is committed as openapi.yaml
// (`npm run openapi`), so nothing in it may depend on the configuration or the moment.
import fp from 'fastify-plugin'
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { VERSION } from '../src/version.js'
import { withoutUnusedSchemas } from '../src/rest/openapi-document.js'
import { withDeclaredTags, withOperationConventions } from '../src/rest/openapi-conventions.js'

export const DOCS_PREFIX = '/docs'

const DESCRIPTION = [
  'The REST admin API of the context server: the same token-budgeted, tenant-scoped store that',
  'WebSocket agents and MCP hosts share. Send `Authorization: Bearer <jwt>` (roles reader, writer',
  'or admin; the tenant comes from the token). Every error has the shape',
  '`{statusCode, error, message, code}`. The WebSocket protocol (`/ws`) is documented in the',
  "project's docs, since OpenAPI cannot describe it."
].join(' ')

export default fp(async (app) => {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Context server REST admin API',
        version: VERSION,
        description: DESCRIPTION,
        license: { name: 'MIT', identifier: 'MIT' }
      },
      // One relative server: the API is wherever the document is served (Swagger UI calls the
      // host it came from), and the document stays the same on every machine (openapi.yaml is
      // compared with it).
      servers: [{ url: '/', description: 'The server that serves this document' }],
      tags: [
        { name: 'context', description: "Read and change the caller's tenant store" },
        { name: 'admin', description: 'Tenant status (admin role)' },
        { name: 'metrics', description: 'Prometheus metrics' },
        { name: 'health', description: 'Probes for load balancers and orchestrators' },
        { name: 'security', description: 'Token revocation and the audit trail (admin role; docs/security.md)' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT signed with the server secret (npm run token)' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'MCP_METRICS_TOKEN, when the server sets one' }
        }
      },
      security: [{ bearerAuth: [] }]
    },
    // Conventions first (operationId, tags, the common error responses), then zod to JSON Schema.
    transform: (input) => jsonSchemaTransform({
      ...input,
      schema: withOperationConventions({ method: input.route.method, url: input.url, schema: input.schema, config: input.route.config }) as typeof input.schema
    }),
    transformObject: (document) => withDeclaredTags(withoutUnusedSchemas(jsonSchemaTransformObject(document)))
  })

  await app.register(fastifySwaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false }
  })
}, { name: 'swagger' })
