import { QueryRouter } from '../../src/index.js';
import { ConnectionHealth, LatencyReference } from '../../src/pool/connection-health.js';
import { quietPgPool } from '../lib/pools.js';
import type { BookkeepingParams } from './params.js';
import { median } from '../lib/stats.js';
import {
  callCosts,
  interleavedCallRounds,
  SELECT_INT,
  type CallCost,
  type CallSender,
  type InterleavedCallParams,
} from '../lib/interleaved-calls.js';

/** What {@link measureCallCost} found: two blocks, before and after the process first ran a scope. */
export interface CallCostResult {
  readonly rounds: number;
  readonly callsPerRound: number;
  /** No scope has run in the process: AsyncLocalStorage's hooks are off. */
  readonly withoutScopes: readonly CallCost[];
  /** The calls run inside `router.scope()` of one router; every router and pg share the process. */
  readonly withScopes: readonly CallCost[];
}

/** Names of the contenders, as printed. */
export const CALL_COST_NAMES = Object.freeze({
  named: 'pg.Pool#query({ name, text, values })',
  router: 'router.query, default options (health scores on)',
  noThreshold: 'router.query, pool.healthThreshold: 0',
  scoped: 'router.query inside router.scope()',
  unscoped: 'router.query, another router (no scope of its own)',
});

const STATEMENT_NAME = 'scopes_call_cost';

async function block(
  senders: readonly CallSender[],
  params: InterleavedCallParams,
  label: string,
  progress?: (message: string) => void,
): Promise<CallCost[]> {
  return callCosts(senders, await interleavedCallRounds(senders, params, label, progress), 0);
}

/**
 * The time per call of `SELECT $1::int` at one caller through named `pg.Pool` statements and through routers on
 * the node at `url`: first with health scores on (the default) and off, before anything in the process ran a
 * scope; then inside a scope of one router next to a router without one. AsyncLocalStorage, once used, stays on
 * for the whole process, so the second block runs last.
 */
export async function measureCallCost(
  url: string,
  params: InterleavedCallParams,
  progress?: (message: string) => void,
): Promise<CallCostResult> {
  const pool = quietPgPool({ connectionString: url });
  const routers = {
    router: new QueryRouter({ primary: url, applicationName: 'scopes-router' }),
    noThreshold: new QueryRouter({
      primary: url,
      pool: { healthThreshold: 0 },
      applicationName: 'scopes-no-threshold',
    }),
    scoped: new QueryRouter({ primary: url, applicationName: 'scopes-scoped' }),
  };
  for (const router of Object.values(routers)) router.on('connectionError', () => undefined);
  const named: CallSender = {
    name: CALL_COST_NAMES.named,
    send: (value) => pool.query({ name: STATEMENT_NAME, text: SELECT_INT, values: [value] }),
  };
  try {
    const withoutScopes = await block(
      [
        named,
        { name: CALL_COST_NAMES.router, send: (value) => routers.router.query(SELECT_INT, [value]) },
        { name: CALL_COST_NAMES.noThreshold, send: (value) => routers.noThreshold.query(SELECT_INT, [value]) },
      ],
      params,
      'call cost without scopes',
      progress,
    );
    const withScopes = await routers.scoped.scope('bench', () =>
      block(
        [
          named,
          { name: CALL_COST_NAMES.unscoped, send: (value) => routers.router.query(SELECT_INT, [value]) },
          { name: CALL_COST_NAMES.scoped, send: (value) => routers.scoped.query(SELECT_INT, [value]) },
        ],
        params,
        'call cost with scopes',
        progress,
      ),
    );
    return { rounds: params.rounds, callsPerRound: params.callsPerRound, withoutScopes, withScopes };
  } finally {
    await Promise.allSettled([pool.end(), ...Object.values(routers).map((router) => router.close())]);
  }
}

/** What {@link measureBookkeeping} found: nanoseconds per statement, medians over rounds. */
export interface BookkeepingResult {
  readonly rounds: number;
  readonly statementsPerRound: number;
  /** The loop alone: drawing a statement time and a clock reading. */
  readonly loopNs: number;
  /** The same loop counting each statement as NodePool's check-in does: score update, node median, score check. */
  readonly checkinNs: number;
}

/**
 * The health-score bookkeeping of one check-in on its own, with no database: `ConnectionHealth.record`,
 * `LatencyReference.observe` and `ConnectionHealth.score`, against the same loop without them.
 */
export function measureBookkeeping(params: BookkeepingParams): BookkeepingResult {
  const times = Float64Array.from({ length: 1024 }, (_, i) => 0.2 + ((i * 7919) % 1000) / 1000);
  let sink = 0;
  const loop = (): number => {
    const started = performance.now();
    for (let i = 0; i < params.statementsPerRound; i++) sink += times[i & 1023]! + i;
    return ((performance.now() - started) * 1e6) / params.statementsPerRound;
  };
  const checkins = (): number => {
    const health = new ConnectionHealth(0);
    const reference = new LatencyReference();
    const started = performance.now();
    for (let i = 0; i < params.statementsPerRound; i++) {
      const ms = times[i & 1023]!;
      health.record(ms, false, reference.medianMs, i);
      reference.observe(ms);
      if (health.score(i, 0) < 50) sink++;
    }
    return ((performance.now() - started) * 1e6) / params.statementsPerRound;
  };
  const loops: number[] = [];
  const counted: number[] = [];
  for (let round = 0; round < params.rounds; round++) {
    globalThis.gc?.();
    loops.push(loop());
    counted.push(checkins());
  }
  if (sink === Number.NEGATIVE_INFINITY) throw new Error('unreachable: keeps the loops from being optimised away');
  return {
    rounds: params.rounds,
    statementsPerRound: params.statementsPerRound,
    loopNs: median(loops),
    checkinNs: median(counted),
  };
}
