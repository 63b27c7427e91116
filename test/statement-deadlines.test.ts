import type { PoolClient } from 'pg';
import { describe, expect, it } from 'vitest';
import { attachState, type ClientState } from '../src/pool/client-state.js';
import { ConnectionHealth } from '../src/pool/connection-health.js';
import { StatementDeadlines, unwatch } from '../src/pool/statement-deadlines.js';
import { until } from './helpers/wait.js';

/*
 * The pace of the one timer that checks a pool's statement deadlines (pure bookkeeping: the clients here are plain
 * objects with the pool's per-connection state, no server). Real connections with real timeouts are covered by the
 * pool's tests (bad-input, cancel-request, failover).
 */

/** A stand-in for a checked-out connection: only its state is read. */
function connection(): { client: PoolClient; state: ClientState } {
  const client = {} as PoolClient;
  const state = attachState(client, undefined, undefined, new ConnectionHealth(performance.now()));
  state.active = true;
  return { client, state };
}

describe('statement deadlines', () => {
  it('checks as often as the shortest time watched needs, and stops when nothing is watched', async () => {
    const a = connection();
    const b = connection();
    const deadlines = new StatementDeadlines(new Set([a.client, b.client]));
    try {
      expect(deadlines.sweepIntervalMs).toBeUndefined();
      deadlines.watch(a.state, 30_000);
      expect(deadlines.sweepIntervalMs).toBe(1_000);
      deadlines.watch(b.state, 2_000);
      expect(deadlines.sweepIntervalMs).toBe(100);
      // Once the short one ends, the next sweep slows down again; once nothing is watched, the timer stops.
      unwatch(b.state);
      await until(() => deadlines.sweepIntervalMs === 1_000, 30_000);
      unwatch(a.state);
      await until(() => deadlines.sweepIntervalMs === undefined, 30_000);
      deadlines.watch(a.state, 500);
      expect(deadlines.sweepIntervalMs).toBe(25);
    } finally {
      deadlines.stop();
    }
  });

  it('still fires a deadline, then cuts a connection whose cancel was not confirmed, and stops', async () => {
    const a = connection();
    const deadlines = new StatementDeadlines(new Set([a.client]));
    try {
      deadlines.watch(a.state, 50);
      // Past the deadline a cancel request is sent (this stand-in has no backend key, so none leaves) and the grace
      // (100 ms for a 50 ms timeout) begins; past the grace the connection is cut and the timeout recorded.
      await until(() => a.state.timedOutMs === 50, 30_000);
      expect(a.state.deadlineAt).toBe(0);
      expect(a.state.cancelAt).toBe(0);
      await until(() => deadlines.sweepIntervalMs === undefined, 30_000);
    } finally {
      deadlines.stop();
    }
  });
});
