// Keeps each tenant's operations in the order they were called while some wait for their input:
// a large write's token count runs on a worker thread, and a small write (or a delete) sent after
// it, by the same connection or anyone else in the tenant, must not be applied before it. Every
// connection's messages reach the store in the order they were sent, so the order of calls here
// is the order clients sent them in.
//
// Only the start of an operation is ordered (for the memory backend, applying it; for Redis,
// sending its script), not its completion: a journal commit or a Redis round trip of one write
// still overlaps the next, as before.

export class TenantOrder {
  /** Per tenant, the start of the last operation called: settles once it has started. */
  private readonly tails = new Map<string, Promise<void>>()

  /**
   * Runs `start(value)` once `ready` has a value and every operation called earlier for the tenant
   * has started. With a plain value and nothing waiting, `start` runs at once, in this call, as if
   * there were no ordering at all. A `ready` that rejects rejects the operation (in its turn); the
   * tenant's next operation goes on.
   */
  run<P, T> (tenant: string, ready: P | Promise<P>, start: (value: P) => Promise<T>): Promise<T> {
    const previous = this.tails.get(tenant)
    if (previous === undefined && !(ready instanceof Promise)) return start(ready)
    // Settled at once, so a refused count waiting for its turn is never an unhandled rejection.
    const outcome = Promise.resolve(ready).then((value) => ({ value }), (error: unknown) => ({ error, value: undefined }))
    let started!: () => void
    const turn = new Promise<void>((resolve) => { started = resolve })
    this.tails.set(tenant, turn)
    turn.then(() => { if (this.tails.get(tenant) === turn) this.tails.delete(tenant) }, () => {})
    return (previous ?? Promise.resolve()).then(() => outcome).then((settled) => {
      // `start` runs to its first await before the next operation may begin.
      try {
        if ('error' in settled) throw settled.error
        return start(settled.value as P)
      } finally {
        started()
      }
    })
  }

  /** Tenants with an operation waiting (for tests and diagnostics). */
  get waiting (): number {
    return this.tails.size
  }
}
