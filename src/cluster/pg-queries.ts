import pg from 'pg';

/** Connection settings of one node, as handed to `pg.Client`. */
export type NodeConnection = string | pg.ClientConfig;

/** `application_name` of the connections the cluster itself opens (readiness probes, replication checks). */
export const CLUSTER_APPLICATION_NAME = 'pg-query-router-cluster';

/** SQLSTATEs and errnos that only mean "not yet": the server is starting, recovering or not listening. */
const NOT_YET = new Set(['57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/** Options of {@link queryOnce}. */
export interface QueryOnceOptions {
  /** Connection timeout and query timeout of the client, in ms. Default 5_000. */
  readonly timeoutMs?: number;
}

/**
 * Opens a connection, hands it to `fn`, closes it. Errors never carry the password: pg's messages do
 * not include connection settings.
 */
export async function withClient<T>(
  connection: NodeConnection,
  fn: (client: pg.Client) => Promise<T>,
  options: QueryOnceOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const base: pg.ClientConfig = typeof connection === 'string' ? { connectionString: connection } : connection;
  const client = new pg.Client({
    ...base,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    // Lets tests that count connections in pg_stat_activity tell ours apart.
    application_name: CLUSTER_APPLICATION_NAME,
  });
  // A server that dies mid-query emits 'error' on the client; unhandled, it would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    // end() sends Terminate at once; awaiting the socket's close too costs ~10 ms a call for nothing.
    client.end().catch(() => undefined);
  }
}

/** Opens a connection, runs one statement, closes it; resolves to the rows. */
export function queryOnce<R extends pg.QueryResultRow = pg.QueryResultRow>(
  connection: NodeConnection,
  sql: string,
  params: readonly unknown[] = [],
  options: QueryOnceOptions = {},
): Promise<R[]> {
  return withClient(connection, async (client) => (await client.query<R>(sql, [...params])).rows, options);
}

/** True for the errors a starting server gives: keep polling. */
export function isNotYet(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NOT_YET.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /timeout|terminated|Connection terminated/i.test(message);
}

/** Sleeps `ms`; the timer keeps Node alive while a cluster waits on its unref'ed servers. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A WAL position ("16/B374D848") as a number that compares correctly. */
export function parseLsn(lsn: string): bigint {
  const [hi, lo] = lsn.split('/');
  if (hi === undefined || lo === undefined) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** A replica to wait for, and how messages name it (never by URL: that holds the password). */
export interface ReplayTarget {
  readonly connection: NodeConnection;
  readonly label: string;
}

/**
 * Resolves once every replica has replayed all WAL the primary had produced when the call began.
 * Replicas that are no longer in recovery (promoted) count as caught up.
 *
 * Useful where only URLs are at hand, e.g. in a test file using the suite's shared cluster; a
 * {@link LocalCluster} has the same as its `waitForReplication()`.
 *
 * @param timeoutMs default `30_000`
 * @throws Error naming the replica (by position, never by URL) that did not catch up in time.
 */
export function waitForReplicaReplay(
  primaryUrl: string,
  replicaUrls: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  return waitForReplay(
    primaryUrl,
    replicaUrls.map((url, i) => ({ connection: url, label: `replica #${i + 1}` })),
    timeoutMs,
  );
}

/**
 * {@link waitForReplicaReplay} for labelled connections.
 *
 * The primary runs with `synchronous_commit = off`, so a just-committed write may still sit in its
 * WAL buffers, unsent. A write committed under `synchronous_commit = on` flushes everything before
 * its own commit record; the flush position after it is then a target every replica reaches.
 */
export async function waitForReplay(
  primary: NodeConnection,
  replicas: readonly ReplayTarget[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const target = await withClient(primary, async (client) => {
    await client.query('SET synchronous_commit = on');
    // A commit only flushes when its transaction wrote WAL (an xid alone does not): a transactional
    // logical message is the cheapest write there is, and needs no table.
    await client.query("SELECT pg_logical_emit_message(true, 'pg-query-router', 'flush')");
    const { rows } = await client.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
    const lsn = rows[0]?.lsn;
    if (lsn === undefined) throw new Error('waitForReplication: the primary reported no WAL position');
    return lsn;
  });
  const targetLsn = parseLsn(target);
  await Promise.all(replicas.map((replica) => waitForReplica(replica, targetLsn, target, deadline, timeoutMs)));
}

async function waitForReplica(
  { connection: replica, label }: ReplayTarget,
  targetLsn: bigint,
  target: string,
  deadline: number,
  timeoutMs: number,
): Promise<void> {
  for (;;) {
    try {
      const done = await withClient(
        replica,
        async (client) => {
          for (;;) {
            const { rows } = await client.query<{ lsn: string | null; recovering: boolean }>(
              'SELECT pg_last_wal_replay_lsn()::text AS lsn, pg_is_in_recovery() AS recovering',
            );
            const state = rows[0];
            if (state !== undefined && (!state.recovering || (state.lsn !== null && parseLsn(state.lsn) >= targetLsn)))
              return true;
            if (Date.now() >= deadline) return false;
            await sleep(10);
          }
        },
        { timeoutMs: Math.max(1_000, Math.min(5_000, deadline - Date.now())) },
      );
      if (done) return;
    } catch (err) {
      if (!isNotYet(err) || Date.now() >= deadline) throw err;
      await sleep(50);
      continue;
    }
    throw new Error(`waitForReplication: ${label} did not replay ${target} within ${timeoutMs} ms`);
  }
}
