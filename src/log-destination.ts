// Where log lines go: stdout, through pino's own destination (sonic-boom, synchronous writes), in
// one write per turn of the event loop, made silent once stdout is gone.
//
// One write per turn: every change writes an audit line (src/security/audit-log.ts), and one
// write(2) per line was ~1.3 µs of each acknowledged write at ingest rates, a twentieth of the
// server's CPU per write (issue 16). The lines of one turn (the frames of one read from a socket,
// a request) are joined and written by a process.nextTick queued at the first of them, which runs
// once the turn's work is done: a line is written within microseconds of its change, not later.
// A turn's lines are written as soon as they reach TURN_LINES_MAX_CHARS, and on exit (process.exit, an
// uncaught exception) what is pending is written first. A SIGKILL can lose the lines of the turn it
// lands in, which may include a change already acknowledged; the history (GET /changes, the
// journal) has it.
//
// Made silent: a terminal that closes (an SSH session ending, a terminal window shut) turns every
// write into EIO, and pino silences its destination on EPIPE only: with the destination Fastify
// made by default, a server whose terminal closed never finished shutting down (strace: the same
// log line written again and again, EIO each time) and kept its port. Nothing can be logged once
// stdout is gone, so the lines are dropped and the server shuts down as usual (the terminal's
// SIGHUP starts that). test/log-format.test.ts closes a real terminal.
import pino from 'pino'

/** Write errors that mean the reader of stdout is gone for good. */
const GONE = new Set(['EIO', 'EPIPE', 'EBADF', 'ENXIO'])

/** Pending lines are written as soon as they reach this many characters, turn or not. */
export const TURN_LINES_MAX_CHARS = 1 << 20

type Destination = ReturnType<typeof pino.destination>

/** Holds a turn's lines and writes them in one go (pino's stream interface: write, flushSync, flush). */
export class TurnBatchedLines {
  private pending = ''
  private scheduled = false
  private readonly flushTurn = () => {
    this.scheduled = false
    this.writePending()
  }

  constructor (private readonly destination: Destination) {}

  write (line: string): boolean {
    if (this.pending === '') pendingAtExit.add(this)
    this.pending += line
    if (this.pending.length >= TURN_LINES_MAX_CHARS) this.writePending()
    else if (!this.scheduled) {
      this.scheduled = true
      process.nextTick(this.flushTurn)
    }
    return true
  }

  /** Writes what is pending now (pino.flush, pino.final, the exit hook). */
  flushSync (): void {
    this.writePending()
    this.destination.flushSync()
  }

  flush (done?: (error?: Error) => void): void {
    this.writePending()
    this.destination.flush(done)
  }

  end (): void {
    this.writePending()
    this.destination.end()
  }

  private writePending (): void {
    if (this.pending === '') return
    const lines = this.pending
    this.pending = ''
    pendingAtExit.delete(this)
    this.destination.write(lines)
  }
}

// The batches holding lines, for one exit listener (a process that builds many apps has many
// batches; one holds nothing here while it has nothing pending).
const pendingAtExit = new Set<TurnBatchedLines>()
process.once('exit', () => { for (const lines of pendingAtExit) lines.flushSync() })

/** Log lines on stdout, written once per turn, dropped once stdout is gone. */
export function stdoutLines (): TurnBatchedLines {
  return new TurnBatchedLines(stdoutDestination())
}

/**
 * A synchronous destination on stdout that drops its lines once stdout is gone (pino-pretty's,
 * which needs a stream: readable lines are for a person at a terminal, a few a second).
 */
export function stdoutDestination (): Destination {
  const destination = pino.destination({ dest: 1, sync: true })
  destination.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== undefined && GONE.has(error.code)) {
      silence(destination)
      return
    }
    // Any other write error is what it was before this listener: an uncaught exception.
    queueMicrotask(() => { throw error })
  })
  return destination
}

function silence (destination: Destination): void {
  const noop = () => {}
  Object.assign(destination, { write: () => true, flushSync: noop, flush: (done?: () => void) => done?.(), end: noop })
}
