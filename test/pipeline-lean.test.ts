import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchAbortedError, QueryRouter } from '../src/index.js';
import { encodeLeanBatch, isBodylessWrite, resultOfTag } from '../src/pool/lean-batch.js';
import { sharedCluster } from './helpers/cluster.js';

/*
 * Batches of prepared writes go out lean (Bind/Execute per statement, one Sync). What they write must be exactly
 * what pg's own path writes, for every kind of parameter pg knows how to send.
 */

const { primaryUrl } = sharedCluster();
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client(primaryUrl);
  await admin.connect();
  await admin.query('DROP TABLE IF EXISTS lean_rows');
  await admin.query(`CREATE TABLE lean_rows (
    id int PRIMARY KEY, b bytea, t text, d timestamptz, a int[], j jsonb, n int, f float8, ok boolean, big bigint)`);
});

afterAll(async () => {
  await admin?.end();
});

const INSERT =
  'INSERT INTO lean_rows (id, b, t, d, a, j, n, f, ok, big) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)';

function row(id: number): unknown[] {
  return [
    id,
    Buffer.from([id % 256, 0, 255, 10]),
    `línea ${id} — "quoted" \\ back\nslash ✓ 😀`,
    new Date(Date.UTC(2026, 0, 1, 0, 0, id % 60, id % 1000)),
    [id, -id, 0],
    { id, nested: { list: [1, 'two', null], unicode: 'ß' } },
    id % 3 === 0 ? null : id,
    id / 7,
    id % 2 === 0,
    9_007_199_254_740_993n + BigInt(id),
  ];
}

describe('lean batches of prepared writes', () => {
  it('writes every parameter type exactly as pg does, and is the path taken once the statement is prepared', async () => {
    const router = new QueryRouter({ primary: primaryUrl, pool: { max: 1 } });
    try {
      const pipeline = router.pipeline({ batchSize: 50, concurrency: 1, mode: 'atomic' });
      const done = Array.from({ length: 300 }, (_, i) => pipeline.addQuery(INSERT, row(i + 1)));
      await pipeline.flush();
      const results = await Promise.all(done);
      expect(results.every((result) => result.rowCount === 1 && result.command === 'INSERT')).toBe(true);
      // The first batch prepared the statement through pg; the five after it went lean.
      expect(router.stats().nodes[0]!.leanBatches).toBe(5);
      // The reference: the same rows through pg's own query path, into the same table's twin.
      await admin.query('DROP TABLE IF EXISTS lean_reference');
      await admin.query('CREATE TABLE lean_reference (LIKE lean_rows)');
      for (let i = 1; i <= 300; i++) await admin.query(INSERT.replace('lean_rows', 'lean_reference'), row(i));
      const { rows } = await admin.query<{ differing: string }>(
        'SELECT count(*) AS differing FROM (SELECT * FROM lean_rows EXCEPT SELECT * FROM lean_reference) d',
      );
      expect(Number(rows[0]!.differing)).toBe(0);
      const { rows: count } = await admin.query<{ n: string }>('SELECT count(*) AS n FROM lean_rows');
      expect(Number(count[0]!.n)).toBe(300);
    } finally {
      await router.close();
    }
  });

  it('keeps the batch semantics: a bad row rolls the atomic batch back, an independent group is re-run row by row', async () => {
    const router = new QueryRouter({ primary: primaryUrl, pool: { max: 1 } });
    try {
      const update = 'UPDATE lean_rows SET n = $1 WHERE id = $2';
      const warm = router.pipeline({ batchSize: 10, concurrency: 1, mode: 'atomic' });
      // Both statements prepared on the router's one connection first, so the batches below go lean.
      await Promise.all([
        ...Array.from({ length: 9 }, (_, i) => warm.addQuery(update, [1, i + 1])),
        warm.addQuery(INSERT, row(1001)),
      ]);
      const before = router.stats().nodes[0]!.leanBatches;

      // Atomic: one duplicate key (id 5 exists) sinks the whole batch.
      const atomic = router.pipeline({ batchSize: 4, concurrency: 1, mode: 'atomic' });
      const outcomes = await Promise.allSettled([
        atomic.addQuery(update, [42, 1]),
        atomic.addQuery(INSERT, row(5)),
        atomic.addQuery(update, [42, 2]),
        atomic.addQuery(update, [42, 3]),
      ]);
      expect(router.stats().nodes[0]!.leanBatches).toBe(before + 1);
      expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { code: '23505' } });
      for (const i of [0, 2, 3]) {
        expect(outcomes[i]!.status).toBe('rejected');
        expect((outcomes[i] as PromiseRejectedResult).reason).toBeInstanceOf(BatchAbortedError);
        expect((outcomes[i] as PromiseRejectedResult).reason).toMatchObject({ failedIndex: 1 });
      }
      const { rows } = await admin.query<{ n: number }>('SELECT n FROM lean_rows WHERE id IN (1, 2, 3) ORDER BY id');
      expect(rows.map((r) => r.n)).toEqual([1, 1, 1]);

      // Independent: the same batch keeps every good row.
      const independent = router.pipeline({ batchSize: 4, concurrency: 1, mode: 'independent' });
      const kept = await Promise.allSettled([
        independent.addQuery(update, [43, 1]),
        independent.addQuery(INSERT, row(5)),
        independent.addQuery(update, [43, 2]),
        independent.addQuery(update, [43, 3]),
      ]);
      expect(kept.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const after = await admin.query<{ n: number }>('SELECT n FROM lean_rows WHERE id IN (1, 2, 3) ORDER BY id');
      expect(after.rows.map((r) => r.n)).toEqual([43, 43, 43]);
    } finally {
      await router.close();
    }
  });

  it('only takes writes that return no rows', () => {
    expect(isBodylessWrite('INSERT INTO t (a) VALUES ($1)')).toBe(true);
    expect(isBodylessWrite('  /* c */ -- x\n update t set a = $1')).toBe(true);
    expect(isBodylessWrite('DELETE FROM t WHERE id = $1')).toBe(true);
    expect(isBodylessWrite('INSERT INTO t (a) VALUES ($1) RETURNING id')).toBe(false);
    expect(isBodylessWrite("INSERT INTO t (a) VALUES ('returning')")).toBe(false);
    expect(isBodylessWrite('SELECT nextval($1)')).toBe(false);
    expect(isBodylessWrite('WITH x AS (DELETE FROM t RETURNING *) SELECT 1')).toBe(false);
  });

  it('encodes Bind messages that declare their own lengths, and reads command tags as pg does', () => {
    const buffer = encodeLeanBatch([
      { statementName: 's1', values: [1, null, 'é'] },
      { statementName: 's2', values: [Buffer.from([1, 2])] },
    ]);
    // Walk the messages: each is a type byte and a length that covers itself and its body.
    const types: string[] = [];
    for (let at = 0; at < buffer.length;) {
      types.push(String.fromCharCode(buffer[at]!));
      at += 1 + buffer.readInt32BE(at + 1);
    }
    expect(types).toEqual(['B', 'E', 'B', 'E', 'S']);
    // Each Bind says per parameter how it travels: text (0) for what pg converts to a string, binary (1) for a Buffer.
    const formatCodes = (at: number): number[] => {
      at += 5;
      for (let nulls = 0; nulls < 2; at++) if (buffer[at] === 0) nulls++;
      return Array.from({ length: buffer.readInt16BE(at) }, (_, i) => buffer.readInt16BE(at + 2 + 2 * i));
    };
    const secondBind = 1 + buffer.readInt32BE(1) + 10;
    expect(formatCodes(0)).toEqual([0, 0, 0]);
    expect(formatCodes(secondBind)).toEqual([1]);
    expect(resultOfTag('INSERT 0 1')).toMatchObject({ command: 'INSERT', rowCount: 1, oid: 0, rows: [] });
    expect(resultOfTag('UPDATE 7')).toMatchObject({ command: 'UPDATE', rowCount: 7 });
    expect(resultOfTag('COMMIT')).toMatchObject({ command: 'COMMIT', rowCount: null });
  });
});
