// Registers @fastify/websocket with the limits from config. The frame size cap is set here because
// ws defaults to 100 MiB; a larger frame closes the connection 1009 before any of it is buffered.
// Closing live sockets belongs to the WebSocket route (with code 1001, after in-flight messages),
// so the plugin's own preClose, which closes without a code, is replaced by a no-op.
import fp from 'fastify-plugin'
import fastifyWebsocket from '@fastify/websocket'
import type { Config } from '../src/config.js'

const OPEN = 1

export default fp<{ config: Config }>(async (app, { config }) => {
  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: config.maxMessageBytes,
      // Compression costs CPU per message and per recipient and memory per connection (zlib
      // contexts); context JSON is sent to many clients, so it stays off.
      perMessageDeflate: false,
      // Connections are tracked by the route's hub, which also closes them.
      clientTracking: false
    },
    preClose: (done) => { done() },
    errorHandler (error, socket, request) {
      // Protocol errors (oversize frame, bad UTF-8, bad opcode): ws has already started closing
      // with the matching code (1009, 1007, 1002). Terminating here would drop that close frame.
      request.log.debug({ err: error }, 'websocket protocol error')
      if (socket.readyState === OPEN) socket.close(1011, 'Internal error')
    }
  })
}, { name: 'websocket' })
