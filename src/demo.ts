import { startLocalCluster, type LocalCluster } from './testing.js';
import { QueryRouter } from './router/index.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** How long the workload runs, in seconds. Default `20`. */
  seconds?: number;
  /** Concurrent callers. Default `16`. */
  concurrency?: number;
  /** Where the live summary goes. Default `console.log`. */
  print?: (line: string) => void;
  /** Port of the dashboard (`router.serve`). Default: a free one. */
  port?: number;
}

const USERS = 2_000;

const READS = [
  { sql: 'SELECT id, name, email FROM demo_users WHERE id = $1', params: (): unknown[] => [randomUser()] },
  {
    sql: 'SELECT id, total_cents, created_at FROM demo_orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 10',
    params: (): unknown[] => [randomUser()],
  },
  {
    sql: `SELECT u.id, u.name, count(o.id) AS orders, coalesce(sum(o.total_cents), 0) AS spent
            FROM demo_users u LEFT JOIN demo_orders o ON o.user_id = u.id
           WHERE u.id BETWEEN $1 AND $1 + 20 GROUP BY u.id, u.name ORDER BY spent DESC`,
    params: (): unknown[] => [randomUser()],
  },
];

function randomUser(): number {
  return 1 + Math.floor(Math.random() * USERS);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * The main job: starts a throwaway primary with two streaming replicas, drives a mixed read/write workload
 * through a {@link QueryRouter} while printing a live summary each second, then stops everything.
 */
export async function runDemo(options: DemoOptions = {}): Promise<void> {
  const seconds = options.seconds ?? 20;
  const concurrency = options.concurrency ?? 16;
  const print = options.print ?? ((line: string) => console.log(line));
  print('Starting a local primary and two streaming replicas…');
  const started = Date.now();
  // Commits wait for their WAL to be flushed, as on a production primary: replicas then get each write at once.
  const cluster: LocalCluster = await startLocalCluster({ replicas: 2, settings: { synchronous_commit: 'on' } });
  print(
    `Cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s: PostgreSQL ${cluster.version}, primary on port ${cluster.nodes[0]!.port}, replicas on ${cluster.nodes
      .slice(1)
      .map((node) => node.port)
      .join(' and ')}`,
  );
  const router = new QueryRouter({
    primary: cluster.primaryUrl,
    replicas: cluster.replicaUrls,
    pool: { min: 2, max: 12 },
    adaptive: { enabled: true, intervalMs: 1_000, cooldownMs: 3_000 },
  });
  const monitor = await router.serve({ port: options.port ?? 0 });
  print(
    `Live dashboard: ${monitor.url}/  (metrics ${monitor.url}/metrics, health ${monitor.url}/health) — open it now, it updates every second.`,
  );
  let resizes = 0;
  router.on('poolResize', () => void resizes++);
  let stopping = false;
  const onSignal = (): void => {
    stopping = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await router.query(
      `CREATE TABLE demo_users (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    await router.query(
      `CREATE TABLE demo_orders (id bigserial PRIMARY KEY, user_id int NOT NULL REFERENCES demo_users, total_cents int NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
    );
    await router.query('CREATE INDEX ON demo_orders (user_id, created_at)');
    await router.query(
      `INSERT INTO demo_users (id, name, email) SELECT g, 'user ' || g, 'user' || g || '@example.com' FROM generate_series(1, ${USERS}) g`,
    );
    await router.query(
      `INSERT INTO demo_orders (user_id, total_cents) SELECT 1 + (g % ${USERS}), (g * 37) % 10000 FROM generate_series(1, 20000) g`,
    );
    await cluster.waitForReplication();

    print('');
    print('How the router decides (router.explain):');
    for (const sql of [
      READS[0]!.sql,
      'UPDATE demo_users SET updated_at = now() WHERE id = $1',
      'SELECT * FROM demo_orders WHERE id = $1 FOR UPDATE',
      "SELECT nextval('demo_orders_id_seq')",
      'WITH gone AS (DELETE FROM demo_orders WHERE id = $1 RETURNING *) SELECT count(*) FROM gone',
      "SELECT '; DELETE FROM demo_users' AS harmless /* UPDATE */",
    ]) {
      const verdict = router.explain(sql);
      print(`  ${verdict.route.padEnd(7)} ${verdict.reason.padEnd(42)} ${sql.replace(/\s+/g, ' ').slice(0, 70)}`);
    }
    print('');
    print(
      `Driving ${concurrency} concurrent callers for ${seconds} s (70% reads, 15% inserts, 10% edits read back in read-your-writes sessions, 5% transactions)…`,
    );

    const deadline = Date.now() + seconds * 1000;
    let latencies: number[] = [];
    let failures = 0;
    // Profile edits read back at once, as the page after a form save would: they must never see the old value.
    const edits = { sessions: 0, stale: 0 };
    const worker = async (_: unknown, workerIndex: number): Promise<void> => {
      while (!stopping && Date.now() < deadline) {
        const roll = Math.random();
        const t0 = performance.now();
        try {
          if (roll < 0.7) {
            const read = READS[Math.floor(Math.random() * READS.length)]!;
            await router.query(read.sql, read.params());
          } else if (roll < 0.85) {
            await router.query('INSERT INTO demo_orders (user_id, total_cents) VALUES ($1, $2)', [
              randomUser(),
              Math.floor(Math.random() * 10000),
            ]);
          } else if (roll < 0.95) {
            await router.session(async () => {
              // Each caller edits users of its own, so a read that differs from the edit can only be a stale one.
              const user = workerIndex + 1 + concurrency * Math.floor(Math.random() * Math.floor(USERS / concurrency));
              const name = `user ${user} (${Date.now()})`;
              await router.query('UPDATE demo_users SET name = $1, updated_at = now() WHERE id = $2', [name, user]);
              const { rows } = await router.query<{ name: string }>('SELECT name FROM demo_users WHERE id = $1', [
                user,
              ]);
              edits.sessions++;
              if (rows[0]?.name !== name) edits.stale++;
            });
          } else {
            await router.transaction(async (tx) => {
              const { rows } = await tx.query<{ id: string }>(
                'SELECT id FROM demo_orders WHERE user_id = $1 ORDER BY id LIMIT 1 FOR UPDATE',
                [randomUser()],
              );
              if (rows[0] !== undefined)
                await tx.query('UPDATE demo_orders SET total_cents = total_cents + 1 WHERE id = $1', [rows[0].id]);
            });
          }
          latencies.push(performance.now() - t0);
        } catch {
          failures++;
        }
      }
    };
    let previous = router.stats();
    const header = `${'t'.padStart(4)}  ${'q/s'.padStart(6)}  ${'primary'.padStart(8)} ${'replica-0'.padStart(9)} ${'replica-1'.padStart(9)}  ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)}  ${'class. hit'.padStart(10)} ${'stmt hit'.padStart(8)}`;
    print(header);
    let tick = 0;
    const timer = setInterval(() => {
      tick++;
      const now = router.stats();
      const perNode = now.nodes.map((node, i) => node.queries - previous.nodes[i]!.queries);
      const sorted = latencies.sort((a, b) => a - b);
      latencies = [];
      print(
        `${String(tick).padStart(3)}s  ${String(perNode.reduce((a, b) => a + b, 0)).padStart(6)}  ${String(perNode[0]).padStart(8)} ${String(perNode[1]).padStart(9)} ${String(perNode[2]).padStart(9)}  ${percentile(sorted, 50).toFixed(2).padStart(7)} ${percentile(sorted, 99).toFixed(2).padStart(7)}  ${(now.classifierCache.hitRate * 100).toFixed(1).padStart(9)}% ${(now.statementCache.hitRate * 100).toFixed(1).padStart(7)}%`,
      );
      previous = now;
    }, 1000);
    await Promise.all(Array.from({ length: concurrency }, worker));
    clearInterval(timer);

    const final = router.stats();
    const total = final.routing.primary + final.routing.replica;
    print('');
    print(
      `Done: ${total} statements and transactions, ${((final.routing.replica / Math.max(total, 1)) * 100).toFixed(1)}% served by replicas, ${failures} failed.`,
    );
    const { consistency } = final;
    const onReplica =
      consistency.readsOnReplicaKnown + consistency.readsOnReplicaChecked + consistency.readsOnReplicaAfterWait;
    print(
      `Read-your-writes: ${edits.sessions} profile edits read back at once, ${edits.stale} stale; ` +
        `${((onReplica / Math.max(onReplica + consistency.readsOnPrimary, 1)) * 100).toFixed(1)}% of those reads served by replicas that had replayed the edit.`,
    );
    for (const node of final.nodes) {
      print(
        `  ${node.name.padEnd(10)} ${node.url.padEnd(26)} ${String(node.queries).padStart(7)} statements, pool ${node.pool.total}/${node.pool.max} open, mean ${node.latencyMs.toFixed(2)} ms`,
      );
    }
    print(
      `  classifier cache: ${final.classifierCache.size} entries, hit rate ${(final.classifierCache.hitRate * 100).toFixed(2)}%`,
    );
    print(
      `  prepared statements: ${final.statementCache.hits} reused, ${final.statementCache.misses} prepared, ${final.statementCache.evictions} evicted`,
    );
    print(
      `  adaptive sizing: ${resizes} resizes; targets now ${final.nodes.map((node) => `${node.name} ${node.pool.target}`).join(', ')}`,
    );
    const { frequent } = router.patterns(3);
    print('  most frequent patterns:');
    for (const pattern of frequent)
      print(
        `    ${pattern.ratePerSecond.toFixed(0).padStart(6)}/s  p95 ${pattern.p95Ms.toFixed(2)} ms  ${pattern.route.padEnd(7)}  ${pattern.fingerprint.replace(/\s+/g, ' ').slice(0, 90)}`,
      );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await router.close();
    await cluster.stop();
    print('Cluster stopped and removed.');
  }
}
