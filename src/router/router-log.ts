import type { EventEmitter } from 'node:events';
import { redactSecrets } from '../errors.js';
import type { Logger } from '../metrics/index.js';
import type { RouterEvents } from './router-events.js';

/**
 * Writes the router's events to `logger`: breaker changes, replicas leaving and rejoining, resizes, leaks, slow
 * statements, idle connection errors and warnings. Error messages pass through `redactSecrets`, so a connection
 * string that a driver put in a message never reaches the log.
 */
export function logRouterEvents(
  router: EventEmitter<RouterEvents>,
  logger: Logger,
  nodes: { readonly primary: string; readonly replicas: readonly string[] },
): void {
  logger.info(
    { event: 'started', ...nodes },
    `router started: primary ${nodes.primary}, ${nodes.replicas.length} replica(s)`,
  );
  router.on('breakerOpen', ({ node, retryAt }) =>
    logger.warn(
      { event: 'breakerOpen', node, retryAt: new Date(retryAt).toISOString() },
      `${node}: circuit breaker open, calls fail fast`,
    ),
  );
  router.on('breakerHalfOpen', ({ node }) =>
    logger.info({ event: 'breakerHalfOpen', node }, `${node}: circuit breaker half-open, trying one call`),
  );
  router.on('breakerClose', ({ node }) =>
    logger.info({ event: 'breakerClose', node }, `${node}: circuit breaker closed, node back`),
  );
  router.on('replicaDown', ({ node, reason }) =>
    logger.warn(
      { event: 'replicaDown', node, reason: reason === undefined ? undefined : redactSecrets(reason) },
      `${node}: failed its health check, out of the balancer`,
    ),
  );
  router.on('replicaUp', ({ node }) =>
    logger.info({ event: 'replicaUp', node }, `${node}: healthy again, back in the balancer`),
  );
  router.on('poolResize', ({ node, from, to, reason }) =>
    logger.info({ event: 'poolResize', node, from, to, reason }, `${node}: pool target ${from} → ${to}`),
  );
  router.on('leak', ({ node, heldMs, stack }) =>
    logger.warn({ event: 'leak', node, heldMs, stack }, `${node}: a connection held for ${heldMs} ms (leak?)`),
  );
  router.on('slowQuery', ({ node, fingerprint, durationMs }) =>
    logger.warn(
      { event: 'slowQuery', node, fingerprint, durationMs: Math.round(durationMs * 10) / 10 },
      `${node}: slow statement (${Math.round(durationMs)} ms)`,
    ),
  );
  router.on('connectionError', ({ node, error }) =>
    logger.warn(
      { event: 'connectionError', node, error: redactSecrets(error.message) },
      `${node}: idle connection failed`,
    ),
  );
  router.on('warning', ({ message }) => logger.warn({ event: 'warning' }, redactSecrets(message)));
}
