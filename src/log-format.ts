// How log lines look: readable (pino-pretty) for a person at a terminal, JSON for everything that
// reads logs by machine (containers, CI, production log shippers). MCP_LOG_FORMAT overrides it.

export type LogFormat = 'auto' | 'json' | 'pretty'

export interface LogSurroundings {
  /** MCP_LOG_FORMAT. */
  format: LogFormat
  /** NODE_ENV=production. */
  production: boolean
  /** Whether stdout is a terminal (process.stdout.isTTY). */
  isTTY: boolean
  /** Whether a CI system runs us (CI set to anything but "false" or "0"). */
  ci: boolean
}

/**
 * Whether to write readable lines. `auto`: only outside production, outside CI, and when stdout is
 * a terminal; a container's stdout, a pipe or a file gets JSON, one object per line.
 */
export function prettyLogs ({ format, production, isTTY, ci }: LogSurroundings): boolean {
  if (format !== 'auto') return format === 'pretty'
  return !production && !ci && isTTY
}

/** pino-pretty's options for readable lines. */
export const PRETTY_OPTIONS = { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: false } as const
