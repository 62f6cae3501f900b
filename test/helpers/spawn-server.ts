// The real server as a child process (`node --import tsx src/server.ts`), for what only separate
// processes show: several instances sharing Redis, and restarts after SIGKILL or SIGTERM. It
// listens on a free port (MCP_PORT=0) and reports it in its "Server listening at" log line.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { TEST_SECRET } from './config.js'

/** Whoever owns the process: a tap test, or a bench script with its own cleanup list. */
export interface Owner { teardown: (cleanup: () => void) => void }

const root = fileURLToPath(new URL('../..', import.meta.url))

export interface ServerProcess {
  readonly child: ChildProcessWithoutNullStreams
  /** http://127.0.0.1:PORT */
  readonly base: string
  /** ws://127.0.0.1:PORT/ws */
  readonly ws: string
  output (): { stdout: string, stderr: string }
  /** Sends a signal and resolves with the exit code and signal. */
  stop (signal: NodeJS.Signals): Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/**
 * Starts a server process with the given environment on top of a test baseline (fixed secret,
 * memory only, generous HTTP rate limit) and resolves once it listens. Killed at teardown.
 */
export async function spawnServer (t: Owner, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/exit-with-parent.ts', 'src/server.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      MCP_HOST: '127.0.0.1',
      MCP_PORT: '0',
      MCP_DATA_DIR: '',
      MCP_JWT_SECRET_KEY: TEST_SECRET,
      MCP_HTTP_RATE_LIMIT: '1000000',
      ...env
    },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not listen within 30 s:\n${stdout}\n${stderr}`)), 30_000)
    child.stdout.on('data', () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)
      if (match !== null) { clearTimeout(timer); resolve(match[1]) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited (${code}) before listening:\n${stdout}\n${stderr}`)) })
  })
  return {
    child,
    base,
    ws: `${base.replace('http://', 'ws://')}/ws`,
    output: () => ({ stdout, stderr }),
    async stop (signal) {
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode }
      const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
      child.kill(signal)
      const [code, exitSignal] = await exited
      return { code, signal: exitSignal }
    }
  }
}
