import { Counter, Trend } from 'k6/metrics'

/** Custom metrics every script reports; thresholds refer to them by name. */
export const events = new Counter('walcast_events')
export const gaps = new Counter('walcast_gaps')
export const duplicates = new Counter('walcast_duplicates')
export const resets = new Counter('walcast_resets')
export const sessionErrors = new Counter('walcast_session_errors')
export const deliveryMs = new Trend('walcast_delivery_ms', true)
export const subscribeMs = new Trend('walcast_subscribe_ms', true)
