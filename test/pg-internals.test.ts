import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backendKeyOf,
  destroySocket,
  isPrepared,
  supportsPipelining,
  supportsStatementCache,
} from '../src/pool/pg-internals.js';
import { sharedCluster } from './helpers/cluster.js';

/*
 * The router reaches into a few of pg's private members, all through src/pool/pg-internals.ts. These tests pin
 * each of them against the pg that is installed, so an upgrade that moves one fails here, by name.
 */

const cluster = sharedCluster();

describe('pg internals the router relies on, against the installed pg', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: cluster.primaryUrl });
    client.on('error', () => undefined);
    await client.connect();
  });
  afterAll(async () => {
    await client.end().catch(() => undefined);
  });

  it('exposes the prepared-statement bookkeeping and the pipeline mode', async () => {
    const pooled = client as unknown as pg.PoolClient;
    expect(supportsStatementCache(pooled)).toBe(true);
    expect(supportsPipelining(pooled)).toBe(true);
    await client.query({ name: 'pgr_internals_probe', text: 'SELECT $1::int AS v', values: [1] });
    expect(isPrepared(pooled, 'pgr_internals_probe')).toBe(true);
  });

  it("exposes the backend key a cancel request needs, matching the server's own pid", async () => {
    const key = backendKeyOf(client);
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    expect(key).toMatchObject({
      processID: rows[0]!.pid,
      host: '127.0.0.1',
      port: Number(new URL(cluster.primaryUrl).port),
    });
    expect(typeof key!.secretKey).toBe('number');
  });

  it('cuts the socket at once: a pending statement fails with a connection error', async () => {
    const running = client.query('SELECT pg_sleep(3)').catch((e: unknown) => e);
    destroySocket(client);
    const error = (await running) as Error & { severity?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.severity).toBeUndefined();
  });
});
