import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  BatchAbortedError,
  PipelineClosedError,
  PipelineFullError,
  QueryError,
  QueryPipeline,
  QueryRouter,
} from '../src/index.js';

const primaryUrl = inject('primaryUrl');
const replicaUrls = inject('replicaUrls');

let router: QueryRouter;
let tableSeq = 0;

async function freshTable(): Promise<string> {
  const name = `pipe_${process.pid}_${Date.now()}_${tableSeq++}`;
  await router.query(`CREATE TABLE ${name} (id int PRIMARY KEY, v int NOT NULL, note text)`);
  return name;
}

async function rows(table: string): Promise<{ n: number; sum: number }> {
  const { rows: result } = await router.query<{ n: string; sum: string | null }>(
    `SELECT count(*) AS n, sum(v) AS sum FROM ${table}`,
    [],
    { route: 'primary' },
  );
  return { n: Number(result[0]!.n), sum: Number(result[0]!.sum ?? 0) };
}

beforeAll(() => {
  router = new QueryRouter({ primary: primaryUrl, replicas: replicaUrls, pool: { max: 8 } });
});
afterAll(async () => {
  await router.close();
});

describe('QueryPipeline', () => {
  it('lands 10 000 single-row INSERTs exactly once, each promise with its own result', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 250, maxQueueSize: 10_000 });
    const promises = Array.from({ length: 10_000 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [i, i * 3]),
    );
    const summary = await pipeline.flush();
    const results = await Promise.all(promises);
    expect(results.every((result) => result.rowCount === 1 && result.command === 'INSERT')).toBe(true);
    expect(summary).toMatchObject({ queriesExecuted: 10_000, failed: 0 });
    expect(summary.batches).toBe(40);
    expect(await rows(table)).toEqual({ n: 10_000, sum: (3 * 9_999 * 10_000) / 2 });
    const stats = pipeline.stats();
    expect(stats).toMatchObject({ queued: 0, held: 0, batches: 40, statements: 10_000, failed: 0 });
    expect(stats.batchSizes.find((bucket) => bucket.le === 100)!.count).toBe(0);
    expect(stats.batchSizes.find((bucket) => bucket.le === 250)!.count).toBe(40);
    expect(stats.batchDurationsMs.at(-1)!.count).toBe(40);
    expect(router.stats().pipelines.statements).toBeGreaterThanOrEqual(10_000);
    await pipeline.close();
  });

  it('keeps the order of statements within a batch', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 50 });
    await router.query(`INSERT INTO ${table} (id, v, note) VALUES (1, 0, '')`);
    const digits = Array.from({ length: 50 }, (_, i) => String((i * 7) % 10));
    const updates = digits.map((digit) =>
      pipeline.addQuery(`UPDATE ${table} SET note = note || $1 WHERE id = 1`, [digit]),
    );
    const summary = await pipeline.flush();
    await Promise.all(updates);
    expect(summary.batches).toBe(1);
    const { rows: result } = await router.query<{ note: string }>(`SELECT note FROM ${table} WHERE id = 1`, [], {
      route: 'primary',
    });
    expect(result[0]!.note).toBe(digits.join(''));
    await pipeline.close();
  });

  it('with concurrency 4 and many concurrent callers, every row lands exactly once', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 20, concurrency: 4 });
    await Promise.all(
      Array.from({ length: 20 }, async (_, caller) => {
        for (let k = 0; k < 250; k++) {
          const id = caller * 250 + k;
          await pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [id, 1]);
        }
      }),
    );
    await pipeline.close();
    expect(await rows(table)).toEqual({ n: 5_000, sum: 5_000 });
  });

  it('atomic: one constraint violation leaves no row of the batch; promises say which statement failed', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 10, mode: 'atomic' });
    const promises = Array.from({ length: 10 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [i === 6 ? 3 : i, 1]),
    );
    const summary = await pipeline.flush();
    const settled = await Promise.allSettled(promises);
    expect(summary.failed).toBe(10);
    const failing = settled[6] as PromiseRejectedResult;
    expect(failing.reason).toBeInstanceOf(QueryError);
    expect(failing.reason.code).toBe('23505');
    settled.forEach((outcome, i) => {
      expect(outcome.status).toBe('rejected');
      if (i !== 6) {
        expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(BatchAbortedError);
        expect((outcome as PromiseRejectedResult).reason.failedIndex).toBe(6);
      }
    });
    expect(await rows(table)).toEqual({ n: 0, sum: 0 });
    // The next batch is unaffected.
    await pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [100, 5]);
    await pipeline.close();
    expect(await rows(table)).toEqual({ n: 1, sum: 5 });
  });

  it('independent: the same batch keeps every other row', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 10, mode: 'independent' });
    const promises = Array.from({ length: 10 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [i === 6 ? 3 : i, 1]),
    );
    const summary = await pipeline.flush();
    const settled = await Promise.allSettled(promises);
    expect(summary).toMatchObject({ queriesExecuted: 10, failed: 1, batches: 1 });
    expect(settled.filter((outcome) => outcome.status === 'rejected')).toHaveLength(1);
    expect((settled[6] as PromiseRejectedResult).reason.code).toBe('23505');
    expect(await rows(table)).toEqual({ n: 9, sum: 9 });
    await pipeline.close();
  });

  it.each([true, false])(
    'independent (group commit %s): statements whose SQL the server refuses each fail with its error, not 26000',
    async (groupCommit) => {
      const table = await freshTable();
      const pipeline = router.pipeline({ batchSize: 10, mode: 'independent', groupCommit, flushIntervalMs: 10_000 });
      // Only the first of the five carries the Parse that fails; the other four are bound to the name it never made.
      const promises = Array.from({ length: 5 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${table} (id, no_such_column) VALUES ($1, $2)`, [i, 1]),
      );
      promises.push(pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [9, 1]));
      await pipeline.flush();
      const settled = await Promise.allSettled(promises);
      expect(settled.map((outcome) => (outcome.status === 'rejected' ? outcome.reason.code : 'ok'))).toEqual([
        '42703',
        '42703',
        '42703',
        '42703',
        '42703',
        'ok',
      ]);
      expect(await rows(table)).toEqual({ n: 1, sum: 1 });
      await pipeline.close();
    },
  );

  it.each([true, false])(
    'independent + coalesce (group commit %s): a merged INSERT that fails is re-run before the statements after it',
    async (groupCommit) => {
      const table = await freshTable();
      const pipeline = router.pipeline({
        batchSize: 10,
        mode: 'independent',
        coalesce: true,
        groupCommit,
        flushIntervalMs: 10_000,
      });
      const insert = `INSERT INTO ${table} (id, v) VALUES ($1, $2)`;
      // One run of three INSERTs (the third a duplicate key), then statements that need the first two rows.
      const promises = [
        pipeline.addQuery(insert, [1, 1]),
        pipeline.addQuery(insert, [2, 1]),
        pipeline.addQuery(insert, [1, 1]),
        pipeline.addQuery(`UPDATE ${table} SET v = v + 10 WHERE id = $1`, [1]),
        pipeline.addQuery(`DELETE FROM ${table} WHERE id = $1`, [2]),
      ];
      await pipeline.flush();
      const settled = await Promise.allSettled(promises);
      expect(
        settled.map((outcome) => (outcome.status === 'rejected' ? outcome.reason.code : outcome.value.rowCount)),
      ).toEqual([1, 1, '23505', 1, 1]);
      expect(await rows(table)).toEqual({ n: 1, sum: 11 });
      await pipeline.close();
    },
  );

  it('independent: commits a clean batch as one transaction, and re-runs a failed group statement by statement', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 20, mode: 'independent', flushIntervalMs: 10_000 });
    const insert = `INSERT INTO ${table} (id, v) VALUES ($1, $2)`;
    // Batch 1 is clean, including an UPDATE that must see the INSERT before it; batch 2 has one duplicate key.
    const first = Array.from({ length: 19 }, (_, i) => pipeline.addQuery(insert, [i, 1]));
    first.push(pipeline.addQuery(`UPDATE ${table} SET v = 10 WHERE id = $1`, [18]));
    await pipeline.flush();
    expect((await Promise.all(first)).at(-1)!.rowCount).toBe(1);
    expect(pipeline.stats()).toMatchObject({ groupCommits: 1, groupRetries: 0 });
    const second = Array.from({ length: 20 }, (_, i) => pipeline.addQuery(insert, [i === 7 ? 3 : 100 + i, 1]));
    await pipeline.flush();
    const settled = await Promise.allSettled(second);
    // Every statement has its own outcome: the duplicate fails with its SQLSTATE, none with BatchAbortedError.
    expect(settled.map((outcome) => outcome.status)).toEqual(
      second.map((_, i) => (i === 7 ? 'rejected' : 'fulfilled')),
    );
    expect((settled[7] as PromiseRejectedResult).reason.code).toBe('23505');
    expect(pipeline.stats()).toMatchObject({ groupCommits: 1, groupRetries: 1 });
    expect(await rows(table)).toEqual({ n: 19 + 19, sum: 18 + 10 + 19 });
    // After a failed group the next batches go ungrouped for a while.
    await Promise.all(Array.from({ length: 20 }, (_, i) => pipeline.addQuery(insert, [200 + i, 1])));
    expect(pipeline.stats().groupCommits).toBe(1);
    await pipeline.close();
  });

  it('independent: groups only plain reads and writes, and not at all with groupCommit: false', async () => {
    const table = await freshTable();
    const withDdl = router.pipeline({ batchSize: 10, flushIntervalMs: 10_000 });
    const statements = [
      withDdl.addQuery(`CREATE INDEX ON ${table} (v)`),
      ...Array.from({ length: 9 }, (_, i) => withDdl.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [i])),
    ];
    await withDdl.flush();
    await Promise.all(statements);
    expect(withDdl.stats().groupCommits).toBe(0);
    await withDdl.close();
    const ungrouped = router.pipeline({ batchSize: 10, groupCommit: false });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        ungrouped.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [100 + i]),
      ),
    );
    expect(ungrouped.stats().groupCommits).toBe(0);
    await ungrouped.close();
    expect((await rows(table)).n).toBe(19);
    expect(() => router.pipeline({ groupCommit: 'yes' } as never)).toThrow(
      expect.objectContaining({ key: 'pipeline.groupCommit' }),
    );
  });

  it('coalesces consecutive identical INSERTs into multi-row INSERTs, keeping order among mixed shapes', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 500, coalesce: true });
    const promises: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      promises.push(pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [i, 1]));
      // Every 50th row is changed by an UPDATE queued right after it: order between shapes must hold.
      if (i % 50 === 49) promises.push(pipeline.addQuery(`UPDATE ${table} SET v = 100 WHERE id = $1`, [i]));
    }
    await pipeline.flush();
    const results = await Promise.all(promises);
    expect(results).toHaveLength(306);
    expect(pipeline.stats().coalesced).toBe(300);
    expect(await rows(table)).toEqual({ n: 300, sum: 294 + 6 * 100 });
    await pipeline.close();
  });

  it('coalescing: a merged group with one bad row loses none of the others in independent mode', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 100, coalesce: true });
    const promises = Array.from({ length: 20 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [i, i === 13 ? null : 1]),
    );
    await pipeline.flush();
    const settled = await Promise.allSettled(promises);
    expect(settled.filter((outcome) => outcome.status === 'rejected').map((_, i) => i)).toHaveLength(1);
    expect((settled[13] as PromiseRejectedResult).reason.code).toBe('23502');
    expect(await rows(table)).toEqual({ n: 19, sum: 19 });
    await pipeline.close();
  });

  it('coalescing in atomic mode names the exact failing statement and keeps nothing', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 100, coalesce: true, mode: 'atomic' });
    const promises = Array.from({ length: 20 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [i, i === 13 ? null : 1]),
    );
    await pipeline.flush();
    const settled = await Promise.allSettled(promises);
    expect((settled[13] as PromiseRejectedResult).reason.code).toBe('23502');
    expect((settled[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'PGR_BATCH_ABORTED', failedIndex: 13 });
    expect(await rows(table)).toEqual({ n: 0, sum: 0 });
    await pipeline.close();
  });

  it('respects the parameter limit for wide rows merged as multi-row VALUES', async () => {
    const columns = Array.from({ length: 100 }, (_, i) => `c${i}`);
    const table = `pipe_wide_${process.pid}_${Date.now()}`;
    await router.query(`CREATE TABLE ${table} (${columns.map((c) => `${c} int`).join(', ')})`);
    // A cast in the row rules out the unnest form, so the rows go out as VALUES with 100 parameters each.
    const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((_, i) => (i === 0 ? '$1::int' : `$${i + 1}`)).join(', ')})`;
    const pipeline = router.pipeline({ batchSize: 2000, maxQueueSize: 2000, coalesce: true });
    const promises = Array.from({ length: 1500 }, (_, r) =>
      pipeline.addQuery(
        sql,
        columns.map((_, i) => r + i),
      ),
    );
    const summary = await pipeline.flush();
    await Promise.all(promises);
    expect(summary.failed).toBe(0);
    const { rows: result } = await router.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`, [], {
      route: 'primary',
    });
    expect(Number(result[0]!.n)).toBe(1500);
    expect(pipeline.stats()).toMatchObject({ coalesced: 1500, coalescedAsArrays: 0 });
    await pipeline.close();
  });

  // Row-level security rules COPY out (the router's user owns the table, so no policy applies to it): the run then
  // goes as the unnest INSERT.
  it.each(['copy', 'unnest'] as const)(
    'merges rows of plain parameters into one %s statement that stores every value exactly as a single-row INSERT would',
    async (form) => {
      const table = `pipe_types_${form}_${process.pid}_${Date.now()}`;
      await router.query(
        `DO $$ BEGIN CREATE TYPE pipe_mood AS ENUM ('sad', 'ok', 'happy'); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
      );
      await router.query(
        `CREATE TABLE ${table} (seq bigserial, id int, label varchar(12), body text, doc jsonb, at timestamptz, blob bytea, flag boolean, mood pipe_mood, amount numeric, tags text[])`,
      );
      if (form === 'unnest') await router.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      const awkward = [
        '',
        'NULL',
        'null',
        '"quoted"',
        'back\\slash',
        '{braces}',
        'a,b',
        ' padded ',
        'multi\nline',
        'émoji 🚀',
        "it's",
      ];
      const when = new Date('2026-01-02T03:04:05.678Z');
      const rowOf = (i: number): unknown[] => [
        awkward[i % awkward.length]!.slice(0, 12),
        i,
        i % 5 === 0 ? null : awkward[(i + 3) % awkward.length],
        i % 7 === 0 ? undefined : { n: i, s: awkward[i % awkward.length], nested: [1, { deep: true }] },
        new Date(when.getTime() + i),
        Buffer.from([i % 256, 0, 255]),
        i % 2 === 0,
        ['sad', 'ok', 'happy'][i % 3],
        `${i}.${i % 100}`,
      ];
      // Parameters in another order than the columns, to check each array lands in its own column.
      const sql = `INSERT INTO ${table} (label, id, body, doc, at, blob, flag, mood, amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
      // One batch at a time, so the rows' order is the statements' order whichever way the batches are cut.
      const pipeline = router.pipeline({ batchSize: 400, maxQueueSize: 1000, coalesce: true, concurrency: 1 });
      const count = 1000;
      const promises = Array.from({ length: count }, (_, i) => pipeline.addQuery(sql, rowOf(i)));
      const summary = await pipeline.flush();
      const results = await Promise.all(promises);
      expect(summary.failed).toBe(0);
      expect(results.every((result) => result.rowCount === 1 && result.command === 'INSERT')).toBe(true);
      expect(pipeline.stats()).toMatchObject({
        coalesced: count,
        coalescedAsArrays: form === 'unnest' ? count : 0,
        coalescedAsCopy: form === 'copy' ? count : 0,
      });
      const { rows: stored } = await router.query<Record<string, unknown>>(`SELECT * FROM ${table} ORDER BY id`, [], {
        route: 'primary',
      });
      expect(stored).toHaveLength(count);
      // Rows are inserted in the order their statements were queued (no assumption about where a batch ends).
      stored.forEach((row, i) => {
        const [label, id, body, doc, at, blob, flag, mood, amount] = rowOf(i);
        if (i > 0) expect(Number(row.seq)).toBeGreaterThan(Number(stored[i - 1]!.seq));
        expect({ ...row, seq: undefined }).toEqual({
          seq: undefined,
          id,
          label,
          body,
          doc: doc ?? null,
          at,
          blob,
          flag,
          mood,
          amount,
          tags: null,
        });
      });
      await pipeline.close();
    },
  );

  it.each(['copy', 'unnest'] as const)(
    '%s keeps single-row semantics: a too-long value fails its own row only; as unnest, array columns use VALUES',
    async (form) => {
      const table = `pipe_semantics_${form}_${process.pid}_${Date.now()}`;
      await router.query(
        `CREATE TABLE ${table} (id int PRIMARY KEY, code varchar(3), fixed char(5), bits bit(3), doc jsonb, tags int[], shape box)`,
      );
      if (form === 'unnest') await router.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      const pipeline = router.pipeline({ batchSize: 100, coalesce: true });
      const sql = `INSERT INTO ${table} (id, code, fixed, bits, doc) VALUES ($1, $2, $3, $4, $5)`;
      // A group of valid rows: char(n) and bit(n) keep their length (neither cut to one character nor refused), and a
      // jsonb value is parsed from its text as a jsonb parameter is ('null' is JSON null, not SQL NULL).
      const docOf = (i: number): unknown => (i === 5 ? 'null' : i === 6 ? null : i === 7 ? '"text"' : { i });
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => pipeline.addQuery(sql, [i, 'abc', 'ab', '101', docOf(i)])),
      );
      // One batch: the merged INSERT did not fail and fall back to single rows.
      expect(pipeline.stats()).toMatchObject({
        batches: 1,
        coalesced: 30,
        coalescedAsArrays: form === 'unnest' ? 30 : 0,
        coalescedAsCopy: form === 'copy' ? 30 : 0,
        failed: 0,
      });
      // A group with bad rows: each fails alone, with the error its single-row INSERT gives.
      const bad: Record<number, [string, string, string]> = {
        17: ['toolong', 'ab', '101'],
        23: ['abc', 'sixsix', '101'],
        26: ['abc', 'ab', '1'],
      };
      const scalar = Array.from({ length: 30 }, (_, i) =>
        pipeline.addQuery(sql, [30 + i, ...(bad[i] ?? ['abc', 'ab', '101']), { i }]),
      );
      const arrays = Array.from({ length: 30 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${table} (id, tags) VALUES ($1, $2)`, [100 + i, [i, i + 1]]),
      );
      // box arrays separate their elements with ';', not ',': such a column also goes as VALUES (it would fail as unnest).
      const boxes = Array.from({ length: 10 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${table} (id, shape) VALUES ($1, $2)`, [200 + i, `((${i},${i}),(0,0))`]),
      );
      await pipeline.flush();
      const settled = await Promise.allSettled(scalar);
      expect(
        settled.flatMap((outcome, i) => (outcome.status === 'rejected' ? [[i, outcome.reason.code]] : [])),
      ).toEqual([
        [17, '22001'],
        [23, '22001'],
        [26, '22026'],
      ]);
      await Promise.all([...arrays, ...boxes]);
      // Batches: the valid group; the second batch as a group commit, which its bad rows sink, then its statements
      // again unmerged, each with its own outcome. As COPY every run merges (array and box columns too); as unnest the
      // array and box runs go as VALUES.
      expect(pipeline.stats()).toMatchObject({
        batches: 3,
        coalesced: 100,
        coalescedAsArrays: form === 'unnest' ? 60 : 0,
        coalescedAsCopy: form === 'copy' ? 100 : 0,
      });
      const { rows: stored } = await router.query<Record<string, string>>(
        `SELECT count(*) AS n, sum(array_length(tags, 1)) AS tags, count(*) FILTER (WHERE area(shape) > 0) AS boxes,
         count(*) FILTER (WHERE fixed = 'ab' AND octet_length(fixed) = 5) AS fixed,
         count(*) FILTER (WHERE bits = B'101') AS bits,
         string_agg(id || ':' || coalesce(jsonb_typeof(doc), 'sql null'), ' ' ORDER BY id) FILTER (WHERE id BETWEEN 5 AND 8) AS docs
       FROM ${table}`,
        [],
        { route: 'primary' },
      );
      expect(stored[0]).toEqual({
        n: '97',
        tags: '60',
        boxes: '9',
        fixed: '57',
        bits: '57',
        docs: '5:null 6:sql null 7:string 8:object',
      });
      await pipeline.close();
    },
  );

  it('an unnest INSERT whose column changed type since the look-up still stores every row', async () => {
    const table = `pipe_altered_${process.pid}_${Date.now()}`;
    await router.query(`CREATE TABLE ${table} (id int, v int)`);
    const pipeline = router.pipeline({ batchSize: 50, coalesce: true });
    const sql = `INSERT INTO ${table} (id, v) VALUES ($1, $2)`;
    await Promise.all(Array.from({ length: 50 }, (_, i) => pipeline.addQuery(sql, [i, i])));
    await router.query(`ALTER TABLE ${table} ALTER COLUMN v TYPE text`);
    const after = Array.from({ length: 50 }, (_, i) => pipeline.addQuery(sql, [50 + i, `text ${i}`]));
    await pipeline.flush();
    await Promise.all(after);
    const { rows: stored } = await router.query<{ n: string; texts: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE v LIKE 'text %') AS texts FROM ${table}`,
      [],
      { route: 'primary' },
    );
    expect(stored[0]).toEqual({ n: '100', texts: '50' });
    await pipeline.close();
  });

  it('onFull: reject refuses statements past maxQueueSize and loses none it accepted', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 10, maxQueueSize: 20, onFull: 'reject', flushIntervalMs: 1000 });
    const accepted: Promise<unknown>[] = [];
    const rejected: unknown[] = [];
    for (let i = 0; i < 30; i++) {
      const p = pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [i]);
      accepted.push(p.catch((error: unknown) => rejected.push(error)));
    }
    await pipeline.flush();
    await Promise.all(accepted);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every((error) => error instanceof PipelineFullError)).toBe(true);
    expect((await rows(table)).n).toBe(30 - rejected.length);
    await pipeline.close();
  });

  it('onFull: wait never holds more than maxQueueSize and writes everything', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 10, maxQueueSize: 25, onFull: 'wait' });
    let maxHeld = 0;
    const promises = Array.from({ length: 500 }, (_, i) => {
      const p = pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [i]);
      maxHeld = Math.max(maxHeld, pipeline.stats().held);
      return p;
    });
    const sampler = setInterval(() => (maxHeld = Math.max(maxHeld, pipeline.stats().held)), 1);
    await Promise.all(promises);
    clearInterval(sampler);
    expect(maxHeld).toBeLessThanOrEqual(25);
    expect((await rows(table)).n).toBe(500);
    await pipeline.close();
  });

  it('ready() lets a producer loop wait for room: nothing is parked, the queue stays within maxQueueSize, all is written', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 10, maxQueueSize: 20, onFull: 'reject' });
    let maxHeld = 0;
    let maxWaiting = 0;
    const written: Promise<unknown>[] = [];
    for (let i = 0; i < 500; i++) {
      await pipeline.ready();
      written.push(pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [i]));
      const { held, waiting } = pipeline.stats();
      maxHeld = Math.max(maxHeld, held);
      maxWaiting = Math.max(maxWaiting, waiting);
    }
    await Promise.all(written); // with onFull: 'reject', one addQuery past the room would have rejected
    expect(maxHeld).toBeLessThanOrEqual(20);
    expect(maxWaiting).toBe(0);
    expect((await rows(table)).n).toBe(500);
    await pipeline.close();
    await expect(pipeline.ready()).rejects.toBeInstanceOf(PipelineClosedError);
  });

  it('sends a partial batch after flushIntervalMs without flush()', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 1000, flushIntervalMs: 30 });
    const result = await pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [1]);
    expect(result.rowCount).toBe(1);
    expect(pipeline.stats().batches).toBe(1);
    await pipeline.close();
  });

  it('close() with 10 000 queued statements writes all of them, then refuses new ones', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 200, maxQueueSize: 10_000, flushIntervalMs: 60_000 });
    const promises = Array.from({ length: 10_000 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [i]),
    );
    const summary = await pipeline.close();
    expect(summary.queriesExecuted).toBe(10_000);
    await Promise.all(promises);
    expect((await rows(table)).n).toBe(10_000);
    await expect(pipeline.addQuery('SELECT 1')).rejects.toBeInstanceOf(PipelineClosedError);
  });

  it('rejects bad input for that statement only', async () => {
    const table = await freshTable();
    const pipeline = router.pipeline({ batchSize: 5 });
    const good = [0, 1, 2].map((i) => pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [i]));
    await expect(pipeline.addQuery(42 as unknown as string)).rejects.toMatchObject({ code: 'PGR_INVALID_QUERY' });
    await expect(pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [])).rejects.toMatchObject({
      code: 'PGR_PARAMETER_COUNT',
    });
    const badType = pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, ['not a number']);
    await pipeline.flush();
    await expect(badType).rejects.toMatchObject({ code: '22P02' });
    await Promise.all(good);
    expect((await rows(table)).n).toBe(3);
    await pipeline.close();
  });

  it('rejects bad options with a ConfigError naming the key', () => {
    expect(() => router.pipeline({ batchSize: 0 })).toThrow(/pipeline.batchSize/);
    expect(() => router.pipeline({ mode: 'eventually' as never })).toThrow(/pipeline.mode/);
    expect(() => router.pipeline({ flushEvery: 3 } as never)).toThrow(/pipeline.flushEvery/);
    expect(() => new QueryPipeline(router, { maxQueueSize: 5, batchSize: 10 })).toThrow(/pipeline.maxQueueSize/);
  });

  it('router.close() flushes every pipeline it made', async () => {
    const own = new QueryRouter({ primary: primaryUrl });
    const table = await freshTable();
    const pipeline = own.pipeline({ flushIntervalMs: 60_000 });
    const promises = Array.from({ length: 50 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, 1)`, [i]),
    );
    await own.close();
    await Promise.all(promises);
    expect((await rows(table)).n).toBe(50);
    await expect(pipeline.addQuery('SELECT 1')).rejects.toBeInstanceOf(PipelineClosedError);
  });
});
