/**
 * Simulated web users over one router: each user sends requests with exponential think time between them; a request
 * either writes the user's row and reads it back (a "write-then-read pair", as a form save followed by the page
 * that shows it) or only reads it. Each request is a router session; the user's consistency token goes from one
 * request to the next, as a cookie would. Every read is checked against the user's latest acknowledged write, so a
 * stale read is counted, never guessed.
 */
import { QueryRouter, type SessionOptions } from '../../src/index.js';
import type { ConsistencyBenchParams, ReadPolicy } from './params.js';
import { withClient } from '../lib/schema.js';
import { seededRandom } from '../lib/seeded-random.js';

/** What one policy did at one write share. */
export interface CellResult {
  readonly policy: ReadPolicy;
  readonly writeShare: number;
  readonly writes: number;
  readonly reads: number;
  readonly staleReads: number;
  readonly replicaReads: number;
  /** Read latencies in milliseconds, sorted. */
  readonly readMs: Float64Array;
  readonly seconds: number;
}

const WRITE_SQL = 'UPDATE bench_consistency SET version = $1 WHERE id = $2';
const READ_SQL = 'SELECT version, inet_server_port() AS port FROM bench_consistency WHERE id = $1';

/** The users' table: one row per user, replicated before the run. */
export async function createConsistencySchema(primaryUrl: string, users: number): Promise<void> {
  await withClient(primaryUrl, async (client) => {
    await client.query('DROP TABLE IF EXISTS bench_consistency');
    await client.query('CREATE TABLE bench_consistency (id int PRIMARY KEY, version bigint NOT NULL)');
    await client.query('INSERT INTO bench_consistency SELECT g, 0 FROM generate_series(0, $1::int - 1) g', [users]);
  });
}

/**
 * The router every policy runs on: eventual outside sessions. The read-your-writes policy reads its own writes through
 * its sessions (their default); the others open theirs with `consistency: 'eventual'` (see {@link sessionOptions}),
 * and the framework rule adds the caller's own pinning.
 */
export function benchRouter(
  cluster: { primaryUrl: string; replicaUrls: readonly string[] },
  params: ConsistencyBenchParams,
): QueryRouter {
  return new QueryRouter({
    primary: cluster.primaryUrl,
    replicas: [...cluster.replicaUrls],
    pool: { max: params.poolMax, min: 2 },
    waitForReplicaMs: params.waitForReplicaMs,
  });
}

/** A request's session: read-your-writes from the user's last token, or eventual for the other policies. */
export function sessionOptions(policy: ReadPolicy, token: string | undefined): SessionOptions {
  return policy === 'read-your-writes' ? { after: token } : { consistency: 'eventual' };
}

/** Runs one policy at one write share for `params.cellMs`; `primaryPort` tells replica reads from primary reads. */
export async function runCell(
  router: QueryRouter,
  policy: ReadPolicy,
  writeShare: number,
  params: ConsistencyBenchParams,
  primaryPort: number,
  seed: number,
): Promise<CellResult> {
  const random = seededRandom(seed);
  const deadline = performance.now() + params.cellMs;
  const started = performance.now();
  const latencies: number[] = [];
  let writes = 0;
  let staleReads = 0;
  let replicaReads = 0;
  const versions = new Float64Array(params.users);
  const lastWriteAt = new Float64Array(params.users).fill(Number.NEGATIVE_INFINITY);
  let nextVersion = Date.now() * 1_000;
  const read = async (user: number): Promise<void> => {
    const pinned = policy === 'primary for 2 s after a write' && performance.now() - lastWriteAt[user]! < params.pinMs;
    const begun = performance.now();
    const { rows } = await router.query<{ version: string; port: number }>(
      READ_SQL,
      [user],
      pinned ? { route: 'primary' } : undefined,
    );
    latencies.push(performance.now() - begun);
    if (Number(rows[0]!.version) < versions[user]!) staleReads++;
    if (rows[0]!.port !== primaryPort) replicaReads++;
  };
  const userLoop = async (user: number): Promise<void> => {
    // The user's consistency token, carried from request to request as a cookie would carry it.
    let token: string | undefined;
    // Users start spread over one think time, not all at once.
    await sleep(random() * params.thinkMs);
    while (performance.now() < deadline) {
      token = await router.session(
        async () => {
          if (random() < writeShare) {
            const version = nextVersion++;
            await router.query(WRITE_SQL, [version, user]);
            versions[user] = version;
            lastWriteAt[user] = performance.now();
            writes++;
          }
          await read(user);
          return router.consistencyToken() ?? token;
        },
        sessionOptions(policy, token),
      );
      await sleep(-Math.log(1 - random()) * params.thinkMs);
    }
  };
  await Promise.all(Array.from({ length: params.users }, (_, user) => userLoop(user)));
  const readMs = Float64Array.from(latencies).sort();
  return {
    policy,
    writeShare,
    writes,
    reads: latencies.length,
    staleReads,
    replicaReads,
    readMs,
    seconds: (performance.now() - started) / 1000,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
