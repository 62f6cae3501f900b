// The one factory that assembles the server: compilers, framework plugins, the app's own plugins,
// then routes. It never listens; src/server.ts does, and tests call buildApp with their config.
import Fastify, { type FastifyReply, type FastifyServerOptions } from 'fastify'
import { validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Config } from './config.js'
import { loggerOptions } from './logger.js'
import { toHttpFailure } from './rest/http-error.js'
import { serializerCompiler } from './rest/response-serializer.js'
import configPlugin from '../plugins/config.js'
import lifecyclePlugin from '../plugins/lifecycle.js'
import httpDrainPlugin from '../plugins/http-drain.js'
import storePlugin from '../plugins/store.js'
import tokenizerPlugin from '../plugins/tokenizer.js'
import authPlugin from '../plugins/auth.js'
import revocationsPlugin from '../plugins/revocations.js'
import auditPlugin from '../plugins/audit.js'
import metricsPlugin from '../plugins/metrics.js'
import sessionsPlugin from '../plugins/sessions.js'
import tenantUsePlugin from '../plugins/tenant-use.js'
import healthRoutes from '../routes/health.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import swaggerPlugin from '../plugins/swagger.js'
import errorHandlerPlugin from '../plugins/error-handler.js'
import jsonBodyPlugin from '../plugins/json-body.js'
import statusRoutes from '../routes/status.js'
import metricsRoutes from '../routes/metrics.js'
import contextRoutes from '../routes/context.js'
import mcpRoutes from '../routes/mcp.js'
import oauthMetadataRoutes from '../routes/oauth-metadata.js'
import revocationRoutes from '../routes/revocations.js'
import changesRoutes from '../routes/changes.js'
import websocketPlugin from '../plugins/websocket.js'
import websocketRoutes from '../routes/websocket.js'
import dashboardRoutes from '../routes/dashboard.js'

export interface BuildOptions {
  /** Overrides the logger built from config (tests pass false). */
  logger?: FastifyServerOptions['logger']
}

export async function buildApp (config: Config, options: BuildOptions = {}) {
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config),
    // Only behind a proxy that sets X-Forwarded-For may it decide the client address: otherwise
    // any client could pick its own address and dodge the per-IP rate limit.
    trustProxy: config.trustProxy,
    bodyLimit: config.maxMessageBytes,
    // Closing drains HTTP instead of resetting it: plugins/http-drain.ts answers the 503s and
    // closes connections once their requests are done.
    return503OnClosing: false,
    forceCloseConnections: false,
    // Entry keys (up to 512 characters) travel in paths, URL-encoded: up to 9 characters each.
    routerOptions: { maxParamLength: 512 * 9 },
    // Refusals made before routing (a path that is not valid percent-encoding, a parameter over
    // maxParamLength) leave in the contract's error shape too, with a listed code.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const { body } = toHttpFailure(error)
      return reply.code(body.statusCode).type('application/json; charset=utf-8').send(JSON.stringify(body))
    }
  }).withTypeProvider<ZodTypeProvider>()

  app.setValidatorCompiler(validatorCompiler)
  // Replies are written by fast-json-stringify from the zod schemas (why: src/rest/response-serializer.ts).
  app.setSerializerCompiler(serializerCompiler)

  // 1. Framework plugins that add onRoute hooks (websocket, rate-limit, swagger) go here, awaited.
  await app.register(websocketPlugin, { config })
  await app.register(rateLimitPlugin, {
    max: config.httpRateLimit,
    // Instances sharing a Redis store share their rate limits too.
    ...(config.store === 'redis' ? { redisTarget: config.redisTarget, nameSpace: `${config.redisPrefix}:rate-limit:` } : {})
  })
  await app.register(swaggerPlugin)

  // 2. The app's own plugins: each builds one thing and decorates the instance with it.
  await app.register(configPlugin, { config })
  await app.register(lifecyclePlugin)
  await app.register(tokenizerPlugin)
  await app.register(httpDrainPlugin)
  await app.register(storePlugin)
  await app.register(revocationsPlugin)
  await app.register(auditPlugin)
  await app.register(authPlugin)
  await app.register(metricsPlugin)
  await app.register(sessionsPlugin)
  await app.register(tenantUsePlugin)
  await app.register(errorHandlerPlugin)
  await app.register(jsonBodyPlugin)

  // 3. Routes.
  await app.register(healthRoutes)
  await app.register(statusRoutes)
  await app.register(metricsRoutes)
  await app.register(contextRoutes)
  await app.register(mcpRoutes)
  await app.register(oauthMetadataRoutes)
  await app.register(revocationRoutes)
  await app.register(changesRoutes)
  await app.register(websocketRoutes)
  await app.register(dashboardRoutes)
  return app
}

export type App = Awaited<ReturnType<typeof buildApp>>
