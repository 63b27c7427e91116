import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { depthOf, levels, resolveCascade } from '../src/cluster/cascade.js';
import { startLocalCluster, waitForReplicaReplay, type LocalCluster } from '../src/testing.js';
import { until } from './helpers/wait.js';

async function query<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface Receiver {
  status: string;
  sender_port: number;
  received_tli: number;
}

describe('the cascade option, resolved', () => {
  it('maps every replica to its upstream: the primary unless named, by index or by name', () => {
    expect(resolveCascade(undefined, 2)).toEqual([undefined, 0, 0]);
    expect(resolveCascade({}, 0)).toEqual([undefined]);
    expect(resolveCascade({ 2: 1 }, 2)).toEqual([undefined, 0, 1]);
    expect(resolveCascade({ replica2: 'replica1', replica3: 2 }, 3)).toEqual([undefined, 0, 1, 2]);
    expect(resolveCascade({ replica2: 'primary' }, 2)).toEqual([undefined, 0, 0]);
    const chain = resolveCascade({ 3: 'replica2', 2: 'replica1' }, 4);
    expect(chain.map((_, i) => depthOf(chain, i))).toEqual([0, 1, 2, 3, 1]);
    expect(levels(chain)).toEqual([[0], [1, 4], [2], [3]]);
  });

  it('rejects what names no node, loops, and the primary as a streaming node, before anything starts', async () => {
    const cases: [unknown, RegExp][] = [
      ['replica1', /cascade: expected an object/],
      [[0, 1], /cascade: expected an object/],
      [{ replica3: 'replica1' }, /key "replica3" names no node: expected one of 0 or 'primary', 1 or 'replica1'/],
      [{ 2: 'replica9' }, /cascade\.2: "replica9" names no node/],
      [{ 2: 1.5 }, /cascade\.2: 1\.5 names no node/],
      [{ 2: '1' }, /cascade\.2: "1" names no node/],
      [{ 2: true }, /cascade\.2: expected a node index or name/],
      [{ primary: 1 }, /key "primary" is the primary, which streams from no one/],
      [{ 0: 1 }, /key "0" is the primary/],
      [{ 2: 2 }, /replica2 cannot stream from itself/],
      [{ 2: 1, replica2: 1 }, /"2" and "replica2" both name replica2/],
      [{ 1: 2, 2: 1 }, /replica1 → replica2 → replica1 is a loop; every chain of upstreams must end at the primary/],
    ];
    for (const [cascade, message] of cases) {
      expect(() => resolveCascade(cascade, 2), JSON.stringify(cascade)).toThrow(message);
    }
    // startLocalCluster checks it first: no directory, no server.
    await expect(startLocalCluster({ replicas: 1, cascade: { 1: 2 } })).rejects.toThrow(RangeError);
    await expect(
      startLocalCluster({ replicas: 2, cascade: 'replica1' as unknown as Record<string, number> }),
    ).rejects.toThrow(TypeError);
  });
});

describe('a cascaded cluster: primary → replica1 → replica2', () => {
  let cluster: LocalCluster;
  const url = (index: number): string => cluster.nodes[index]!.url;
  const receiver = async (index: number): Promise<Receiver | undefined> =>
    (await query<Receiver>(url(index), 'SELECT status, sender_port, received_tli FROM pg_stat_wal_receiver'))[0];
  let tables = 0;
  /** A table of its own, written on `writer`, holding `value`. */
  const write = async (value: number, writer = 0): Promise<string> => {
    const table = `cascade_${tables++}`;
    await query(url(writer), `CREATE TABLE ${table} AS SELECT $1::int AS value`, [value]);
    return table;
  };
  const read = async (index: number, table: string): Promise<number[]> =>
    (await query<{ value: number }>(url(index), `SELECT value FROM ${table}`)).map((r) => r.value);

  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 2, cascade: { replica2: 'replica1' } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('streams replica2 from replica1: its WAL receiver names replica1 as sender, the primary lists replica1 only', async () => {
    expect(cluster.nodes.map((n) => [n.name, n.role, n.streamsFrom])).toEqual([
      ['primary', 'primary', undefined],
      ['replica1', 'replica', 'primary'],
      ['replica2', 'replica', 'replica1'],
    ]);
    expect(await receiver(2)).toMatchObject({ status: 'streaming', sender_port: cluster.nodes[1]!.port });
    expect(await receiver(1)).toMatchObject({ status: 'streaming', sender_port: cluster.nodes[0]!.port });
    const senders = async (index: number): Promise<string[]> =>
      (await query<{ application_name: string }>(url(index), 'SELECT application_name FROM pg_stat_replication')).map(
        (r) => r.application_name,
      );
    expect(await senders(0)).toEqual(['replica1']);
    expect(await senders(1)).toEqual(['replica2']);
    expect(await senders(2)).toEqual([]);
  });

  it('brings writes to the cascaded replica: waitForReplication waits for its replay position too', async () => {
    const table = await write(1);
    await cluster.waitForReplication();
    expect(await read(2, table)).toEqual([1]);
    // By WAL position: its replay position reaches the primary's flush position, as any replica's does.
    const other = await write(2);
    await waitForReplicaReplay(cluster.primaryUrl, [url(2)]);
    expect(await read(2, other)).toEqual([2]);
  });

  it('gets nothing while replica1 is frozen, and everything once it resumes', async () => {
    cluster.pauseNode('replica1');
    let table: string;
    try {
      table = await write(3);
      // Nothing can reach replica2, so waitForReplication does not wait for it (nor for the frozen node).
      await cluster.waitForReplication();
      await expect(query(url(2), `SELECT value FROM ${table}`)).rejects.toMatchObject({ code: '42P01' });
    } finally {
      cluster.resumeNode('replica1');
    }
    await cluster.waitForReplication();
    expect(await read(2, table)).toEqual([3]);
  });

  it('loses its sender when replica1 is killed, and streams again from it once it restarts', async () => {
    await cluster.killNode('replica1');
    await until(async () => (await receiver(2))?.status !== 'streaming', 30_000);
    const table = await write(4);
    await cluster.waitForReplication();
    await expect(query(url(2), `SELECT value FROM ${table}`)).rejects.toMatchObject({ code: '42P01' });

    await cluster.startNode('replica1');
    await until(async () => (await receiver(2))?.status === 'streaming', 30_000);
    await cluster.waitForReplication();
    expect(await read(2, table)).toEqual([4]);
    expect(await receiver(2)).toMatchObject({ sender_port: cluster.nodes[1]!.port });
  });

  it('restarts the cascaded replica itself streaming from replica1', async () => {
    await cluster.stopNode('replica2');
    const table = await write(5);
    await cluster.startNode('replica2');
    expect(await receiver(2)).toMatchObject({ status: 'streaming', sender_port: cluster.nodes[1]!.port });
    await cluster.waitForReplication();
    expect(await read(2, table)).toEqual([5]);
  });

  it('follows replica1 onto its new timeline when replica1 is promoted', async () => {
    await cluster.promoteNode('replica1');
    expect(cluster.nodes.map((n) => n.streamsFrom)).toEqual([undefined, undefined, 'replica1']);
    const table = await write(6, 1);
    await cluster.waitForReplication();
    expect(await read(2, table)).toEqual([6]);
    expect(await receiver(2)).toMatchObject({ status: 'streaming', received_tli: 2 });
  });
});
