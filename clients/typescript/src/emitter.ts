// A small typed event emitter: the browser has no EventEmitter and EventTarget's events are untyped.

export type Listener<T> = (payload: T) => void

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<any>>>()

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events> (event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener)
    return () => this.off(event, listener)
  }

  once<K extends keyof Events> (event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (payload) => {
      off()
      listener(payload)
    })
    return off
  }

  off<K extends keyof Events> (event: K, listener: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(listener)
  }

  /**
   * Calls every listener of the event. A listener that throws does not stop the others nor the
   * client: its error is reported through `onListenerError` (the client's 'error' event).
   */
  protected emit<K extends keyof Events> (event: K, payload: Events[K]): void {
    const set = this.listeners.get(event)
    if (set === undefined) return
    for (const listener of [...set]) {
      try {
        listener(payload)
      } catch (error) {
        this.onListenerError(event, error)
      }
    }
  }

  protected onListenerError (_event: keyof Events, error: unknown): void {
    // Rethrown outside the emitting call, so a broken listener is seen but cannot corrupt state.
    queueMicrotask(() => { throw error })
  }
}
