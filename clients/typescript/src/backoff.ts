// Reconnect delays: exponential backoff with full jitter (a uniformly random delay between 0 and
// the capped exponential), so clients cut off together do not come back together.

export interface BackoffOptions {
  /** The cap of the first delay. Default 500 ms. */
  readonly initialDelayMs?: number
  /** No delay is longer than this. Default 30 s. */
  readonly maxDelayMs?: number
  /** Growth per failed attempt. Default 2. */
  readonly factor?: number
}

/** The longest delay setTimeout honours; anything longer fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export class Backoff {
  private attempts = 0
  private readonly initial: number
  private readonly max: number
  private readonly factor: number

  constructor (options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initial = Math.max(0, options.initialDelayMs ?? 500)
    this.max = Math.min(MAX_TIMER_MS, Math.max(this.initial, options.maxDelayMs ?? 30_000))
    this.factor = Math.max(1, options.factor ?? 2)
  }

  /** Failed attempts since the last reset. */
  get attempt (): number { return this.attempts }

  /** The delay before the next attempt: random in [0, min(max, initial * factor^attempt)). */
  next (): number {
    const ceiling = Math.min(this.max, this.initial * this.factor ** this.attempts)
    this.attempts++
    return Math.floor(this.random() * ceiling)
  }

  /** After a stable connection: the next failure starts again from the first delay. */
  reset (): void {
    this.attempts = 0
  }
}
