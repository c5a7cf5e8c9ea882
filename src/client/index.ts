/**
 * walcast client SDK: browsers and Node 20, ESM, no Node-only imports.
 * See docs/client.md.
 */
export { createClient } from './client.ts'
export { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts'
export type {
  ClientOptions, Clock, EscrowEventMap, EscrowEventType, FetchLike, RefusalCode, ResetInfo, ResetReason, ServerErrorInfo, Status, StatusInfo, SubscriptionState,
  TransportName, WalcastClient, WalcastEvent, WebSocketConstructor, WebSocketLike,
  EphemeralMessage, PresenceChange,
} from './types.ts'
