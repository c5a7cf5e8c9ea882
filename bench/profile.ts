/** Sizes of each measurement: `--smoke` (CI, under a minute), `--quick` (a few minutes), full (about 10 minutes on a quiet 2-core machine). */
export interface Profile {
  readonly name: 'smoke' | 'quick' | 'full'
  /** A B A B: how many times each system runs each client-facing phase. */
  readonly rounds: number
  /** A phase is over once no frame arrived for this long. */
  readonly settleMs: number
  readonly population: { users: number; escrows: number }
  readonly ingest: { backlogEvents: number; rowsPerTransaction: number; singleRowSeconds: number; singleRowWriters: number; bigTransactionRows: number }
  readonly latency: { clients: number; rates: readonly number[]; seconds: number }
  readonly fanout: { subscribers: number; eventsPerSecond: number; seconds: number }
  /** `rounds` replays of one `events`-event history, each to a new client (BENCH_REPLAY_ROUNDS overrides it). */
  readonly replay: { events: number; rounds: number }
  /** Live end to end: events committed as fast as the writer can while one client reads them live. */
  readonly live: { events: number }
  /** `clients` on one hot topic leave, `missedEach` events are committed, all resume at once (the resume storm). */
  readonly resume: { clients: number; missedEach: number }
  readonly loss: { clients: number; eventsPerSecond: number; seconds: number; drops: number }
  /**
   * Fresh servers with `baseConnections`, then `connections`, idle subscribed clients:
   * the RSS per connection is the growth between the two, over the difference.
   */
  readonly idle: { connections: number; baseConnections: number }
  /** `slowClients` of `clients` stop reading for `slowSeconds` after a `baselineSeconds` window where all read. */
  readonly slow: { clients: number; slowClients: number; eventsPerSecond: number; baselineSeconds: number; slowSeconds: number }
  /**
   * Catch-up under load: `clients` on the hot topic while a backlog of `backlogEvents`
   * drains, one event in `hotEvery` on the hot topic; bounded by `timeoutSeconds`.
   */
  readonly backlog: { clients: number; backlogEvents: number; hotEvery: number; timeoutSeconds: number }
  /**
   * Scale-out over Redis: `subscribers` on the hot topic at `eventsPerSecond` for `seconds`
   * with 1, 2 and 3 nodes; then `stormClients` resume at once after missing
   * `missedPerTopic` events of their topic. Absent: not measured (smoke keeps CI short).
   */
  readonly scale?: { subscribers: number; eventsPerSecond: number; seconds: number; stormClients: number; missedPerTopic: number }
}

export const PROFILES: Record<Profile['name'], Profile> = {
  smoke: {
    name: 'smoke',
    rounds: 1,
    settleMs: 300,
    population: { users: 100, escrows: 10 },
    ingest: { backlogEvents: 2_000, rowsPerTransaction: 100, singleRowSeconds: 1, singleRowWriters: 2, bigTransactionRows: 0 },
    latency: { clients: 40, rates: [200], seconds: 1.5 },
    fanout: { subscribers: 40, eventsPerSecond: 50, seconds: 1.5 },
    replay: { events: 2_000, rounds: 2 },
    live: { events: 2_000 },
    resume: { clients: 20, missedEach: 50 },
    loss: { clients: 20, eventsPerSecond: 200, seconds: 2, drops: 1 },
    idle: { connections: 100, baseConnections: 20 },
    slow: { clients: 40, slowClients: 1, eventsPerSecond: 200, baselineSeconds: 1, slowSeconds: 1.5 },
    backlog: { clients: 40, backlogEvents: 2_000, hotEvery: 2, timeoutSeconds: 60 },
  },
  quick: {
    name: 'quick',
    rounds: 1,
    settleMs: 500,
    population: { users: 1_000, escrows: 100 },
    ingest: { backlogEvents: 20_000, rowsPerTransaction: 100, singleRowSeconds: 3, singleRowWriters: 8, bigTransactionRows: 0 },
    latency: { clients: 200, rates: [500], seconds: 3 },
    fanout: { subscribers: 500, eventsPerSecond: 100, seconds: 3 },
    replay: { events: 20_000, rounds: 5 },
    live: { events: 20_000 },
    resume: { clients: 200, missedEach: 550 },
    loss: { clients: 100, eventsPerSecond: 500, seconds: 4, drops: 2 },
    idle: { connections: 1_000, baseConnections: 200 },
    slow: { clients: 200, slowClients: 2, eventsPerSecond: 500, baselineSeconds: 2, slowSeconds: 2 },
    backlog: { clients: 200, backlogEvents: 20_000, hotEvery: 5, timeoutSeconds: 120 },
    scale: { subscribers: 500, eventsPerSecond: 100, seconds: 3, stormClients: 1_000, missedPerTopic: 20 },
  },
  full: {
    name: 'full',
    rounds: 2,
    settleMs: 1000,
    population: { users: 10_000, escrows: 100 },
    ingest: { backlogEvents: 200_000, rowsPerTransaction: 100, singleRowSeconds: 20, singleRowWriters: 8, bigTransactionRows: 1_000_000 },
    latency: { clients: 1_000, rates: [500, 2_000], seconds: 15 },
    fanout: { subscribers: 5_000, eventsPerSecond: 40, seconds: 10 },
    replay: { events: 100_000, rounds: 5 },
    live: { events: 50_000 },
    resume: { clients: 200, missedEach: 550 },
    loss: { clients: 500, eventsPerSecond: 500, seconds: 10, drops: 2 },
    idle: { connections: 10_000, baseConnections: 2_000 },
    // 2,000 events/s would reach walcast's 4008 within the window (~10 s after the pause),
    // but with 1,000 clients it saturates these 2 cores in the baseline (bench/findings.md).
    slow: { clients: 1_000, slowClients: 10, eventsPerSecond: 500, baselineSeconds: 4, slowSeconds: 6 },
    // 10,000 hot events × 1,000 clients: 10 M deliveries (about a minute for one load
    // generator here), over 3 MB owed to each client as fast as the ingest drains.
    backlog: { clients: 1_000, backlogEvents: 200_000, hotEvery: 20, timeoutSeconds: 300 },
    // The fan-out phase's load (§3), so one node's figure can be read against it.
    scale: { subscribers: 5_000, eventsPerSecond: 40, seconds: 10, stormClients: 1_000, missedPerTopic: 50 },
  },
}
