import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgresBinaries, startLocalCluster, type LocalCluster } from '../src/testing.js';
import { sharedCluster } from './helpers/cluster.js';

async function query<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
  config: Partial<pg.ClientConfig> = {},
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, ...config });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Zombies count as gone: an orphaned backend may never be reaped by this machine's init. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !existsSync('/proc/self/stat');
  }
}

function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now()}`;
}

describe('the shared cluster', () => {
  const { primaryUrl, replicaUrls, waitForReplication } = sharedCluster();

  it('has a primary out of recovery and two replicas in recovery', async () => {
    expect(replicaUrls).toHaveLength(2);
    expect(await query(primaryUrl, 'SELECT pg_is_in_recovery() AS recovering')).toEqual([{ recovering: false }]);
    for (const url of replicaUrls) {
      expect(await query(url, 'SELECT pg_is_in_recovery() AS recovering')).toEqual([{ recovering: true }]);
    }
  });

  it('lists both replicas as streaming in pg_stat_replication', async () => {
    const rows = await query<{ application_name: string; state: string }>(
      primaryUrl,
      'SELECT application_name, state FROM pg_stat_replication ORDER BY application_name',
    );
    expect(rows).toEqual([
      { application_name: 'replica1', state: 'streaming' },
      { application_name: 'replica2', state: 'streaming' },
    ]);
  });

  it('shows a table written on the primary on both replicas after waitForReplication()', async () => {
    const table = uniqueName('cluster_visible');
    await query(primaryUrl, `CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
    try {
      await query(primaryUrl, `INSERT INTO ${table} VALUES (1, 'one'), (2, 'two')`);
      await waitForReplication();
      for (const url of replicaUrls) {
        expect(await query(url, `SELECT id, note FROM ${table} ORDER BY id`)).toEqual([
          { id: 1, note: 'one' },
          { id: 2, note: 'two' },
        ]);
      }
    } finally {
      await query(primaryUrl, `DROP TABLE ${table}`);
    }
  });
});

describe('a cluster of its own (one replica)', () => {
  let cluster: LocalCluster;
  const replica = (): string => cluster.replicaUrls[0] ?? '';

  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('names its nodes and exposes URLs that carry the password', () => {
    expect(cluster.nodes.map((n) => [n.name, n.role])).toEqual([
      ['primary', 'primary'],
      ['replica1', 'replica'],
    ]);
    expect(cluster.primaryUrl).toBe(cluster.nodes[0]?.url);
    expect(cluster.primaryUrl).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    expect(cluster.version).toBeGreaterThanOrEqual(12);
    expect(existsSync(join(cluster.dir, 'cluster.json'))).toBe(true);
  });

  it('pauseNode freezes a replica (queries time out) until resumeNode', async () => {
    const client = new pg.Client({ connectionString: replica(), query_timeout: 1_000 });
    client.on('error', () => undefined);
    await client.connect();
    cluster.pauseNode('replica1');
    try {
      await expect(client.query('SELECT 1')).rejects.toThrow(/timeout/i);
      await expect(query(replica(), 'SELECT 1', [], { connectionTimeoutMillis: 1_000 })).rejects.toThrow();
    } finally {
      cluster.resumeNode('replica1');
    }
    expect(await query(replica(), 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await client.end().catch(() => undefined);
  });

  it('stopNode and killNode take a replica down; startNode brings it back streaming', async () => {
    await cluster.stopNode('replica1');
    expect(cluster.nodes[1]?.pid).toBeUndefined();
    await cluster.startNode('replica1');

    const pid = cluster.nodes[1]?.pid ?? 0;
    const backends = (await query<{ pid: number }>(replica(), 'SELECT pid FROM pg_stat_activity')).map((r) => r.pid);
    expect(backends.length).toBeGreaterThan(0);
    await cluster.killNode(1);
    expect(cluster.nodes[1]?.pid).toBeUndefined();
    expect([pid, ...backends].filter(alive)).toEqual([]);
    await expect(query(replica(), 'SELECT 1', [], { connectionTimeoutMillis: 1_000 })).rejects.toThrow();

    await cluster.startNode('replica1');
    const rows = await query<{ state: string }>(
      cluster.primaryUrl,
      "SELECT state FROM pg_stat_replication WHERE application_name = 'replica1'",
    );
    expect(rows.map((r) => r.state)).toContain('streaming');
    const table = uniqueName('after_kill');
    await query(cluster.primaryUrl, `CREATE TABLE ${table} AS SELECT 42 AS answer`);
    await cluster.waitForReplication();
    expect(await query(replica(), `SELECT answer FROM ${table}`)).toEqual([{ answer: 42 }]);
  });

  it('promoteNode turns the replica into a writable primary', async () => {
    await cluster.promoteNode('replica1');
    expect(cluster.nodes[1]?.role).toBe('primary');
    expect(await query(replica(), 'SELECT pg_is_in_recovery() AS recovering')).toEqual([{ recovering: false }]);
    const table = uniqueName('promoted');
    await query(replica(), `CREATE TABLE ${table} (id int)`);
    await query(replica(), `INSERT INTO ${table} VALUES (7)`);
    expect(await query(replica(), `SELECT id FROM ${table}`)).toEqual([{ id: 7 }]);
  });

  it('stop() removes the directory and leaves no server process behind', async () => {
    const pids: number[] = [];
    for (const node of cluster.nodes) {
      pids.push(node.pid ?? 0);
      pids.push(...(await query<{ pid: number }>(node.url, 'SELECT pid FROM pg_stat_activity')).map((r) => r.pid));
    }
    await cluster.stop();
    expect(existsSync(cluster.dir)).toBe(false);
    expect(pids.filter(alive)).toEqual([]);
    expect(cluster.nodes.map((n) => n.pid)).toEqual([undefined, undefined]);
    await cluster.stop();
  });
});

describe('findPostgresBinaries', () => {
  it('honours an explicit directory', () => {
    const { binDir } = findPostgresBinaries();
    expect(findPostgresBinaries(binDir)).toEqual({ binDir, source: 'PG_BIN' });
  });

  it('rejects a directory without postgres, saying what is missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'pgrouter-nobin-'));
    try {
      expect(() => findPostgresBinaries(empty)).toThrow(/has no executable "postgres"/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
