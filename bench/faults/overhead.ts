import CircuitBreaker from 'opossum';
import { DEFAULTS, QueryRouter } from '../../src/index.js';
import { NodePool } from '../../src/pool/index.js';
import { BREAKER_DEFAULTS, NodeBreaker } from '../../src/resilience/index.js';
import { quietPgPool } from '../lib/pools.js';
import type { OpossumParams } from './params.js';
import { median } from '../lib/stats.js';
import {
  callCosts,
  interleavedCallRounds,
  medianAdded,
  SELECT_INT,
  type CallCost,
  type CallSender,
  type InterleavedCallParams,
} from '../lib/interleaved-calls.js';
import { inRotation } from '../lib/rounds.js';

/** A contender with a connection pool of its own to close. */
interface Sender extends CallSender {
  close(): Promise<void>;
}

/** What {@link measureOverhead} found. */
export interface OverheadResult {
  readonly rounds: number;
  readonly callsPerRound: number;
  /** In {@link OVERHEAD_NAMES} order: the two pg.Pool baselines, the router's layers one by one, the router. */
  readonly contenders: readonly CallCost[];
  /** The router's figure over named pg.Pool statements (the same wire protocol): its own work per call. */
  readonly addedUs: number;
  /** The router's figure over unnamed pg.Pool statements, whose Parse on every call the router's statement cache saves. */
  readonly addedVsUnnamedUs: number;
}

/** Names of the overhead contenders, as printed. */
export const OVERHEAD_NAMES = Object.freeze({
  unnamed: 'pg.Pool#query(text, values)',
  named: 'pg.Pool#query({ name, text, values })',
  pool: 'router layer 1: its NodePool#execute',
  breaker: 'router layer 2: NodeBreaker#fire(NodePool#execute)',
  router: 'router.query, default options',
});

/** The statement name the router's cache would give it; any name does, as long as it is one per text. */
const STATEMENT_NAME = 'faults_overhead';

function pgSender(name: string, url: string, named: boolean): Sender {
  const pool = quietPgPool({ connectionString: url });
  return {
    name,
    send: named
      ? (value) => pool.query({ name: STATEMENT_NAME, text: SELECT_INT, values: [value] })
      : (value) => pool.query(SELECT_INT, [value]),
    close: () => pool.end(),
  };
}

/** A NodePool as a router with default options makes one. */
function defaultNodePool(url: string): NodePool {
  return new NodePool({
    name: 'primary',
    connection: { connectionString: url },
    ...DEFAULTS.pool,
    statementCacheMax: DEFAULTS.statementCache.max,
    statementTimeoutMs: DEFAULTS.breaker.timeoutMs,
    applicationName: DEFAULTS.applicationName,
    onIdleError: () => undefined,
  });
}

const executeOn = (pool: NodePool, value: number): Promise<unknown> =>
  pool.execute(SELECT_INT, [value], STATEMENT_NAME);

function poolSender(url: string): Sender {
  const pool = defaultNodePool(url);
  return { name: OVERHEAD_NAMES.pool, send: (value) => executeOn(pool, value), close: () => pool.end() };
}

function breakerSender(url: string): Sender {
  const pool = defaultNodePool(url);
  const breaker = new NodeBreaker('primary', DEFAULTS.breaker);
  return {
    name: OVERHEAD_NAMES.breaker,
    send: (value) => breaker.fire(executeOn, pool, value),
    close: async () => {
      breaker.shutdown();
      await pool.end();
    },
  };
}

function routerSender(url: string): Sender {
  const router = new QueryRouter({ primary: url });
  router.on('connectionError', () => undefined);
  return {
    name: OVERHEAD_NAMES.router,
    send: (value) => router.query(SELECT_INT, [value]),
    close: () => router.close(),
  };
}

/**
 * `SELECT $1::int` at one caller on the node at `url`: through unnamed and named `pg.Pool` statements, through the
 * router's layers on their own (its `NodePool`, then its `NodeBreaker` around it) and through a router with default
 * options whose only node is `url`. Warm-up, then rounds of interleaved calls; per round each contender's median,
 * then the median over rounds of each contender's difference to named pg.Pool in the same round.
 */
export async function measureOverhead(
  url: string,
  params: InterleavedCallParams,
  progress?: (message: string) => void,
): Promise<OverheadResult> {
  const senders = [
    pgSender(OVERHEAD_NAMES.unnamed, url, false),
    pgSender(OVERHEAD_NAMES.named, url, true),
    poolSender(url),
    breakerSender(url),
    routerSender(url),
  ];
  const named = 1;
  const router = senders.length - 1;
  let medians: number[][];
  try {
    medians = await interleavedCallRounds(senders, params, 'overhead', progress);
  } finally {
    await Promise.allSettled(senders.map((s) => s.close()));
  }
  return {
    rounds: params.rounds,
    callsPerRound: params.callsPerRound,
    contenders: callCosts(senders, medians, named),
    addedUs: medianAdded(medians, router, named),
    addedVsUnnamedUs: medianAdded(medians, router, 0),
  };
}

/** One variant of the opossum micro-benchmark: nanoseconds per awaited call, median over rounds. */
export interface OpossumVariant {
  readonly name: string;
  readonly nsPerCall: number;
}

/** What {@link measureOpossum} found. */
export interface OpossumResult {
  readonly rounds: number;
  readonly callsPerRound: number;
  /** The direct call first; the others add their cost to it. */
  readonly variants: readonly OpossumVariant[];
}

/** Names of the opossum variants, as printed. */
export const OPOSSUM_NAMES = Object.freeze({
  direct: 'await fn(i) (direct)',
  bare: 'await breaker.fire(i), opossum as the router configures it',
  defaults: 'await breaker.fire(i), opossum defaults (10 s timeout)',
  node: "await nodeBreaker.fire(fn, i) (the router's wrapper)",
});

/**
 * Nanoseconds per awaited call of an async function that resolves at once: called directly, through a bare
 * opossum breaker configured as the router configures it (no timeout, no rolling percentiles, no snapshots),
 * through opossum with its defaults (one timer armed and cleared per call, percentiles sorted), and through the
 * router's `NodeBreaker` (the same opossum settings plus its own listeners and error translation). In rounds, the
 * order rotating, GC between variants.
 */
export async function measureOpossum(params: OpossumParams): Promise<OpossumResult> {
  const fn = async (value: number): Promise<number> => value;
  // As NodeBreaker configures it: no per-call timer (the pool enforces statement timeouts), no percentile sorting.
  const bare = new CircuitBreaker(fn, { timeout: false, rollingPercentilesEnabled: false, enableSnapshots: false });
  const defaults = new CircuitBreaker(fn);
  const node = new NodeBreaker('bench', BREAKER_DEFAULTS);
  let sink = 0;
  const variants: { name: string; run: (i: number) => Promise<number>; timings: number[] }[] = [
    { name: OPOSSUM_NAMES.direct, run: (i) => fn(i), timings: [] },
    { name: OPOSSUM_NAMES.bare, run: (i) => bare.fire(i), timings: [] },
    { name: OPOSSUM_NAMES.defaults, run: (i) => defaults.fire(i), timings: [] },
    { name: OPOSSUM_NAMES.node, run: (i) => node.fire(fn, i), timings: [] },
  ];
  const loop = async (run: (i: number) => Promise<number>, calls: number): Promise<number> => {
    const started = performance.now();
    for (let i = 0; i < calls; i++) sink += await run(i);
    return ((performance.now() - started) * 1e6) / calls;
  };
  try {
    for (const variant of variants) await loop(variant.run, Math.min(params.callsPerRound, 20_000));
    for (let round = 0; round < params.rounds; round++) {
      for (const variant of inRotation(variants, round)) {
        globalThis.gc?.();
        variant.timings.push(await loop(variant.run, params.callsPerRound));
      }
    }
  } finally {
    bare.shutdown();
    defaults.shutdown();
    node.shutdown();
  }
  // Keeps the results alive, so no engine could drop the calls as unused.
  if (sink < 0) throw new Error('unreachable');
  return {
    rounds: params.rounds,
    callsPerRound: params.callsPerRound,
    variants: variants.map((v) => ({ name: v.name, nsPerCall: median(v.timings) })),
  };
}
