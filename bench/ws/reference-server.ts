// The reference for bench:ws: the least a Node WebSocket server can do for the same traffic.
// Plain `ws`, no auth, no store, no validation: each update is parsed, turned into one delta frame
// serialized once and written to every subscriber, and acknowledged. Runs as a forked child and
// answers the orchestrator over IPC (ready, memory).
import { WebSocketServer, type WebSocket } from 'ws'
import { answerMemoryRequests } from './server-ipc.js'

const subscribers = new Set<WebSocket>()
let seq = 0

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1024 * 1024 })

server.on('connection', (socket, request) => {
  const delta = new URL(request.url ?? '/', 'http://localhost').searchParams.get('mode') === 'delta'
  if (delta) subscribers.add(socket)
  socket.on('close', () => subscribers.delete(socket))
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString())
    if (message.type !== 'update_context') return
    seq++
    const key = typeof message.key === 'string' ? message.key : `k${seq}`
    const entry = `{"timestamp":"${new Date().toISOString()}","content":${JSON.stringify(message.context)},"source":"bench","priority":1,"version":1}`
    const frame = Buffer.from(`{"type":"context_delta","seq":${seq},"upserted":{${JSON.stringify(key)}:${entry}},"removed":[]}`)
    for (const subscriber of subscribers) subscriber.send(frame, { binary: false })
    socket.send(JSON.stringify({ type: 'update_ack', id: message.id, status: 'success', key, seq }))
  })
  socket.send('{"type":"auth_success"}')
})

server.on('listening', () => {
  const { port } = server.address() as { port: number }
  process.send?.({ kind: 'ready', port, path: '/' })
})

answerMemoryRequests()
