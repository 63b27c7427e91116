import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter, isOutcomeUnknown, type PipelineOptions } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';
import {
  AFTER_COMMIT,
  INSIDE_TRANSACTION,
  nthCommandComplete,
  startFaultProxy,
  type CutWhen,
  type FaultProxy,
} from './helpers/fault-proxy.js';
import { OutcomeLedger } from './helpers/outcome-ledger.js';

/*
 * Connections cut at chosen protocol points by a proxy in front of the real primary: after the server committed a
 * write but before the client read the reply. The router must never send such a write again, and must say that its
 * outcome is unknown; every other rejection must mean the write did not happen.
 */

const cluster = sharedCluster();
let proxy: FaultProxy;
let direct: pg.Client;
let tableSeq = 0;

beforeAll(async () => {
  proxy = await startFaultProxy(cluster.primaryUrl);
  direct = new pg.Client({ connectionString: cluster.primaryUrl });
  await direct.connect();
});
afterAll(async () => {
  await direct?.end();
  await proxy?.close();
});

/** A router whose primary is behind the proxy; its breaker never opens over the few cuts a test makes. */
function routerBehindProxy(poolMax = 4): QueryRouter {
  return new QueryRouter({ primary: proxy.url, pool: { max: poolMax }, breaker: { volumeThreshold: 10_000 } });
}

async function freshTable(): Promise<string> {
  const table = `outcome_${process.pid}_${tableSeq++}`;
  await direct.query(`CREATE TABLE ${table} (id int NOT NULL, note text)`);
  return table;
}

async function countOf(table: string, id: number): Promise<number> {
  const { rows } = await direct.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE id = $1`, [id]);
  return Number(rows[0]!.n);
}

describe('outcome unknown: a write whose reply was lost is never sent again, and says so', () => {
  it('query(): an INSERT committed before its connection was cut rejects with outcomeUnknown and is there once', async () => {
    const router = routerBehindProxy();
    const table = await freshTable();
    try {
      await router.query(`INSERT INTO ${table} VALUES ($1, 'warm-up')`, [0]);
      const cut = proxy.cutOnce(AFTER_COMMIT);
      const error = await router.query(`INSERT INTO ${table} VALUES ($1, 'cut')`, [1]).catch((e: unknown) => e);
      await cut;
      expect(isOutcomeUnknown(error)).toBe(true);
      expect(error).toMatchObject({ outcomeUnknown: true, node: 'primary' });
      expect(await countOf(table, 1)).toBe(1);
      // A rejection without the flag means the write did not happen.
      await router.query(`ALTER TABLE ${table} ADD PRIMARY KEY (id)`);
      const duplicate = await router.query(`INSERT INTO ${table} VALUES ($1, 'again')`, [1]).catch((e: unknown) => e);
      expect(duplicate).toMatchObject({ code: '23505', outcomeUnknown: false });
      expect(await countOf(table, 1)).toBe(1);
      // The router goes on working.
      await router.query(`INSERT INTO ${table} VALUES ($1, 'after')`, [2]);
      expect(await countOf(table, 2)).toBe(1);
    } finally {
      await router.close();
    }
  });

  it('transaction(): a COMMIT whose reply was lost rejects with outcomeUnknown; a cut before COMMIT loses the transaction and says it did not happen', async () => {
    const router = routerBehindProxy();
    const table = await freshTable();
    try {
      const committing = proxy.cutOnce(
        ({ type, lastTag, text }) => type === 'Z' && text === 'I' && lastTag === 'COMMIT',
      );
      const lost = await router
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES ($1, 'in a transaction')`, [10]);
          await tx.query(`INSERT INTO ${table} VALUES ($1, 'in a transaction')`, [11]);
        })
        .catch((e: unknown) => e);
      await committing;
      expect(isOutcomeUnknown(lost)).toBe(true);
      expect([await countOf(table, 10), await countOf(table, 11)]).toEqual([1, 1]);

      const midway = proxy.cutOnce(INSIDE_TRANSACTION);
      const rolledBack = await router
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES ($1, 'never committed')`, [12]);
        })
        .catch((e: unknown) => e);
      await midway;
      expect(rolledBack).toBeInstanceOf(Error);
      expect(isOutcomeUnknown(rolledBack)).toBe(false);
      expect(await countOf(table, 12)).toBe(0);
    } finally {
      await router.close();
    }
  });

  it("asPool(): a pooled INSERT and a client's COMMIT whose replies were lost reject with outcomeUnknown", async () => {
    const router = routerBehindProxy();
    const pool = router.asPool();
    const table = await freshTable();
    try {
      const cut = proxy.cutOnce(AFTER_COMMIT);
      const error = await pool.query(`INSERT INTO ${table} VALUES ($1, 'pool')`, [20]).catch((e: unknown) => e);
      await cut;
      expect(isOutcomeUnknown(error)).toBe(true);
      expect(await countOf(table, 20)).toBe(1);

      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(`INSERT INTO ${table} VALUES ($1, 'client')`, [21]);
        const committing = proxy.cutOnce(AFTER_COMMIT);
        const commit = await client.query('COMMIT').catch((e: unknown) => e);
        await committing;
        expect(isOutcomeUnknown(commit)).toBe(true);
      } finally {
        client.release();
      }
      expect(await countOf(table, 21)).toBe(1);
    } finally {
      await router.close();
    }
  });

  it('query(): a statement on a node that stopped answering times out with outcomeUnknown', async () => {
    const router = routerBehindProxy();
    const table = await freshTable();
    try {
      await router.query(`INSERT INTO ${table} VALUES ($1, 'warm-up')`, [0]);
      proxy.blackHole();
      const error = await router
        .query(`INSERT INTO ${table} VALUES ($1, 'frozen')`, [30], { timeoutMs: 200 })
        .catch((e: unknown) => e);
      proxy.heal();
      expect(error).toMatchObject({ code: 'PGR_NODE_TIMEOUT', outcomeUnknown: true });
    } finally {
      proxy.heal();
      await router.close();
    }
  });

  it('pipeline: batches on a node that stopped answering settle by the statement deadline, outcome unknown; flush() resolves', async () => {
    const router = new QueryRouter({
      primary: proxy.url,
      pool: { max: 2, acquireTimeoutMs: 1_000 },
      breaker: { timeoutMs: 300, volumeThreshold: 10_000 },
    });
    const table = await freshTable();
    const ledger = new OutcomeLedger();
    const pipeline = router.pipeline({ batchSize: 50, concurrency: 2 });
    try {
      const insert = `INSERT INTO ${table} (id, note) VALUES ($1, $2)`;
      await ledger.track(0, pipeline.addQuery(insert, [0, 'before']));
      proxy.blackHole();
      const writes = Array.from({ length: 200 }, (_, i) =>
        ledger.track(1 + i, pipeline.addQuery(insert, [1 + i, 'frozen'])),
      );
      const summary = await pipeline.flush();
      const settled = await Promise.allSettled(writes);
      proxy.heal();
      expect(summary.failed).toBeGreaterThan(0);
      expect(settled.every((outcome) => outcome.status === 'rejected')).toBe(true);
      // Batches that were sent: outcome unknown; batches that never got a connection: known not to have happened.
      const reasons = settled.map(
        (outcome) => (outcome as PromiseRejectedResult).reason as { code: string; outcomeUnknown: boolean },
      );
      expect(reasons.filter((reason) => reason.outcomeUnknown).length).toBeGreaterThan(0);
      expect(
        reasons.filter((reason) => !reason.outcomeUnknown).every((reason) => reason.code === 'PGR_ACQUIRE_TIMEOUT'),
      ).toBe(true);
      expect(await ledger.check(cluster.primaryUrl, table)).toEqual([]);
      // Healed, the same pipeline writes again.
      await ledger.track(1_000, pipeline.addQuery(insert, [1_000, 'after']));
      expect(await countOf(table, 1_000)).toBe(1);
    } finally {
      proxy.heal();
      await pipeline.close();
      await router.close();
    }
  });

  const modes: [string, PipelineOptions][] = [
    ['independent', { mode: 'independent' }],
    ['independent, no group commit', { mode: 'independent', groupCommit: false }],
    ['independent + coalesce', { mode: 'independent', coalesce: true }],
    ['atomic', { mode: 'atomic' }],
    ['atomic + coalesce', { mode: 'atomic', coalesce: true }],
  ];
  const cuts: [string, () => CutWhen][] = [
    ['after it committed', () => AFTER_COMMIT],
    // Mid-reply: the whole batch, COMMIT included, was sent before the cut, so all of it may have committed.
    // (A coalesced batch's rows go as one COPY where the table allows, answered `COPY 100`.)
    ['in the middle of its replies', () => nthCommandComplete(/^(INSERT|COPY) /, 2)],
  ];
  const cases = cuts.flatMap(([where, when]) =>
    modes.map(([label, options]): [string, string, PipelineOptions, () => CutWhen] => [label, where, options, when]),
  );
  it.each(cases)(
    'pipeline (%s), a batch cut %s: nothing runs again, every promise says what happened',
    async (_label, _where, options, when) => {
      // One connection: the warm-up prepares the INSERT on it, so the cut batch can go as a lean batch where it may.
      const router = routerBehindProxy(1);
      const table = await freshTable();
      const ledger = new OutcomeLedger();
      const pipeline = router.pipeline({ ...options, batchSize: 100, concurrency: 1 });
      try {
        const insert = `INSERT INTO ${table} (id, note) VALUES ($1, $2)`;
        await Promise.all(
          Array.from({ length: 100 }, (_, i) => ledger.track(i, pipeline.addQuery(insert, [i, 'warm-up']))),
        );
        const cut = proxy.cutOnce(when());
        const writes = Array.from({ length: 300 }, (_, i) =>
          ledger.track(100 + i, pipeline.addQuery(insert, [100 + i, 'batch'])),
        );
        await Promise.allSettled(writes);
        await cut;
        await pipeline.flush();
        const counts = ledger.counts();
        expect(counts.unknown).toBeGreaterThan(0);
        expect(counts.pending).toBe(0);
        expect(await ledger.check(cluster.primaryUrl, table)).toEqual([]);
        const { rows } = await direct.query<{ n: string; ids: string }>(
          `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM ${table}`,
        );
        expect(rows[0]!.n).toBe(rows[0]!.ids); // nothing ran twice
      } finally {
        await pipeline.close();
        await router.close();
      }
    },
  );
});
