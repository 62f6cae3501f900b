// The one error handler and not-found handler of the HTTP surface. Every failure leaves in the same
// shape (Fastify's `{statusCode, error, message}` plus the contract's `code`), 5xx are masked and
// logged with the request, and every error is counted by code.
import fp from 'fastify-plugin'
import type { FastifyReply } from 'fastify'
import { errorBody, toHttpFailure } from '../src/rest/http-error.js'
import type { ErrorBody } from '../src/rest/response-schemas.js'

const JSON_TYPE = 'application/json; charset=utf-8'

export default fp(async (app) => {
  const send = (reply: FastifyReply, body: ErrorBody) => {
    // Counted by the precise code: a 401 travels as `forbidden` with reason `unauthorized`.
    const reason = !Array.isArray(body.details) ? body.details?.reason : undefined
    app.metrics.errors.inc({ code: typeof reason === 'string' ? reason : body.code, surface: 'rest' })
    // RFC 6750: a 401 names the scheme expected. A route that set a richer challenge keeps it.
    if (body.statusCode === 401 && !reply.hasHeader('www-authenticate')) reply.header('www-authenticate', 'Bearer')
    // Serialized here rather than by the route's response schema, so an error reply can never
    // fail on a schema of its own route.
    return reply.code(body.statusCode).type(JSON_TYPE).send(JSON.stringify(body))
  }

  app.setErrorHandler((error, request, reply) => {
    const { body, internal } = toHttpFailure(error)
    if (internal) request.log.error({ err: error }, 'request failed')
    else request.log.info({ code: body.code, statusCode: body.statusCode }, body.message)
    return send(reply, body)
  })

  // Unknown routes count against the caller's rate limit too, so probing for routes is not free.
  app.setNotFoundHandler({ preHandler: app.rateLimit() }, (request, reply) => {
    return send(reply, errorBody(404, 'not_found', `Route ${request.method}:${request.url.split('?')[0]} not found`))
  })
}, { name: 'error-handler', dependencies: ['metrics', 'rate-limit'] })
