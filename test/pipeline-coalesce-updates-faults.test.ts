import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter, isOutcomeUnknown, type PipelineOptions } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';
import { startFaultProxy, type CutWhen, type FaultProxy } from './helpers/fault-proxy.js';

/*
 * Merged UPDATEs whose connection is cut after the server did the work: nothing may run twice, and every promise
 * must say what happened (a rejection that is not marked outcomeUnknown means the statement did not happen).
 */

const cluster = sharedCluster();
let proxy: FaultProxy;
let direct: pg.Client;
let seq = 0;

beforeAll(async () => {
  proxy = await startFaultProxy(cluster.primaryUrl);
  direct = new pg.Client({ connectionString: cluster.primaryUrl });
  await direct.connect();
});
afterAll(async () => {
  await direct?.end();
  await proxy?.close();
});

/** A table whose rows count their own updates (`n`), so an UPDATE run twice shows. */
async function countingTable(rows: number): Promise<string> {
  const table = `cu_fault_${process.pid}_${seq++}`;
  await direct.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int, n int NOT NULL DEFAULT 0)`);
  await direct.query(
    `CREATE FUNCTION ${table}_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.n := OLD.n + 1; RETURN NEW; END $$`,
  );
  await direct.query(`CREATE TRIGGER counted BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_count()`);
  await direct.query(`INSERT INTO ${table} (id) SELECT g FROM generate_series(1, $1::int) g`, [rows]);
  return table;
}

const modes: [string, PipelineOptions][] = [
  ['independent', { mode: 'independent' }],
  ['independent, no group commit', { mode: 'independent', groupCommit: false }],
  ['atomic', { mode: 'atomic' }],
];
/**
 * After the merged statement on the connection that ran it: it answers one row of `n, ords` (a data-modifying WITH,
 * so its tag is SELECT's); `'reply'` cuts at its CommandComplete, `'commit'` at the next idle ReadyForQuery (its own,
 * or its batch's COMMIT's).
 */
function afterMerged(point: 'reply' | 'commit'): CutWhen {
  let on: number | undefined;
  return ({ type, text, connection }) => {
    if (type === 'T' && text === 'n,ords') on = connection;
    if (connection !== on) return false;
    return point === 'reply' ? type === 'C' : type === 'Z' && text === 'I';
  };
}

const cuts: [string, () => CutWhen][] = [
  ['after it committed', () => afterMerged('commit')],
  ['in the middle of its replies', () => afterMerged('reply')],
];
const cases = cuts.flatMap(([where, when]) =>
  modes.map(([label, options]): [string, string, PipelineOptions, () => CutWhen] => [label, where, options, when]),
);

describe('merged UPDATEs and lost connections', () => {
  it.each(cases)(
    'pipeline (%s), a merged UPDATE cut %s: nothing runs again, every promise says what happened',
    async (_label, _where, options, when) => {
      const router = new QueryRouter({ primary: proxy.url, pool: { max: 1 }, breaker: { volumeThreshold: 10_000 } });
      const table = await countingTable(100);
      const pipeline = router.pipeline({ ...options, coalesce: true, batchSize: 100, concurrency: 1 });
      const update = `UPDATE ${table} SET v = $1 WHERE id = $2`;
      try {
        // Warm-up: the catalog look-up and the merged statement's preparation happen before the cut.
        await Promise.all(Array.from({ length: 100 }, (_, i) => pipeline.addQuery(update, [1, i + 1])));
        expect(pipeline.stats().coalescedKeyed).toBe(100);
        const cut = proxy.cutOnce(when());
        const settled = await Promise.allSettled(
          Array.from({ length: 100 }, (_, i) => pipeline.addQuery(update, [2, i + 1])),
        );
        await cut;
        const { rows } = await direct.query<{ id: number; v: number; n: number }>(
          `SELECT id, v, n FROM ${table} ORDER BY id`,
        );
        // Nothing ran twice: every row was changed by the warm-up and at most once more.
        expect(rows.every((row) => row.n === 1 || row.n === 2)).toBe(true);
        let unknown = 0;
        settled.forEach((outcome, i) => {
          if (outcome.status === 'fulfilled') expect(rows[i]).toMatchObject({ v: 2, n: 2 });
          else if (isOutcomeUnknown(outcome.reason)) unknown++;
          else expect(rows[i]).toMatchObject({ v: 1, n: 1 });
        });
        expect(unknown).toBeGreaterThan(0);
      } finally {
        proxy.heal();
        await pipeline.close();
        await router.close();
      }
    },
  );
});
