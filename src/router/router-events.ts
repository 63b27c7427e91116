/** Events of a {@link QueryRouter}, for `router.on(name, listener)`. */
export interface RouterEvents {
  /**
   * An idle pooled connection failed (the node restarted, the network dropped it). The connection is discarded
   * and replaced on demand; nothing the application sent was lost. Unlike `pg.Pool`'s `error` event, an
   * unhandled one does not crash the process.
   */
  connectionError: [event: { node: string; error: Error }];
  /** A node's breaker opened: calls to it fail at once until `retryAt` (epoch ms). */
  breakerOpen: [event: { node: string; retryAt: number }];
  /** A node's breaker lets one trial call through. */
  breakerHalfOpen: [event: { node: string }];
  /** A node's breaker closed again: the node is back. */
  breakerClose: [event: { node: string }];
  /** A replica failed its health check and left the balancer. */
  replicaDown: [event: { node: string; reason: string | undefined }];
  /** A replica passed its health check again and rejoined the balancer. */
  replicaUp: [event: { node: string }];
  /** A `transaction()` held its connection past `pool.leakTimeoutMs`; `stack` says where it was taken (with `pool.leakStackTraces`). */
  leak: [event: { node: string; heldMs: number; stack: string | undefined }];
  /** Adaptive sizing changed a pool's target (`adaptive.enabled`): from `from` to `to` connections, and why. */
  poolResize: [event: { node: string; from: number; to: number; reason: string }];
  /**
   * Something the router worked around but an operator should know, e.g. an adaptive state file that was
   * ignored. Without a listener it becomes a Node process warning.
   */
  warning: [event: { message: string }];
  /** A `query()` took at least `slowQueryMs`; the statement is named by its fingerprint, never its text. */
  slowQuery: [event: { node: string; fingerprint: string; durationMs: number }];
  /**
   * Opening a connection failed at connection level and is retried (`pool.connectRetries`) after `delayMs`;
   * `retry` counts from 1. Authentication and configuration errors are never retried.
   */
  connectRetry: [event: { node: string; retry: number; delayMs: number; error: Error }];
  /** A replica trails the primary by more than `maxReplicaLagMs` (or `maxReplicaLagBytes`) and left the balancer. */
  replicaLagging: [event: { node: string; lagMs: number; lagBytes: number }];
  /** A lagging replica caught up and rejoined the balancer. */
  replicaCaughtUp: [event: { node: string }];
  /** With `failover: 'auto'`: the primary stopped answering (or went into recovery) and a promoted node took its place. */
  primaryChanged: [event: { from: string; to: string }];
}
