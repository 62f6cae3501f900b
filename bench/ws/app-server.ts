// The real server for bench:ws: the same buildApp as src/server.ts, configured from the
// environment the orchestrator passes (MCP_STORE, MCP_DATA_DIR, ...), listening on 127.0.0.1 on a
// free port. Runs as a forked child and answers the orchestrator over IPC (ready, memory, exit).
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { answerMemoryRequests } from './server-ipc.js'

const app = await buildApp(loadConfig(process.env))
await app.listen({ host: '127.0.0.1', port: 0 })
const { port } = app.server.address() as { port: number }
answerMemoryRequests(async () => { await app.close() })
process.send?.({ kind: 'ready', port, path: '/ws' })
