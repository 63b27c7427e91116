import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchAbortedError, QueryRouter, isOutcomeUnknown } from '../src/index.js';
import { copyTextRows } from '../src/pipeline/copy-text.js';
import type { PipelineStatement } from '../src/pipeline/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import { sharedCluster } from './helpers/cluster.js';

/*
 * Coalesced INSERTs sent as `COPY … FROM STDIN` inside the pipelined batch: only where COPY does exactly what the
 * INSERTs would, storing exactly what they would, and failing the way they would.
 */

const { primaryUrl } = sharedCluster();
let admin: pg.Client;
let router: QueryRouter;
/** A router logged in as a role that neither owns the tables nor is a superuser: row-level security applies to it. */
let limited: QueryRouter;
const suffix = `${process.pid}_${Date.now()}`;
const role = `copy_tester_${process.pid}`;

beforeAll(async () => {
  admin = new pg.Client(primaryUrl);
  await admin.connect();
  router = new QueryRouter({ primary: primaryUrl, pool: { max: 2 } });
  await admin.query(`DROP ROLE IF EXISTS ${role}`);
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'copy-tester'`);
  const url = new URL(primaryUrl);
  url.username = role;
  url.password = 'copy-tester';
  limited = new QueryRouter({ primary: url.toString(), pool: { max: 1 } });
});

afterAll(async () => {
  await router?.close();
  await limited?.close();
  await admin?.query(`DROP OWNED BY ${role}`).catch(() => undefined);
  await admin?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await admin?.end();
});

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const AWKWARD = [
  '',
  'plain',
  'tab\there',
  'line\nbreak',
  'carriage\rreturn',
  'crlf\r\n',
  'back\\slash',
  '\\N',
  '\\.',
  '\\',
  'trailing\\',
  '\\x00ff',
  'NULL',
  '"quoted"',
  "it's",
  '{braces,commas}',
  ' padded ',
  'émoji 🚀 ß — ✓',
  '\u00a0nbsp\u2028sep',
  'vertical\vtab\fform\bback',
];

const COLUMNS =
  'id int, big bigint, num numeric, f float8, t text, vc varchar(40), ts timestamptz, d date, jb jsonb, js json, ' +
  'ok boolean, u uuid, b bytea, ia int[], ta text[]';
const INSERT_COLUMNS = '(id, big, num, f, t, vc, ts, d, jb, js, ok, u, b, ia, ta)';
const PARAMS = '($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)';
/** `json` has no equality operator: it is compared as its text, which `json` keeps as it was written. */
const COMPARABLE = 'id, big, num, f, t, vc, ts, d, jb, js::text AS js, ok, u, b, ia, ta';

function randomRow(id: number, next: () => number): unknown[] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const maybe = <T>(value: T): T | null => (next() < 0.15 ? null : value);
  const text = (): string => Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(AWKWARD)).join('');
  return [
    id,
    maybe(next() < 0.5 ? BigInt(Math.floor(next() * 2 ** 62)) - 2n ** 61n : Math.floor(next() * 1e9)),
    maybe(pick(['0', '-1.5', '123456789012345678901234567890.000000001', 'NaN', `${next()}`])),
    maybe(pick([0.1 + 0.2, -0, 1e-300, 1.7976931348623157e308, Math.PI, -next() * 1e6])),
    maybe(text()),
    maybe(text().slice(0, 40)),
    maybe(new Date(Date.UTC(2000, 0, 1) + Math.floor(next() * 1e12))),
    maybe(pick(['2026-02-28', new Date(Date.UTC(2026, 5, 15, 12)), 'epoch', '1999-12-31'])),
    maybe(
      pick([
        { a: pick(AWKWARD), n: next() },
        // (A JS array would go as a PostgreSQL array literal, which is no JSON: refused either way.)
        '[1, "two", null]',
        'null',
        '"text"',
        { nested: { deep: [pick(AWKWARD)] } },
      ]),
    ),
    maybe(pick(['{"spaced" :  1,  "dup": 1, "dup": 2}', { s: pick(AWKWARD) }, '[]'])),
    maybe(next() < 0.5),
    maybe(pick(['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12}'])),
    maybe(Buffer.from(Array.from({ length: Math.floor(next() * 6) }, () => Math.floor(next() * 256)))),
    maybe(pick([[1, -2, 3], [], [null, 4]])),
    maybe([pick(AWKWARD), pick(AWKWARD), null]),
  ];
}

async function count(table: string, where = 'true'): Promise<number> {
  const { rows } = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`);
  return Number(rows[0]!.n);
}

describe('COPY text rows', () => {
  const statement = (values: readonly unknown[] | undefined): PipelineStatement =>
    ({ text: 'INSERT', values, statementName: undefined }) as unknown as PipelineStatement;
  const form = { text: 'COPY t (a, b, c) FROM STDIN', bytea: [false, false, true] };

  it('escapes what would end a field or a row, writes NULL as \\N, bytea as hex, in the columns order', () => {
    const rows = copyTextRows(
      [statement(['a\tb\nc\rd\\e', null, Buffer.from([0, 255])]), statement([undefined, '', Buffer.alloc(0)])],
      0,
      2,
      [2, 1, 3],
      form,
    );
    expect(rows?.toString('utf8')).toBe('\\N\ta\\tb\\nc\\rd\\\\e\t\\\\x00ff\n\t\\N\t\\\\x\n');
  });

  it('refuses rows COPY could not store exactly: a Buffer outside bytea, a wrong number of values', () => {
    expect(copyTextRows([statement([Buffer.from('x'), 1, null])], 0, 1, [1, 2, 3], form)).toBeUndefined();
    expect(copyTextRows([statement([1, 2])], 0, 1, [1, 2, 3], form)).toBeUndefined();
    expect(copyTextRows([statement(undefined)], 0, 1, [1, 2, 3], form)).toBeUndefined();
  });
});

describe('coalesced INSERTs as COPY FROM STDIN', () => {
  it.each(['atomic', 'independent'] as const)(
    '%s: stores exactly what single-row INSERTs store, for every kind of value',
    async (mode) => {
      const viaCopy = `copy_exact_${mode}_${suffix}`;
      const viaInsert = `copy_reference_${mode}_${suffix}`;
      await admin.query(`CREATE TABLE ${viaCopy} (${COLUMNS})`);
      await admin.query(`CREATE TABLE ${viaInsert} (${COLUMNS})`);
      const next = random(mode === 'atomic' ? 7 : 11);
      const rows = Array.from({ length: 600 }, (_, i) => randomRow(i, next));
      const pipeline = router.pipeline({ batchSize: 250, maxQueueSize: 1000, coalesce: true, mode });
      const results = await Promise.all(
        rows.map((row) => pipeline.addQuery(`INSERT INTO ${viaCopy} ${INSERT_COLUMNS} VALUES ${PARAMS}`, row)),
      );
      expect(results.every((r) => r.command === 'INSERT' && r.rowCount === 1 && r.rows.length === 0)).toBe(true);
      // Every row went through COPY, none as unnest or VALUES, and no batch was re-run.
      expect(pipeline.stats()).toMatchObject({ coalesced: 600, coalescedAsCopy: 600, coalescedAsArrays: 0 });
      expect(pipeline.stats().batches).toBe(3);
      await pipeline.close();
      // The reference: each row through pg's own single-row INSERT.
      for (const row of rows) await admin.query(`INSERT INTO ${viaInsert} ${INSERT_COLUMNS} VALUES ${PARAMS}`, row);
      for (const [left, right] of [
        [viaCopy, viaInsert],
        [viaInsert, viaCopy],
      ])
        expect(
          await count(`(SELECT ${COMPARABLE} FROM ${left} EXCEPT ALL SELECT ${COMPARABLE} FROM ${right}) AS d`),
        ).toBe(0);
      expect(await count(viaCopy)).toBe(600);
      // NULL and the empty string stay apart, as do the string '\N' and NULL.
      expect(await count(viaCopy, "t = ''")).toBe(await count(viaInsert, "t = ''"));
      expect(await count(viaCopy, 't IS NULL')).toBe(await count(viaInsert, 't IS NULL'));
      expect(await count(viaCopy, "t LIKE '%\\N%'")).toBeGreaterThan(0);
    },
  );

  it('takes the unnest form where COPY is not equivalent: row-level security, a rule, an identity ALWAYS column', async () => {
    const rls = `copy_rls_${suffix}`;
    const ruled = `copy_rule_${suffix}`;
    const log = `copy_rule_log_${suffix}`;
    const always = `copy_always_${suffix}`;
    await admin.query(`CREATE TABLE ${rls} (id int, v int)`);
    await admin.query(`GRANT ALL ON ${rls} TO ${role}`);
    await admin.query(`ALTER TABLE ${rls} ENABLE ROW LEVEL SECURITY`);
    await admin.query(`CREATE POLICY positive ON ${rls} USING (true) WITH CHECK (v > 0)`);
    await admin.query(`CREATE TABLE ${ruled} (id int, v int)`);
    await admin.query(`CREATE TABLE ${log} (id int)`);
    await admin.query(`CREATE RULE logged AS ON INSERT TO ${ruled} DO ALSO INSERT INTO ${log} VALUES (NEW.id)`);
    await admin.query(`CREATE TABLE ${always} (id int GENERATED ALWAYS AS IDENTITY, v int)`);

    // Row-level security binds the limited role (the table's owner and superusers bypass it).
    const limitedPipeline = limited.pipeline({ batchSize: 100, coalesce: true });
    const policed = Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        limitedPipeline.addQuery(`INSERT INTO ${rls} (id, v) VALUES ($1, $2)`, [i, i === 7 ? -1 : 1]),
      ),
    );
    await limitedPipeline.flush();
    expect(limitedPipeline.stats()).toMatchObject({ coalesced: 20, coalescedAsCopy: 0, coalescedAsArrays: 20 });
    await limitedPipeline.close();
    const pipeline = router.pipeline({ batchSize: 100, coalesce: true });
    const logged = Array.from({ length: 20 }, (_, i) =>
      pipeline.addQuery(`INSERT INTO ${ruled} (id, v) VALUES ($1, $2)`, [i, 1]),
    );
    await pipeline.flush();
    // Atomic, so the statements after the first refused one are reported as aborted rather than racing its Parse.
    const atomic = router.pipeline({ batchSize: 100, coalesce: true, mode: 'atomic' });
    const forced = Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => atomic.addQuery(`INSERT INTO ${always} (id, v) VALUES ($1, $2)`, [i, 1])),
    );
    await atomic.flush();
    // The policy refuses its row alone (COPY would have refused the whole run under row-level security).
    const policedOutcomes = await policed;
    expect(policedOutcomes.map((o) => (o.status === 'rejected' ? o.reason.code : 'ok'))).toEqual(
      Array.from({ length: 20 }, (_, i) => (i === 7 ? '42501' : 'ok')),
    );
    // The rule ran for every row (COPY ignores rules).
    await Promise.all(logged);
    expect(await count(log)).toBe(20);
    // An explicit value for an identity ALWAYS column is refused, as the single-row INSERT refuses it (COPY takes it).
    const forcedOutcomes = await forced;
    expect((forcedOutcomes[0] as PromiseRejectedResult).reason.code).toBe('428C9');
    expect(
      forcedOutcomes
        .slice(1)
        .every((o) => o.status === 'rejected' && o.reason instanceof BatchAbortedError && o.reason.failedIndex === 0),
    ).toBe(true);
    expect(await count(always)).toBe(0);
    expect(pipeline.stats()).toMatchObject({ coalesced: 20, coalescedAsCopy: 0, coalescedAsArrays: 20 });
    expect(atomic.stats()).toMatchObject({ coalesced: 20, coalescedAsCopy: 0, coalescedAsArrays: 20 });
    await pipeline.close();
    await atomic.close();
  });

  it('a rule or an identity ALWAYS column added through the router is obeyed by the very next batch (no COPY)', async () => {
    const ruled = `copy_rule_later_${suffix}`;
    const log = `copy_rule_later_log_${suffix}`;
    await router.query(`CREATE TABLE ${ruled} (id int, v int)`);
    await router.query(`CREATE TABLE ${log} (id int)`);
    const pipeline = router.pipeline({ batchSize: 100, coalesce: true });
    const insert = `INSERT INTO ${ruled} (id, v) VALUES ($1, $2)`;
    await Promise.all(Array.from({ length: 10 }, (_, i) => pipeline.addQuery(insert, [i, 1])));
    expect(pipeline.stats()).toMatchObject({ coalescedAsCopy: 10 });
    // The COPY form is cached now; the rule comes within its minute, through the same router.
    await router.query(`CREATE RULE logged AS ON INSERT TO ${ruled} DO ALSO INSERT INTO ${log} VALUES (NEW.id)`);
    await Promise.all(Array.from({ length: 10 }, (_, i) => pipeline.addQuery(insert, [10 + i, 1])));
    expect(await count(log)).toBe(10);
    expect(pipeline.stats()).toMatchObject({ coalesced: 20, coalescedAsCopy: 10, coalescedAsArrays: 10 });
    // The same for a column that becomes an identity ALWAYS column (a DO block that runs the DDL counts too).
    await router.query(
      `DO $$ BEGIN EXECUTE 'ALTER TABLE ${ruled} ALTER COLUMN id SET NOT NULL, ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY'; END $$`,
    );
    await router.query(`DROP RULE logged ON ${ruled}`);
    const refused = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => pipeline.addQuery(insert, [100 + i, 1])),
    );
    expect(refused.map((o) => (o.status === 'rejected' ? o.reason.code : 'ok'))).toEqual(Array(5).fill('428C9'));
    expect(await count(ruled)).toBe(20);
    await pipeline.close();
  });

  it('a batch merged while it waited for a connection still obeys a rule added before its turn', async () => {
    const blocked = `copy_blocked_${suffix}`;
    const ruled = `copy_rule_waiting_${suffix}`;
    const log = `copy_rule_waiting_log_${suffix}`;
    await router.query(`CREATE TABLE ${blocked} (id int)`);
    await router.query(`CREATE TABLE ${ruled} (id int, v int)`);
    await router.query(`CREATE TABLE ${log} (id int)`);
    // One batch at a time: the second waits for the first, which waits for a lock held here.
    const pipeline = router.pipeline({ batchSize: 10, concurrency: 1, coalesce: true });
    const insert = `INSERT INTO ${ruled} (id, v) VALUES ($1, $2)`;
    await Promise.all(Array.from({ length: 10 }, (_, i) => pipeline.addQuery(insert, [i, 1])));
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => pipeline.addQuery(`INSERT INTO ${blocked} (id) VALUES ($1)`, [i])),
    );
    expect(pipeline.stats()).toMatchObject({ coalescedAsCopy: 20 });
    await admin.query('BEGIN');
    await admin.query(`LOCK TABLE ${blocked} IN ACCESS EXCLUSIVE MODE`);
    try {
      const first = Array.from({ length: 10 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${blocked} (id) VALUES ($1)`, [10 + i]),
      );
      // The second batch goes to the queue behind the first and is merged there, with the cached COPY form.
      const second = Array.from({ length: 10 }, (_, i) => pipeline.addQuery(insert, [10 + i, 1]));
      for (let waited = 0; ; waited += 50) {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%${blocked}%'`,
        );
        if (rows[0]!.n > 0) break;
        if (waited > 30_000) throw new Error('the first batch never waited for the lock');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(pipeline.stats()).toMatchObject({ batchesInFlight: 2, queued: 0 });
      // The rule comes while the second batch waits, merged already as COPY (which would ignore the rule).
      await router.query(`CREATE RULE logged AS ON INSERT TO ${ruled} DO ALSO INSERT INTO ${log} VALUES (NEW.id)`);
      await admin.query('COMMIT');
      await Promise.all([...first, ...second]);
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
    }
    expect(await count(log)).toBe(10);
    expect(await count(ruled)).toBe(20);
    expect(pipeline.stats()).toMatchObject({ coalesced: 40, coalescedAsCopy: 30, coalescedAsArrays: 10 });
    await pipeline.close();
  });

  it('uses COPY for a partitioned table, an identity BY DEFAULT column and a table with a generated column and triggers', async () => {
    const parted = `copy_parted_${suffix}`;
    const audited = `copy_audited_${suffix}`;
    const audit = `copy_audit_${suffix}`;
    await admin.query(`CREATE TABLE ${parted} (id int, v int) PARTITION BY RANGE (id)`);
    await admin.query(`CREATE TABLE ${parted}_low PARTITION OF ${parted} FOR VALUES FROM (0) TO (10)`);
    await admin.query(`CREATE TABLE ${parted}_high PARTITION OF ${parted} FOR VALUES FROM (10) TO (100)`);
    await admin.query(
      `CREATE TABLE ${audited} (id int GENERATED BY DEFAULT AS IDENTITY, v int, twice int GENERATED ALWAYS AS (v * 2) STORED)`,
    );
    await admin.query(`CREATE TABLE ${audit} (op text, level text, v int)`);
    await admin.query(`CREATE FUNCTION ${audit}_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${audit} VALUES (TG_OP, TG_LEVEL, NEW.v); NEW.v := NEW.v + 1000; RETURN NEW; END $$`);
    await admin.query(
      `CREATE TRIGGER row_audit BEFORE INSERT ON ${audited} FOR EACH ROW EXECUTE FUNCTION ${audit}_row()`,
    );

    const pipeline = router.pipeline({ batchSize: 100, coalesce: true });
    await Promise.all([
      ...Array.from({ length: 30 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${parted} (id, v) VALUES ($1, $2)`, [i, i]),
      ),
      ...Array.from({ length: 30 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${audited} (id, v) VALUES ($1, $2)`, [i + 1, i]),
      ),
    ]);
    expect(pipeline.stats()).toMatchObject({ coalesced: 60, coalescedAsCopy: 60 });
    expect(await count(`${parted}_low`)).toBe(10);
    expect(await count(`${parted}_high`)).toBe(20);
    // The BEFORE ROW trigger fired once per row, as an INSERT (COPY fires it with TG_OP INSERT), and its change stuck.
    expect(await count(audit, "op = 'INSERT' AND level = 'ROW'")).toBe(30);
    expect(await count(audited, 'v >= 1000 AND twice = v * 2')).toBe(30);
    await pipeline.close();
  });

  it('independent: a constraint violation in the middle of a COPY fails exactly that statement; the batch goes on', async () => {
    const table = `copy_unique_${suffix}`;
    const other = `copy_other_${suffix}`;
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text NOT NULL)`);
    await admin.query(`CREATE TABLE ${other} (id int PRIMARY KEY)`);
    // groupCommit off: each statement of the batch has its own Sync, so what follows the failed COPY runs on.
    for (const groupCommit of [false, true]) {
      await admin.query(`TRUNCATE ${table}, ${other}`);
      const pipeline = router.pipeline({ batchSize: 200, coalesce: true, mode: 'independent', groupCommit });
      const first = Array.from({ length: 50 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${table} (id, v) VALUES ($1, $2)`, [i === 25 ? 3 : i, `row ${i}`]),
      );
      const between = pipeline.addQuery(`UPDATE ${table} SET v = v WHERE id = $1`, [1]);
      const after = Array.from({ length: 30 }, (_, i) =>
        pipeline.addQuery(`INSERT INTO ${other} (id) VALUES ($1)`, [i]),
      );
      const outcomes = await Promise.allSettled(first);
      expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason.code : o.value.rowCount))).toEqual(
        Array.from({ length: 50 }, (_, i) => (i === 25 ? '23505' : 1)),
      );
      await Promise.all([between, ...after]);
      expect(await count(table)).toBe(49);
      expect(await count(other)).toBe(30);
      expect(pipeline.stats()).toMatchObject({ coalescedAsCopy: 80, failed: 1 });
      await pipeline.close();
    }
  });

  it('atomic: a constraint violation in a COPY fails the whole batch, naming the bad statement', async () => {
    const table = `copy_atomic_${suffix}`;
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int CHECK (v >= 0))`);
    const update = `UPDATE ${table} SET v = v + 1 WHERE id = $1`;
    const insert = `INSERT INTO ${table} (id, v) VALUES ($1, $2)`;
    // One connection, so the UPDATE prepared by the first batch is prepared where the next batch runs.
    const single = new QueryRouter({ primary: primaryUrl, pool: { max: 1 } });
    const pipeline = single.pipeline({ batchSize: 41, coalesce: true, mode: 'atomic', concurrency: 1 });
    // A good batch first: it also prepares the UPDATE, so the next batches go lean (one Sync for the batch).
    await Promise.all([
      pipeline.addQuery(update, [0]),
      ...Array.from({ length: 40 }, (_, i) => pipeline.addQuery(insert, [i, 0])),
    ]);
    const leanBefore = single.stats().nodes[0]!.leanBatches;
    const settled = await Promise.allSettled([
      pipeline.addQuery(update, [0]),
      ...Array.from({ length: 40 }, (_, i) => pipeline.addQuery(insert, [100 + i, i === 13 ? -1 : 1])),
    ]);
    // The whole batch was rolled back; the re-run without merging names the 14th INSERT (index 14 of the batch).
    expect((settled[14] as PromiseRejectedResult).reason.code).toBe('23514');
    const aborted = settled.filter((_, i) => i !== 14);
    expect(
      aborted.every(
        (o) => o.status === 'rejected' && o.reason instanceof BatchAbortedError && o.reason.failedIndex === 14,
      ),
    ).toBe(true);
    expect(await count(table)).toBe(40);
    expect(await count(table, 'v = 0')).toBe(40);
    // The failed batch went lean, with its COPY inside.
    expect(single.stats().nodes[0]!.leanBatches).toBeGreaterThan(leanBefore);
    expect(pipeline.stats().coalescedAsCopy).toBe(80);
    await single.close();
  });

  it("atomic without prepared statements: the COPY goes through pg's pipeline mode, and fails the batch the same way", async () => {
    const table = `copy_unprepared_${suffix}`;
    await admin.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v int CHECK (v >= 0))`);
    const unprepared = new QueryRouter({ primary: primaryUrl, pool: { max: 1 }, statementCache: { max: 0 } });
    try {
      const pipeline = unprepared.pipeline({ batchSize: 42, coalesce: true, mode: 'atomic' });
      const insert = `INSERT INTO ${table} (id, v) VALUES ($1, $2)`;
      const batch = (start: number, bad: number): Promise<PromiseSettledResult<unknown>[]> =>
        Promise.allSettled([
          ...Array.from({ length: 40 }, (_, i) => pipeline.addQuery(insert, [start + i, i === bad ? -1 : 0])),
          pipeline.addQuery(`UPDATE ${table} SET v = v + 1 WHERE id = $1`, [start]),
          pipeline.addQuery(insert, [start + 1000, 0]),
        ]);
      expect((await batch(0, -1)).every((o) => o.status === 'fulfilled')).toBe(true);
      const settled = await batch(100, 20);
      expect((settled[20] as PromiseRejectedResult).reason.code).toBe('23514');
      expect(
        settled.every((o, i) => i === 20 || (o.status === 'rejected' && o.reason instanceof BatchAbortedError)),
      ).toBe(true);
      expect(await count(table)).toBe(41);
      expect(await count(table, 'v = 1')).toBe(1);
      expect(unprepared.stats().nodes[0]!.leanBatches).toBe(0);
      expect(pipeline.stats()).toMatchObject({ coalescedAsCopy: 80 });
      await pipeline.close();
    } finally {
      await unprepared.close();
    }
  });

  it('follows the table when it is altered between batches', async () => {
    const table = `copy_altered_${suffix}`;
    await admin.query(`CREATE TABLE ${table} (id int, v int)`);
    await admin.query(`GRANT ALL ON ${table} TO ${role}`);
    const sql = `INSERT INTO ${table} (id, v) VALUES ($1, $2)`;
    // Atomic: a statement re-run alone after the merged one failed reports its own error first, the rest as aborted.
    const pipeline = limited.pipeline({ batchSize: 20, coalesce: true, mode: 'atomic' });
    const batch = (start: number, v: (i: number) => unknown): Promise<PromiseSettledResult<unknown>[]> =>
      Promise.allSettled(Array.from({ length: 20 }, (_, i) => pipeline.addQuery(sql, [start + i, v(i)])));
    expect((await batch(0, (i) => i)).every((o) => o.status === 'fulfilled')).toBe(true);
    // The column's type changed: COPY's text does not name types, and the values go through the new type's input.
    await admin.query(`ALTER TABLE ${table} ALTER COLUMN v TYPE text`);
    expect((await batch(100, (i) => `text ${i}\t!`)).every((o) => o.status === 'fulfilled')).toBe(true);
    expect(await count(table, "v LIKE 'text %\t!'")).toBe(20);
    // The column is gone: the COPY fails, every statement is re-run and fails as it would alone.
    await admin.query(`ALTER TABLE ${table} DROP COLUMN v`);
    const gone = await batch(200, (i) => i);
    expect((gone[0] as PromiseRejectedResult).reason.code).toBe('42703');
    expect(gone.every((o) => o.status === 'rejected')).toBe(true);
    await admin.query(`ALTER TABLE ${table} ADD COLUMN v int`);
    expect((await batch(300, (i) => i)).every((o) => o.status === 'fulfilled')).toBe(true);
    expect(pipeline.stats()).toMatchObject({ coalescedAsCopy: 80, coalescedAsArrays: 0 });
    // Row-level security switched on: COPY refuses the table (0A000), the rows are re-run one by one and pass the
    // policy, and the COPY form is forgotten, so the next batch merges as unnest.
    await admin.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
    await admin.query(`CREATE POLICY everything ON ${table} USING (true) WITH CHECK (true)`);
    expect((await batch(400, (i) => i)).every((o) => o.status === 'fulfilled')).toBe(true);
    expect((await batch(500, (i) => i)).every((o) => o.status === 'fulfilled')).toBe(true);
    expect(pipeline.stats()).toMatchObject({ coalescedAsCopy: 100, coalescedAsArrays: 20, failed: 20 });
    expect(await count(table)).toBe(100);
    await pipeline.close();
  });
});

describe('COPY FROM STDIN when the primary dies', () => {
  let cluster: LocalCluster;
  let own: QueryRouter;

  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 0, settings: { synchronous_commit: 'on' } });
    own = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { max: 4, acquireTimeoutMs: 3000 },
      breaker: { resetTimeoutMs: 500 },
    });
    await own.query('CREATE TABLE killed_rows (id int PRIMARY KEY, v text NOT NULL)');
  });
  afterAll(async () => {
    await own?.close();
    await cluster?.stop();
  });

  it.each(['independent', 'atomic'] as const)(
    '%s: SIGKILL mid-COPY leaves the outcome unknown and re-runs nothing',
    async (mode) => {
      const base = mode === 'independent' ? 0 : 1_000_000;
      const pipeline = own.pipeline({ batchSize: 2000, concurrency: 2, maxQueueSize: 60_000, coalesce: true, mode });
      const promises = Array.from({ length: 60_000 }, (_, i) =>
        pipeline.addQuery('INSERT INTO killed_rows (id, v) VALUES ($1, $2)', [base + i, 'x'.repeat(200)]),
      );
      const settling = Promise.allSettled(promises);
      await promises[0];
      expect(pipeline.stats().coalescedAsCopy).toBeGreaterThan(0);
      await cluster.killNode(0);
      await pipeline.flush();
      const settled = await settling;
      const fulfilled = settled.filter((o) => o.status === 'fulfilled').length;
      const rejected = settled.filter((o) => o.status === 'rejected') as PromiseRejectedResult[];
      expect(fulfilled).toBeGreaterThan(0);
      expect(rejected.length).toBeGreaterThan(0);
      // Nothing was re-run: a re-run of a row already in would fail on the primary key, and none did.
      for (const { reason } of rejected) expect(reason.code).not.toBe('23505');
      // The batches in flight when the primary died lost their connection: their outcome is unknown.
      expect(rejected.some(({ reason }) => isOutcomeUnknown(reason))).toBe(true);
      await cluster.startNode(0);
      const deadline = Date.now() + 30_000;
      let rows: number | undefined;
      while (rows === undefined && Date.now() < deadline) {
        try {
          const result = await own.query<{ n: string }>(
            'SELECT count(*) AS n FROM killed_rows WHERE id >= $1 AND id < $2',
            [base, base + 60_000],
          );
          rows = Number(result.rows[0]!.n);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      // Every acknowledged row is there (its commit reached the WAL first); no more rows than statements.
      expect(rows).toBeGreaterThanOrEqual(fulfilled);
      expect(rows).toBeLessThanOrEqual(60_000);
      await pipeline.close();
    },
    90_000,
  );
});
