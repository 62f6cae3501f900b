// Flow control for MCP event streams (a 2025 session's GET stream, a subscriptions/listen stream,
// a call answered over SSE). The SDK enqueues every notification into its stream at once, whether
// or not the host reads, so a host that stops reading would make the server hold every change for
// it forever. This relay takes the SDK's chunks as they come and holds them for the HTTP response;
// when what it holds unsent stays above the cap, the stream ends, as a WebSocket client is closed
// 4008 "Slow consumer".
//
// The judgement is made on what was still unsent before the current burst: the notifications of
// one change all arrive in one tick, and a host that reads keeps up between changes, so a burst
// alone never ends a reading host's stream (the WebSocket surface judges after a flush likewise).

export interface StreamFlowOptions {
  /** Bytes the stream may hold unsent (MCP_STREAM_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number
  /** Sent first, before any chunk of the SDK's stream (an SSE comment, so the host sees the stream open). */
  prefix?: Uint8Array
  /** The host stopped reading: end its HTTP exchange (the stream is already cancelled). */
  onOverflow: () => void
}

/** The same response with its body bounded in what it may hold unsent; see the module comment. */
export function withFlowControl (response: Response, options: StreamFlowOptions): Response {
  const source = response.body
  if (source === null) return response
  const reader = source.getReader()
  const { maxBufferedBytes } = options
  let controller!: ReadableStreamDefaultController<Uint8Array>
  // Bytes held when the current burst began; reset once the event loop has moved on.
  let heldBeforeBurst: number | undefined
  let finished = false

  const held = () => maxBufferedBytes - (controller.desiredSize ?? 0)

  const overflow = () => {
    finished = true
    reader.cancel(new Error('slow consumer')).catch(() => {})
    controller.error(new Error('MCP stream ended: the host did not read what it was sent'))
    options.onOverflow()
  }

  const pump = async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (finished) return
        if (done) {
          finished = true
          controller.close()
          return
        }
        if (heldBeforeBurst === undefined) {
          heldBeforeBurst = held()
          setImmediate(() => { heldBeforeBurst = undefined })
        }
        if (heldBeforeBurst > maxBufferedBytes) return overflow()
        controller.enqueue(value)
      }
    } catch (error) {
      if (finished) return
      finished = true
      controller.error(error)
    }
  }

  const body = new ReadableStream<Uint8Array>({
    start (streamController) {
      controller = streamController
      if (options.prefix !== undefined) controller.enqueue(options.prefix)
      pump().catch(() => {})
    },
    cancel (reason) {
      finished = true
      return reader.cancel(reason)
    }
  }, new ByteLengthQueuingStrategy({ highWaterMark: maxBufferedBytes }))
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}
