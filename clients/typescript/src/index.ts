// @context-server/client: the official client of the context server, for Node 20+ and browsers.
export { ContextClient } from './context-client.js'
export type {
  ChangeEvent, ClientEvents, ConnectedEvent, ConnectionState, ContextClientOptions, DisconnectedEvent,
  ReconnectingEvent, ReconnectOptions, ResyncEvent
} from './context-client.js'
export { ContextError } from './errors.js'
export type { ClientErrorCode, ErrorCode, ServerErrorCode } from './errors.js'
export type { MirrorChange, ResyncCause } from './mirror.js'
export type { TokenProvider } from './token-source.js'
export { CLOSE_CODES, closeDecision } from './close-policy.js'
export type { CloseDecision } from './close-policy.js'
export type {
  ChangeActor, ClearInput, ClearResult, ContextSnapshot, Entry, MirrorMode, PriorityResult, QueryInput,
  QueryResult, SessionInfo, StatusResult, StoreMetadata, SubscriptionFilter, UpdateAck, WebSocketConstructor,
  WebSocketLike, WriteInput
} from './types.js'
