import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryRouter } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';

/*
 * Differential: the same scripts run directly on the primary (one connection, PostgreSQL's own answers) and through
 * router.session() in read-your-writes mode, statement by statement, with replay paused on both replicas and with
 * replay running. Every statement must get the same answer: the router may send reads to replicas only where they
 * see everything the session wrote. `{s}` in a script is a schema of its own for each run.
 */

const SCRIPTS: Record<string, readonly string[]> = {
  'DDL, then reads of what it made': [
    'CREATE TABLE {s}.t (id int PRIMARY KEY, v text)',
    "INSERT INTO {s}.t VALUES (1, 'one'), (2, 'two')",
    'SELECT * FROM {s}.t ORDER BY id',
    'ALTER TABLE {s}.t ADD COLUMN w int NOT NULL DEFAULT 5',
    'SELECT id, w FROM {s}.t ORDER BY id',
    'CREATE INDEX ON {s}.t (v)',
    "SELECT id FROM {s}.t WHERE v = 'two'",
    'CREATE VIEW {s}.big AS SELECT id FROM {s}.t WHERE id > 1',
    'SELECT * FROM {s}.big',
    'DROP VIEW {s}.big',
    'SELECT * FROM {s}.big',
    "CREATE TYPE {s}.mood AS ENUM ('sad', 'ok')",
    "SELECT 'ok'::{s}.mood AS m",
  ],
  'a VOLATILE function that writes, called from SELECT': [
    'CREATE TABLE {s}.log (n int)',
    'CREATE FUNCTION {s}.note(x int) RETURNS int LANGUAGE sql VOLATILE AS $$ INSERT INTO {s}.log VALUES (x) RETURNING x $$',
    'SELECT {s}.note(7) AS n',
    'SELECT count(*)::int AS n, sum(n)::int AS total FROM {s}.log',
    'SELECT {s}.note(n + 1) AS n FROM {s}.log',
    'SELECT array_agg(n ORDER BY n) AS ns FROM {s}.log',
  ],
  'triggers, writable CTEs and sequences': [
    'CREATE TABLE {s}.a (id int)',
    'CREATE TABLE {s}.audit (id int, op text)',
    'CREATE FUNCTION {s}.remember() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO {s}.audit VALUES (NEW.id, TG_OP); RETURN NEW; END $$',
    'CREATE TRIGGER remember AFTER INSERT ON {s}.a FOR EACH ROW EXECUTE FUNCTION {s}.remember()',
    'INSERT INTO {s}.a VALUES (1), (2)',
    'SELECT * FROM {s}.audit ORDER BY id',
    'WITH moved AS (DELETE FROM {s}.a WHERE id = 1 RETURNING id) INSERT INTO {s}.audit SELECT id, $$MOVED$$ FROM moved',
    'SELECT op, count(*)::int AS n FROM {s}.audit GROUP BY op ORDER BY op',
    'CREATE SEQUENCE {s}.q',
    "SELECT nextval('{s}.q') AS v",
    'SELECT last_value FROM {s}.q',
    'DO $$ BEGIN INSERT INTO {s}.a VALUES (99); END $$',
    'SELECT array_agg(id ORDER BY id) AS ids FROM {s}.a',
    'UPDATE {s}.a SET id = id * 10 RETURNING id',
    'SELECT sum(id)::int AS s FROM {s}.a',
  ],
  'errors are the same errors': [
    'SELECT * FROM {s}.missing',
    'SELECT 1 / 0',
    'CREATE TABLE {s}.u (id int PRIMARY KEY)',
    'INSERT INTO {s}.u VALUES (1)',
    'INSERT INTO {s}.u VALUES (1)',
    'SELECT count(*)::int AS n FROM {s}.u',
    'SELECT nosuchcolumn FROM {s}.u',
  ],
};

/** What a statement answered, in a form both runs can be compared by. */
type Answer = { ok: true; command: string; rowCount: number | null; rows: unknown[] } | { ok: false; code: string };

function answerOf(result: pg.QueryResult): Answer {
  return { ok: true, command: result.command, rowCount: result.rowCount, rows: result.rows };
}

function errorOf(error: unknown): Answer {
  return { ok: false, code: String((error as { code?: unknown }).code) };
}

let cluster: LocalCluster;
let direct: pg.Client;
let runs = 0;

beforeAll(async () => {
  cluster = await startLocalCluster({ replicas: 2 });
  direct = new pg.Client({ connectionString: cluster.primaryUrl });
  await direct.connect();
});
afterAll(async () => {
  await direct?.end();
  await cluster?.stop();
});

async function runDirect(script: readonly string[], schema: string): Promise<Answer[]> {
  await direct.query(`CREATE SCHEMA ${schema}`);
  const answers: Answer[] = [];
  for (const sql of script) answers.push(await direct.query(sql.replaceAll('{s}', schema)).then(answerOf, errorOf));
  return answers;
}

async function runThroughRouter(router: QueryRouter, script: readonly string[], schema: string): Promise<Answer[]> {
  return router.session(async () => {
    await router.query(`CREATE SCHEMA ${schema}`);
    const answers: Answer[] = [];
    for (const sql of script) answers.push(await router.query(sql.replaceAll('{s}', schema)).then(answerOf, errorOf));
    return answers;
  });
}

describe('read-your-writes, differential: the router answers each statement as the primary alone does', () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    for (const replay of ['paused', 'running'] as const) {
      it(`${name} (replicas' replay ${replay})`, async () => {
        const run = runs++;
        const expected = await runDirect(script, `diff_direct_${run}`);
        const router = new QueryRouter({
          primary: cluster.primaryUrl,
          replicas: [...cluster.replicaUrls],
          consistency: 'read-your-writes',
        });
        if (replay === 'paused') for (const replica of ['replica1', 'replica2']) cluster.pauseReplay(replica);
        try {
          const actual = await runThroughRouter(router, script, `diff_router_${run}`);
          actual.forEach((answer, i) => expect(answer, script[i]).toEqual(expected[i]));
          // Reads did run through the router's read path (on a replica, or on the primary after checking one).
          const { consistency } = router.stats();
          expect(
            consistency.readsOnReplicaKnown +
              consistency.readsOnReplicaChecked +
              consistency.readsOnReplicaAfterWait +
              consistency.readsOnPrimary,
          ).toBeGreaterThan(0);
        } finally {
          for (const replica of ['replica1', 'replica2']) cluster.resumeReplay(replica);
          await router.close();
        }
      });
    }
  }
});
