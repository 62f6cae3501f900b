// The reference for bench:ws, as issue 16 defines it: plain `ws` that parses each message as
// JSON, stores it in a Map and replies with one small ack frame per message (no corking or other
// batching). No auth, no validation, no token counting. With subscribers (the fan-out scenario)
// each update becomes one delta frame, serialized once and written to every subscriber.
// BENCH_REF_MAX_ENTRIES (the evicting scenario) caps the Map: each write past it deletes the
// oldest entry, the least a store that evicts can do. Runs as a forked child and answers the
// orchestrator over IPC (ready, memory, exit).
import { WebSocketServer, type WebSocket } from 'ws'
import { answerOrchestrator } from './server-ipc.js'

const maxEntries = Number(process.env.BENCH_REF_MAX_ENTRIES ?? 0)
const store = new Map<string, unknown>()
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
    store.set(key, message.context)
    if (maxEntries > 0 && store.size > maxEntries) store.delete(store.keys().next().value as string)
    if (subscribers.size > 0) {
      const frame = Buffer.from(JSON.stringify({ type: 'context_delta', seq, upserted: { [key]: { content: message.context, version: seq } }, removed: [] }))
      for (const subscriber of subscribers) subscriber.send(frame, { binary: false })
    }
    socket.send(JSON.stringify({ type: 'update_ack', id: message.id, key, seq }))
  })
  socket.send('{"type":"auth_success"}')
})

server.on('listening', () => {
  const { port } = server.address() as { port: number }
  process.send?.({ kind: 'ready', port, path: '/' })
})

answerOrchestrator({ stats: () => ({ entries: store.size }) })
