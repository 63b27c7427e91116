import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QueryRouter, type PipelineOptions, type QueryPipeline } from '../src/index.js';
import { keyedWriteTemplate } from '../src/sql/index.js';
import { keyedMemberOutcomes, keyedRunEnd } from '../src/pipeline/coalesce-keyed.js';
import type { KeyedWriteForm, PipelineStatement } from '../src/pipeline/index.js';

const primaryUrl = inject('primaryUrl');

let router: QueryRouter;
let seq = 0;

function name(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now()}_${seq++}`;
}

async function sql<R extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  return (await router.query<R>(text, params, { route: 'primary' })).rows;
}

interface Settled {
  readonly rowCount: number | null;
  readonly command: string;
  readonly error: string | undefined;
}

async function settle(promises: readonly Promise<{ rowCount: number | null; command: string }>[]): Promise<Settled[]> {
  return (await Promise.allSettled(promises)).map((outcome) =>
    outcome.status === 'fulfilled'
      ? { rowCount: outcome.value.rowCount, command: outcome.value.command, error: undefined }
      : { rowCount: null, command: '', error: (outcome.reason as { code?: string }).code ?? 'no code' },
  );
}

/** Runs `[sql, params]` pairs through a new coalescing pipeline, one batch at a time so batches keep their order. */
async function viaPipeline(
  statements: readonly [string, unknown[]][],
  options: PipelineOptions = {},
): Promise<{ results: Settled[]; pipeline: QueryPipeline }> {
  const pipeline = router.pipeline({
    batchSize: 500,
    maxQueueSize: 100_000,
    concurrency: 1,
    coalesce: true,
    ...options,
  });
  // Settled as they come: a rejection must find its handler before the flush ends.
  const settled = settle(statements.map(([text, params]) => pipeline.addQuery(text, params)));
  await pipeline.flush();
  const results = await settled;
  await pipeline.close();
  return { results, pipeline };
}

/** The same statements one at a time, each its own round trip and transaction. */
async function oneByOne(statements: readonly [string, unknown[]][]): Promise<Settled[]> {
  const results: Settled[] = [];
  for (const [text, params] of statements) results.push(...(await settle([router.query(text, params)])));
  return results;
}

async function differences(a: string, b: string): Promise<number> {
  const rows = await sql<{ n: string }>(
    `SELECT (SELECT count(*) FROM (TABLE ${a} EXCEPT ALL TABLE ${b}) x) + (SELECT count(*) FROM (TABLE ${b} EXCEPT ALL TABLE ${a}) y) AS n`,
  );
  return Number(rows[0]!.n);
}

beforeAll(() => {
  router = new QueryRouter({ primary: primaryUrl, pool: { max: 6 } });
});
afterAll(async () => {
  await router.close();
});

describe('keyedWriteTemplate', () => {
  it('reads UPDATE … SET c = $n[::type], … WHERE k = $n AND … and DELETE FROM t WHERE k = $n AND …', () => {
    expect(keyedWriteTemplate('UPDATE app."Acc" SET "Bal" = $2::numeric(12, 2), note = $1 WHERE id = $3;')).toEqual({
      command: 'UPDATE',
      table: 'app."Acc"',
      set: [
        { column: 'Bal', spelled: '"Bal"', param: 2, cast: 'numeric(12, 2)' },
        { column: 'note', spelled: 'note', param: 1, cast: undefined },
      ],
      keys: [{ column: 'id', spelled: 'id', param: 3, cast: undefined }],
      paramCount: 3,
    });
    expect(keyedWriteTemplate('delete from t where b = $2 and A = $1')).toMatchObject({
      command: 'DELETE',
      set: [],
      keys: [
        { column: 'b', param: 2 },
        { column: 'a', spelled: 'A', param: 1 },
      ],
    });
    expect(keyedWriteTemplate('UPDATE t SET at = $1::timestamp(3) with time zone WHERE id = $2')?.set[0]?.cast).toBe(
      'timestamp(3) with time zone',
    );
  });

  it.each([
    'UPDATE t SET v = v + $1 WHERE id = $2',
    'UPDATE t SET v = $1 WHERE id = $2 RETURNING v',
    'UPDATE t SET v = $1 WHERE id = $2 OR id = $3',
    'UPDATE t SET v = $1 WHERE id > $2',
    'UPDATE t SET v = $1 WHERE id = $2::int',
    'UPDATE t SET v = $1::int[] WHERE id = $2',
    'UPDATE t SET v = 1 WHERE id = $1',
    'UPDATE t SET v = $1, v = $2 WHERE id = $3',
    'UPDATE t SET v = $1 WHERE id = $1',
    'UPDATE t SET id = $1 WHERE id = $2',
    'UPDATE t SET v = $1 WHERE id = $3',
    'UPDATE t SET v = $1',
    'UPDATE ONLY t SET v = $1 WHERE id = $2',
    'UPDATE t AS x SET v = $1 WHERE id = $2',
    'UPDATE t SET v = $1 FROM u WHERE id = $2',
    'UPDATE t SET v = $1 WHERE id = $2; SELECT 1',
    'DELETE FROM t WHERE id = $1 RETURNING *',
    'DELETE FROM t USING u WHERE id = $1',
    'DELETE FROM t',
    'DELETE FROM t WHERE id = $1 AND id = $2',
    'INSERT INTO t (v) VALUES ($1)',
  ])('refuses %s', (text) => {
    expect(keyedWriteTemplate(text)).toBeUndefined();
  });
});

describe('keyed runs', () => {
  const form: KeyedWriteForm = {
    text: 'merged',
    statementName: undefined,
    params: [1, 2],
    keyPositions: [1],
    bytea: [false, false],
  };
  const statement = (values: unknown[], text = 'UPDATE t SET v = $1 WHERE id = $2'): PipelineStatement => ({
    text,
    values,
    statementName: undefined,
    fingerprintHash: 'h',
    rowTemplate: undefined,
    groupable: true,
    session: undefined,
  });

  it('end where a key repeats as pg sends it, where the text changes, or where values do not fit', () => {
    const run = (values: unknown[][], from = 0): number =>
      keyedRunEnd(
        values.map((v) => statement(v)),
        from,
        form,
      );
    expect(
      run([
        ['a', 1],
        ['b', 2],
        ['c', '1'],
      ]),
    ).toBe(2);
    expect(
      run([
        ['a', 1],
        ['b', '01'],
        ['c', 1n + 1n],
        ['d', 2],
      ]),
    ).toBe(3);
    // NULL keys match nothing, so they never repeat.
    expect(
      run([
        ['a', null],
        ['b', null],
        ['c', undefined],
        ['d', 3],
      ]),
    ).toBe(4);
    expect(
      run([
        ['a', Buffer.from([1])],
        ['b', Buffer.from([1])],
      ]),
    ).toBe(1);
    expect(
      run([
        ['a', 1],
        [Buffer.from([1]), 2],
      ]),
    ).toBe(1);
    expect(run([['a', 1], ['b']])).toBe(1);
    expect(keyedRunEnd([statement(['a', 1]), statement(['b', 2], 'other')], 0, form)).toBe(1);
  });

  it('give each member the rows it changed, from the count and (unless one each) the ordinals', () => {
    const merged = (ords: string[] | null, n = ords?.length ?? 0) => ({
      command: 'SELECT',
      rowCount: 1,
      oid: 0,
      rows: [{ n: String(n), ords }],
      fields: [],
    });
    const counts = (result: ReturnType<typeof merged>, members: number) =>
      keyedMemberOutcomes('UPDATE', result, members).map((o) => (o.ok ? o.result.rowCount : -1));
    expect(counts(merged(['1', '3', '3']), 4)).toEqual([1, 0, 2, 0]);
    // No row changed: array_agg over no rows is NULL.
    expect(counts(merged(null, 0), 2)).toEqual([0, 0]);
    // As many rows changed as there are members: one each, no ordinals sent.
    expect(counts(merged(null, 4), 4)).toEqual([1, 1, 1, 1]);
    expect(keyedMemberOutcomes('DELETE', merged(['2']), 2).map((o) => o.ok && o.result.command)).toEqual([
      'DELETE',
      'DELETE',
    ]);
  });
});

describe('coalesced UPDATEs and DELETEs', () => {
  it.each([
    ['with group commit', {}],
    ['without group commit', { groupCommit: false }],
  ] as [string, PipelineOptions][])(
    'a random workload stores exactly what the statements one at a time store, with the same row counts (%s)',
    async (_label, options) => {
      const [a, b] = [name('cu_a'), name('cu_b')];
      for (const table of [a, b]) {
        await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, big bigint, amount numeric, label text, at timestamptz,
        doc jsonb, flag boolean, ref uuid, short varchar(8))`);
        await sql(
          `INSERT INTO ${table} SELECT g, g * 1000000000::bigint, g / 7.0, 'row ' || g, '2026-01-01'::timestamptz + g * interval '1 min',
           jsonb_build_object('g', g), g % 2 = 0, md5(g::text)::uuid, 'r' || g FROM generate_series(1, 300) g`,
        );
      }
      const awkward = [
        '',
        'NULL',
        'null',
        '"q"',
        'back\\slash',
        '{b}',
        'a,b',
        ' pad ',
        'two\nlines',
        'émoji 🚀',
        "it's",
      ];
      let state = 12345;
      const random = (n: number): number => {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        return state % n;
      };
      const shapes: ((table: string) => [string, unknown[]])[] = [
        (t) => [
          `UPDATE ${t} SET big = $1, amount = $2 WHERE id = $3`,
          [random(5) === 0 ? null : BigInt(random(1e9)) * 3n, `${random(1000)}.${random(100)}`, 1 + random(330)],
        ],
        (t) => [
          `UPDATE ${t} SET label = $2, doc = $1, flag = $3, at = $4 WHERE id = $5`,
          [
            random(6) === 0 ? null : { s: awkward[random(awkward.length)], n: random(9), nested: [1, { deep: true }] },
            random(5) === 0 ? null : awkward[random(awkward.length)],
            random(3) === 0 ? null : random(2) === 0,
            new Date(Date.UTC(2026, 0, 1) + random(1e9)),
            1 + random(330),
          ],
        ],
        (t) => [
          `UPDATE ${t} SET ref = $1, amount = $2::numeric(10,1) WHERE id = $3`,
          [
            random(4) === 0 ? null : `0000${random(9)}000-0000-0000-0000-0000000000${10 + random(89)}`,
            `${random(100)}.46`,
            1 + random(330),
          ],
        ],
        (t) => [
          `UPDATE ${t} SET short = $1 WHERE id = $2`,
          // Now and then a value too long for varchar(8): that statement alone fails, with 22001.
          // …always on a row that exists (ids up to 150 are never deleted): on a missing row, whether the statement
          // alone fails depends on PostgreSQL's plan choice for it, which differs between connections.
          random(40) === 0
            ? ['far too long', 1 + random(150)]
            : [awkward[random(awkward.length)]!.slice(0, 8), 1 + random(330)],
        ],
        (t) => [`DELETE FROM ${t} WHERE id = $1`, [151 + random(180)]],
      ];
      // Runs of one shape (long enough to merge, with the odd repeated key), the shape changing now and then.
      const picks: [number, number][] = [];
      let shape = 0;
      for (let i = 0; i < 3000; i++) {
        if (random(25) === 0) shape = random(shapes.length);
        picks.push([shape, state]);
        random(2);
      }
      const workload = (table: string): [string, unknown[]][] =>
        picks.map(([s, seed]) => {
          state = seed;
          return shapes[s]!(table);
        });
      const { results, pipeline } = await viaPipeline(workload(a), options);
      const reference = await oneByOne(workload(b));
      expect(results).toEqual(reference);
      expect(await differences(a, b)).toBe(0);
      expect(pipeline.stats().coalescedKeyed).toBeGreaterThan(2000);
      expect(reference.filter((r) => r.rowCount === 0).length).toBeGreaterThan(100);
      // Both commands ran, and some statements failed (a value too long), each alone.
      expect(new Set(reference.map((r) => r.command))).toEqual(new Set(['UPDATE', 'DELETE', '']));
      expect(reference.filter((r) => r.error === '22001').length).toBeGreaterThan(3);
    },
  );

  it('type modifiers, casts, jsonb and bytea keys give what the statements alone give, missing keys included', async () => {
    const [a, b] = [name('cu_mod_a'), name('cu_mod_b')];
    for (const table of [a, b]) {
      await sql(`CREATE TABLE ${table} (id bytea PRIMARY KEY, code varchar(3), amount numeric(5, 2), doc jsonb)`);
      await sql(
        `INSERT INTO ${table} SELECT decode(lpad(to_hex(g), 2, '0'), 'hex'), 'x', 0, '{}' FROM generate_series(1, 20) g`,
      );
    }
    // Keys 1–25 (21–25 missing); now and then a value its column refuses, on present and on missing keys.
    const statements = (table: string): [string, unknown[]][] =>
      Array.from({ length: 25 }, (_, i) => [
        `UPDATE ${table} SET code = $1, amount = $2::numeric(6, 1), doc = $3 WHERE id = $4`,
        [
          i % 11 === 7 ? 'toolong' : `c${i}`,
          i % 9 === 4 ? '12345.6' : `${i}.25`,
          i % 13 === 12 ? '{not json' : { i },
          Buffer.from([i + 1]),
        ],
      ]);
    const { results, pipeline } = await viaPipeline(statements(a));
    const reference = await oneByOne(statements(b));
    // Index 22 depends on each connection's plan choice (below); everything else must be equal.
    expect(results.filter((_, i) => i !== 22)).toEqual(reference.filter((_, i) => i !== 22));
    const outcomes = reference.map((r) => r.error ?? r.rowCount);
    expect([...outcomes.slice(0, 22), ...outcomes.slice(23)]).toEqual([
      ...[1, 1, 1, 1, '22003', 1, 1, '22001', 1, 1, 1, 1, '22P02', '22003', 1, 1, 1, 1, '22001', 1, 0, 0],
      ...[0, 0],
    ]);
    // A value too large for numeric(5, 2) on a missing key: the statement alone fails when PostgreSQL plans it with
    // its values (a custom plan) and finds nothing when it reuses a generic plan; merged, it does what its own does.
    expect([0, '22003']).toContain(outcomes[22]);
    expect(await differences(a, b)).toBe(0);
    expect(pipeline.stats().coalescedKeyed).toBe(25);
  });

  it('a value its column refuses fails the merged statement even when its key matches nothing, and the members run alone', async () => {
    const table = name('cu_missing');
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, code varchar(3))`);
    const update = `UPDATE ${table} SET code = $1 WHERE id = $2`;
    const { results, pipeline } = await viaPipeline(
      Array.from({ length: 5 }, (_, i): [string, unknown[]] => [update, [i === 2 ? 'toolong' : 'ok', i + 1]]),
    );
    // One merged statement that failed (its check runs before the join), then its five members one by one: what
    // the third gives then is its own statement's answer (an error with a custom plan, no row with a generic one).
    expect(pipeline.stats()).toMatchObject({ coalescedKeyed: 5, batches: 2 });
    expect(results.filter((_, i) => i !== 2).map((r) => r.rowCount)).toEqual([0, 0, 0, 0]);
  });

  it('is not merged for a cast to another type than the column, a self-referencing foreign key, or an array column', async () => {
    const table = name('cu_refuse');
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, parent int REFERENCES ${table} (id), v int, tags int[])`);
    await sql(`INSERT INTO ${table} (id) SELECT g FROM generate_series(1, 10) g`);
    const other = name('cu_refuse2');
    await sql(`CREATE TABLE ${other} (id int PRIMARY KEY, v int, tags int[])`);
    const statements: [string, unknown[]][] = [];
    for (let i = 1; i <= 5; i++) statements.push([`DELETE FROM ${table} WHERE id = $1`, [i]]);
    for (let i = 1; i <= 5; i++) statements.push([`UPDATE ${other} SET v = $1::bigint WHERE id = $2`, [i, i]]);
    for (let i = 1; i <= 5; i++) statements.push([`UPDATE ${other} SET tags = $1 WHERE id = $2`, [[i], i]]);
    const { results, pipeline } = await viaPipeline(statements);
    expect(results.map((r) => r.rowCount)).toEqual([1, 1, 1, 1, 1, ...Array(10).fill(0)]);
    expect(pipeline.stats()).toMatchObject({ coalesced: 0, coalescedKeyed: 0 });
  });

  it('composite unique keys, missing keys (rowCount 0) and keys in another order than the index', async () => {
    const table = name('cu_comp');
    await sql(`CREATE TABLE ${table} (a int, b text, v int, UNIQUE (b, a))`);
    await sql(`INSERT INTO ${table} SELECT g % 10, 'k' || (g / 10), 0 FROM generate_series(0, 99) g`);
    const statements: [string, unknown[]][] = Array.from({ length: 120 }, (_, i) => [
      `UPDATE ${table} SET v = $3 WHERE a = $1 AND b = $2`,
      [i % 10, `k${Math.floor(i / 10)}`, i + 1],
    ]);
    statements.push(
      ...Array.from({ length: 20 }, (_, i): [string, unknown[]] => [
        `DELETE FROM ${table} WHERE b = $1 AND a = $2`,
        [`k${i % 12}`, i % 3],
      ]),
    );
    const { results, pipeline } = await viaPipeline(statements);
    expect(results.slice(0, 100).every((r) => r.command === 'UPDATE' && r.rowCount === 1)).toBe(true);
    expect(results.slice(100, 120).every((r) => r.rowCount === 0)).toBe(true);
    // Deletes 0–9 find their rows, 10 and 11 name missing keys, 12–19 repeat 0–7 (a run of their own): gone already.
    expect(results.slice(120).map((r) => r.rowCount)).toEqual([...Array(10).fill(1), ...Array(10).fill(0)]);
    expect(pipeline.stats().coalescedKeyed).toBe(140);
    const rows = await sql<{ n: string; v: string }>(`SELECT count(*) AS n, sum(v) AS v FROM ${table}`);
    expect(Number(rows[0]!.n)).toBe(100 - results.slice(120).filter((r) => r.rowCount === 1).length);
  });

  it('a key repeated in a run ends the run there, so the later statement wins', async () => {
    const table = name('cu_rep');
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, v text)`);
    await sql(`INSERT INTO ${table} SELECT g, '' FROM generate_series(1, 10) g`);
    const update = `UPDATE ${table} SET v = $1 WHERE id = $2`;
    // id 3 three times (one as the string '3', which pg sends the same), id 5 twice: runs [1,2,3] [3,4,5,6] [5,3].
    const ids: unknown[] = [1, 2, 3, 3, 4, 5, 6, 5, '3'];
    const { results, pipeline } = await viaPipeline(ids.map((id, i) => [update, [`w${i}`, id]]));
    expect(results.map((r) => r.rowCount)).toEqual(ids.map(() => 1));
    expect(pipeline.stats()).toMatchObject({ coalescedKeyed: 9, batches: 1, failed: 0 });
    const rows = await sql<{ id: number; v: string }>(`SELECT id, v FROM ${table} WHERE v <> '' ORDER BY id`);
    expect(rows).toEqual([
      { id: 1, v: 'w0' },
      { id: 2, v: 'w1' },
      { id: 3, v: 'w8' },
      { id: 4, v: 'w4' },
      { id: 5, v: 'w7' },
      { id: 6, v: 'w6' },
    ]);
  });

  it('keys equal in PostgreSQL but sent differently (01 and 1) fail the merged statement, and its members run one by one', async () => {
    const table = name('cu_same');
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, v text)`);
    await sql(
      `CREATE FUNCTION ${table}_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.n := OLD.n + 1; RETURN NEW; END $$`,
    );
    await sql(`CREATE TRIGGER counted BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_count()`);
    await sql(`INSERT INTO ${table} (id) SELECT g FROM generate_series(1, 5) g`);
    const update = `UPDATE ${table} SET v = $1 WHERE id = $2`;
    const { results, pipeline } = await viaPipeline([
      [update, ['a', 1]],
      [update, ['b', '01']],
      [update, ['c', 2]],
    ]);
    expect(results.map((r) => r.rowCount)).toEqual([1, 1, 1]);
    // Every statement changed its row once: the failed merged statement changed nothing.
    expect(await sql(`SELECT id, n, v FROM ${table} WHERE n > 0 ORDER BY id`)).toEqual([
      { id: 1, n: 2, v: 'b' },
      { id: 2, n: 1, v: 'c' },
    ]);
    expect(pipeline.stats().failed).toBe(0);
  });

  it('is not merged without a unique index on exactly the WHERE columns, on a table with rules, or for a SET column of a unique index', async () => {
    const plain = name('cu_nokey');
    await sql(`CREATE TABLE ${plain} (id int, v int)`);
    await sql(`INSERT INTO ${plain} SELECT g % 5, 0 FROM generate_series(0, 9) g`);
    const wider = name('cu_wider');
    await sql(`CREATE TABLE ${wider} (a int, b int, v int, PRIMARY KEY (a, b))`);
    const partial = name('cu_partial');
    await sql(`CREATE TABLE ${partial} (id int, v int)`);
    await sql(`CREATE UNIQUE INDEX ON ${partial} (id) WHERE id > 0`);
    const ruled = name('cu_rule');
    await sql(`CREATE TABLE ${ruled} (id int PRIMARY KEY, v int)`);
    await sql(`CREATE TABLE ${ruled}_log (id int)`);
    await sql(`CREATE RULE logged AS ON UPDATE TO ${ruled} DO ALSO INSERT INTO ${ruled}_log VALUES (NEW.id)`);
    const uniqueSet = name('cu_uset');
    await sql(`CREATE TABLE ${uniqueSet} (id int PRIMARY KEY, v int UNIQUE)`);
    const statements: [string, unknown[]][] = [];
    for (let i = 0; i < 10; i++) statements.push([`UPDATE ${plain} SET v = $1 WHERE id = $2`, [i, i % 5]]);
    for (let i = 0; i < 10; i++) statements.push([`UPDATE ${wider} SET v = $1 WHERE a = $2`, [i, i]]);
    for (let i = 0; i < 10; i++) statements.push([`DELETE FROM ${partial} WHERE id = $1`, [i]]);
    for (let i = 0; i < 10; i++) statements.push([`UPDATE ${ruled} SET v = $1 WHERE id = $2`, [i, i]]);
    for (let i = 0; i < 10; i++) statements.push([`UPDATE ${uniqueSet} SET v = $1 WHERE id = $2`, [i, i]]);
    const { results, pipeline } = await viaPipeline(statements);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    // Without a unique index a statement may change several rows: each counts its own.
    expect(results.slice(0, 10).map((r) => r.rowCount)).toEqual(Array.from({ length: 10 }, () => 2));
    expect(pipeline.stats()).toMatchObject({ coalesced: 0, coalescedKeyed: 0 });
  });

  it('row triggers fire once per changed row as one at a time; statement triggers once per merged statement', async () => {
    const table = name('cu_trig');
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, v int)`);
    await sql(`CREATE TABLE ${table}_log (level text, op text)`);
    await sql(`CREATE FUNCTION ${table}_log() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO ${table}_log VALUES (TG_LEVEL, TG_OP); RETURN NULL; END $$`);
    await sql(`CREATE TRIGGER per_row AFTER UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_log()`);
    await sql(
      `CREATE TRIGGER per_statement AFTER UPDATE OR DELETE ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${table}_log()`,
    );
    await sql(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, 50) g`);
    const statements: [string, unknown[]][] = [];
    for (let i = 1; i <= 60; i++) statements.push([`UPDATE ${table} SET v = $1 WHERE id = $2`, [i, i]]);
    for (let i = 41; i <= 70; i++) statements.push([`DELETE FROM ${table} WHERE id = $1`, [i]]);
    const { results } = await viaPipeline(statements);
    expect(results.filter((r) => r.rowCount === 1)).toHaveLength(50 + 10);
    const log = await sql<{ level: string; op: string; n: string }>(
      `SELECT level, op, count(*) AS n FROM ${table}_log GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(log).toEqual([
      { level: 'ROW', op: 'DELETE', n: '10' },
      { level: 'ROW', op: 'UPDATE', n: '50' },
      { level: 'STATEMENT', op: 'DELETE', n: '1' },
      { level: 'STATEMENT', op: 'UPDATE', n: '1' },
    ]);
  });

  it('a constraint violation fails exactly its own statement in independent mode, and the whole batch in atomic mode', async () => {
    for (const mode of ['independent', 'atomic'] as const) {
      const table = name('cu_err');
      await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, v int NOT NULL CHECK (v >= 0))`);
      await sql(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, 40) g`);
      const statements: [string, unknown[]][] = Array.from({ length: 40 }, (_, i) => [
        `UPDATE ${table} SET v = $1 WHERE id = $2`,
        [i === 17 ? -1 : i === 29 ? null : i + 1, i + 1],
      ]);
      const { results, pipeline } = await viaPipeline(statements, { mode });
      const sum = await sql<{ v: string }>(`SELECT sum(v) AS v FROM ${table}`);
      if (mode === 'independent') {
        expect(results.flatMap((r, i) => (r.error === undefined ? [] : [[i, r.error]]))).toEqual([
          [17, '23514'],
          [29, '23502'],
        ]);
        expect(results.filter((r) => r.rowCount === 1)).toHaveLength(38);
        expect(Number(sum[0]!.v)).toBe((40 * 41) / 2 - 18 - 30);
      } else {
        expect(results[17]!.error).toBe('23514');
        expect(results.filter((r) => r.error === 'PGR_BATCH_ABORTED')).toHaveLength(39);
        expect(Number(sum[0]!.v)).toBe(0);
      }
      expect(pipeline.stats().coalescedKeyed).toBe(40);
    }
  });

  it('DELETEs of rows another table references fail one by one; a partitioned table merges too', async () => {
    const parent = name('cu_parent');
    await sql(`CREATE TABLE ${parent} (id int PRIMARY KEY, v int) PARTITION BY RANGE (id)`);
    await sql(`CREATE TABLE ${parent}_low PARTITION OF ${parent} FOR VALUES FROM (0) TO (50)`);
    await sql(`CREATE TABLE ${parent}_high PARTITION OF ${parent} FOR VALUES FROM (50) TO (100)`);
    await sql(`INSERT INTO ${parent} SELECT g, 0 FROM generate_series(1, 99) g`);
    await sql(`CREATE TABLE ${parent}_child (parent int REFERENCES ${parent} (id))`);
    await sql(`INSERT INTO ${parent}_child VALUES (15), (64)`);
    const statements: [string, unknown[]][] = [];
    for (let id = 1; id <= 99; id++) statements.push([`UPDATE ${parent} SET v = $1 WHERE id = $2`, [id, id]]);
    for (let id = 1; id <= 99; id += 7) statements.push([`DELETE FROM ${parent} WHERE id = $1`, [id]]);
    const { results, pipeline } = await viaPipeline(statements);
    expect(results.slice(0, 99).every((r) => r.rowCount === 1)).toBe(true);
    const deletes = results.slice(99);
    expect(deletes.flatMap((r, k) => (r.error === undefined ? [] : [[1 + 7 * k, r.error]]))).toEqual([
      [15, '23503'],
      [64, '23503'],
    ]);
    expect(deletes.filter((r) => r.rowCount === 1)).toHaveLength(deletes.length - 2);
    expect(pipeline.stats().coalescedKeyed).toBe(statements.length);
    const rows = await sql<{ n: string; v: string }>(`SELECT count(*) AS n, sum(v) AS v FROM ${parent}`);
    const deleted = deletes.flatMap((r, k) => (r.rowCount === 1 ? [1 + 7 * k] : []));
    expect(rows[0]).toEqual({
      n: String(99 - deleted.length),
      v: String((99 * 100) / 2 - deleted.reduce((x, y) => x + y, 0)),
    });
  });

  it('atomic mode merges as well, and a batch that succeeds commits every statement', async () => {
    const table = name('cu_atomic');
    await sql(`CREATE TABLE ${table} (id int PRIMARY KEY, v int)`);
    await sql(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, 100) g`);
    const statements: [string, unknown[]][] = Array.from({ length: 150 }, (_, i) => [
      `UPDATE ${table} SET v = $1 WHERE id = $2`,
      [i, 1 + (i % 100)],
    ]);
    const { results, pipeline } = await viaPipeline(statements, { mode: 'atomic', batchSize: 150 });
    expect(results.every((r) => r.rowCount === 1)).toBe(true);
    // Runs cut where ids start repeating: [0, 100) and [100, 150).
    expect(pipeline.stats()).toMatchObject({ coalescedKeyed: 150, batches: 1 });
    const rows = await sql<{ v: string }>(`SELECT sum(v) AS v FROM ${table}`);
    // ids 51..100 keep 50..99, ids 1..50 end with 100..149.
    expect(Number(rows[0]!.v)).toBe(3725 + 6225);
  });
});
