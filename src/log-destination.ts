// Where log lines go: stdout, through pino's own destination (sonic-boom, synchronous writes), made
// silent once stdout is gone. A terminal that closes (an SSH session ending, a terminal window
// shut) turns every write into EIO, and pino silences its destination on EPIPE only: with the
// destination Fastify made by default, a server whose terminal closed never finished shutting
// down (strace: the same log line written again and again, EIO each time) and kept its port.
// Nothing can be logged once stdout is gone, so the lines are dropped and the server shuts down
// as usual (the terminal's SIGHUP starts that). test/log-format.test.ts closes a real terminal.
import pino from 'pino'

/** Write errors that mean the reader of stdout is gone for good. */
const GONE = new Set(['EIO', 'EPIPE', 'EBADF', 'ENXIO'])

type Destination = ReturnType<typeof pino.destination>

/** A synchronous destination on stdout that drops its lines once stdout is gone. */
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
