import { Readable } from 'node:stream';
import { pipeline as pipeStreams } from 'node:stream/promises';
import type pg from 'pg';
import postgres from 'postgres';
import { QueryPipeline, QueryRouter, type FlushResult } from '../../src/index.js';
import { PIPELINE_BACKEND, type PipelineHost } from '../../src/pipeline/index.js';
import { quietPgPool } from '../lib/pools.js';
import type { PipelineBenchParams } from './params.js';
import type { DeleteWorkload, EventRow, InsertWorkload, UpdateWorkload, Workload, WorkloadKind } from './workloads.js';

/**
 * The contenders of `bench:pipeline`: ways of getting N single-row writes into PostgreSQL from one process. Each
 * calls its library the way its documentation shows; every one keeps its connections open across runs, so no run
 * pays for connecting.
 */
export interface PipelineContender {
  /** Its name in the table. */
  readonly name: string;
  /** The workloads it can run; the table prints `—` for the others. */
  readonly kinds: readonly WorkloadKind[];
  /** Writes every statement of `workload` and resolves once all are committed; rejects if any failed. */
  run(workload: Workload): Promise<void>;
  close(): Promise<void>;
}

/** A {@link PipelineContender} around a `QueryPipeline`, which also keeps what its last flush reported. */
export interface QueryPipelineContender extends PipelineContender {
  readonly pipeline: QueryPipeline;
  /** What `flush()` resolved with at the end of the last run. */
  readonly lastFlush: FlushResult | undefined;
}

const ALL: readonly WorkloadKind[] = Object.freeze(['insert', 'update', 'delete']);
const KEYED_ONLY: readonly WorkloadKind[] = Object.freeze(['update', 'delete']);
const INSERT_ONLY: readonly WorkloadKind[] = Object.freeze(['insert']);

type PgValues = unknown[];
type PostgresValues = postgres.ParameterOrJSON<never>[];

function rawPool(url: string, params: PipelineBenchParams): pg.Pool {
  // idleTimeoutMillis 0: a contender waits through every other contender's runs and must not come back to
  // closed connections, which it would pay for reconnecting and the others would not.
  return quietPgPool({ connectionString: url, max: params.poolMax, idleTimeoutMillis: 0 });
}

/**
 * One postgres.js connection. `max_pipeline` above the run's statement count: postgres.js writes queries on a
 * connection without waiting while fewer than `max_pipeline` are unanswered, and inside `sql.begin` or
 * `sql.reserve()` it then falls back to one query per round trip for the rest of the queue.
 */
function postgresJs(url: string, params: PipelineBenchParams): postgres.Sql {
  // postgres.js honours max_pipeline but its type declarations omit it; a variable, not a literal, gets it through.
  const options = { max: 1, max_pipeline: Math.max(100, params.statements * 2), onnotice: () => undefined };
  return postgres(url, options);
}

/** The baseline: one caller awaiting `pg.Pool#query` for each statement in turn. */
export function sequentialPgContender(url: string, params: PipelineBenchParams): PipelineContender {
  const pool = rawPool(url, params);
  return {
    name: 'pg.Pool#query, sequential',
    kinds: ALL,
    async run(workload) {
      for (const values of workload.params) await pool.query(workload.text, values as PgValues);
    },
    close: () => pool.end(),
  };
}

/** `pg.Pool#query` with `poolMax` callers, each awaiting its own statements, over as many connections. */
export function concurrentPgContender(url: string, params: PipelineBenchParams): PipelineContender {
  const pool = rawPool(url, params);
  return {
    name: `pg.Pool#query, ${params.poolMax} callers`,
    kinds: ALL,
    async run(workload) {
      let next = 0;
      const caller = async (): Promise<void> => {
        while (next < workload.params.length) await pool.query(workload.text, workload.params[next++] as PgValues);
      };
      await Promise.all(Array.from({ length: params.poolMax }, caller));
    },
    close: () => pool.end(),
  };
}

/**
 * postgres.js pipelining as its README shows it: `sql.begin(sql => [...queries])` returning the array, so every
 * query is written before the first answer is read, all in one transaction. Prepared (as its tagged templates are),
 * so after the first run only Bind/Execute travel.
 */
export function postgresJsTransactionContender(url: string, params: PipelineBenchParams): PipelineContender {
  const sql = postgresJs(url, params);
  const options = { prepare: true };
  return {
    name: 'postgres.js, sql.begin(sql => [...])',
    kinds: ALL,
    async run(workload) {
      await sql.begin((tx) =>
        workload.params.map((values) => tx.unsafe(workload.text, values as PostgresValues, options)),
      );
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/**
 * postgres.js without a transaction: unawaited queries on one `sql.reserve()` connection, awaited together. It
 * pipelines them the same way (each still has its own Sync, so each commits on its own).
 */
export function postgresJsReservedContender(url: string, params: PipelineBenchParams): PipelineContender {
  const sql = postgresJs(url, params);
  const options = { prepare: true };
  return {
    name: 'postgres.js, Promise.all on sql.reserve()',
    kinds: ALL,
    async run(workload) {
      const reserved = await sql.reserve();
      try {
        await Promise.all(
          workload.params.map((values) => reserved.unsafe(workload.text, values as PostgresValues, options)),
        );
      } finally {
        reserved.release();
      }
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** How a coalescing contender merges its INSERT runs: `COPY … FROM STDIN` (what `events` gets), or unnest arrays. */
export type CoalescedForm = 'copy' | 'unnest';

/** `router` as a pipeline sees it, except that it offers no COPY form: runs merge as unnest INSERTs, as for a table COPY is ruled out for. */
function withoutCopy(router: QueryRouter): PipelineHost {
  return { [PIPELINE_BACKEND]: () => ({ ...router[PIPELINE_BACKEND](), copyInsert: undefined }) };
}

/**
 * `router.pipeline(...)`: every statement queued with `addQuery` at once, then `flush()`. `maxQueueSize` holds
 * a whole run, as postgres.js's array holds it, so neither waits on back-pressure. With coalescing, `form` picks
 * how runs merge: `'unnest'` builds the pipeline on a backend without the COPY form.
 */
export function queryPipelineContender(
  url: string,
  params: PipelineBenchParams,
  mode: 'independent' | 'atomic',
  coalesce: boolean,
  form: CoalescedForm = 'copy',
): QueryPipelineContender {
  const router = new QueryRouter({ primary: url, pool: { max: params.poolMax, idleTimeoutMs: 0 } });
  const batchSize = !coalesce
    ? params.pipelineBatchSize
    : form === 'copy'
      ? params.copyBatchSize
      : params.coalesceBatchSize;
  const pipeline = new QueryPipeline(form === 'unnest' ? withoutCopy(router) : router, {
    batchSize,
    concurrency: params.pipelineConcurrency,
    maxQueueSize: Math.max(params.statements, batchSize),
    onFull: 'wait',
    mode,
    coalesce,
  });
  let lastFlush: FlushResult | undefined;
  return {
    name: `QueryPipeline ${mode}${coalesce ? ` + coalesce (${form === 'copy' ? 'COPY' : 'unnest'})` : ''}`,
    kinds: ALL,
    pipeline,
    get lastFlush() {
      return lastFlush;
    },
    async run(workload) {
      const done = workload.params.map((values) => pipeline.addQuery(workload.text, values));
      lastFlush = await pipeline.flush();
      await Promise.all(done);
      if (lastFlush.failed > 0)
        throw new Error(`${lastFlush.failed} of ${lastFlush.queriesExecuted} statements failed`);
    },
    close: () => router.close(),
  };
}

/** `INSERT … VALUES ($1, $2, $3), ($4, $5, $6), …` written by hand: `multiRowBatch` rows per awaited statement. */
export function multiRowInsertContender(url: string, params: PipelineBenchParams): PipelineContender {
  const pool = rawPool(url, params);
  const texts = new Map<string, string>();
  const textFor = (workload: InsertWorkload, rows: number): string => {
    const key = `${workload.table}/${rows}`;
    let text = texts.get(key);
    if (text === undefined) {
      const tuples = Array.from({ length: rows }, (_, r) => `($${3 * r + 1}, $${3 * r + 2}, $${3 * r + 3})`);
      text = `INSERT INTO ${workload.table} (user_id, kind, payload) VALUES ${tuples.join(', ')}`;
      texts.set(key, text);
    }
    return text;
  };
  return {
    name: `multi-row INSERT, ${params.multiRowBatch.toLocaleString('en-US')} rows per statement`,
    kinds: INSERT_ONLY,
    async run(workload) {
      if (workload.kind !== 'insert') throw new TypeError('multi-row INSERT runs the INSERT workload only');
      const client = await pool.connect();
      try {
        for (let start = 0; start < workload.rows.length; start += params.multiRowBatch) {
          const batch = workload.rows.slice(start, start + params.multiRowBatch);
          const values: unknown[] = [];
          for (const row of batch) values.push(row.userId, row.kind, row.payload);
          await client.query(textFor(workload, batch.length), values);
        }
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

const COPY_ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format: backslash, tab and line breaks would otherwise end the field or the row. */
function copyField(text: string): string {
  return text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]!);
}

function* copyChunks(rows: readonly EventRow[], chunkRows: number): Generator<string> {
  for (let start = 0; start < rows.length; start += chunkRows) {
    let chunk = '';
    const end = Math.min(rows.length, start + chunkRows);
    for (let i = start; i < end; i++) {
      const row = rows[i]!;
      chunk += `${row.userId}\t${copyField(row.kind)}\t${copyField(JSON.stringify(row.payload))}\n`;
    }
    yield chunk;
  }
}

/**
 * The ceiling: `COPY … FROM STDIN` through postgres.js's writable stream (pg-copy-streams is not installed, and
 * this benchmark adds no dependency). Rows are formatted inside the timed run, as the drivers serialise theirs.
 */
export function copyContender(url: string, params: PipelineBenchParams): PipelineContender {
  const sql = postgresJs(url, params);
  return {
    name: 'COPY FROM STDIN (postgres.js writable)',
    kinds: INSERT_ONLY,
    async run(workload) {
      if (workload.kind !== 'insert') throw new TypeError('COPY runs the INSERT workload only');
      const stream = await sql.unsafe(`COPY ${workload.table} (user_id, kind, payload) FROM STDIN`).writable();
      await pipeStreams(Readable.from(copyChunks(workload.rows, params.copyChunkRows)), stream);
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/**
 * `UPDATE … FROM unnest(…)` and `DELETE … USING unnest(…)` written by hand: `coalesceBatchSize` rows per awaited
 * statement, one array per column, prepared once. What a merged run of `coalesce: true` does, without its checks
 * (a repeated key, the values' types) or its per-statement results.
 */
export function unnestKeyedContender(url: string, params: PipelineBenchParams): PipelineContender {
  const pool = rawPool(url, params);
  const statement = (workload: UpdateWorkload | DeleteWorkload): { name: string; text: string } =>
    workload.kind === 'update'
      ? {
          name: `bench_unnest_update_${workload.table.replace('.', '_')}`,
          text: `UPDATE ${workload.table} AS a SET balance = u.balance FROM unnest($1::bigint[], $2::int[]) AS u(balance, id) WHERE a.id = u.id`,
        }
      : {
          name: `bench_unnest_delete_${workload.table.replace('.', '_')}`,
          text: `DELETE FROM ${workload.table} AS a USING unnest($1::int[]) AS u(id) WHERE a.id = u.id`,
        };
  return {
    name: `UPDATE/DELETE … unnest(…), ${params.coalesceBatchSize.toLocaleString('en-US')} rows per statement`,
    kinds: KEYED_ONLY,
    async run(workload) {
      if (workload.kind === 'insert')
        throw new TypeError('unnest UPDATE/DELETE runs the UPDATE and DELETE workloads only');
      const { name, text } = statement(workload);
      const client = await pool.connect();
      try {
        for (let start = 0; start < workload.params.length; start += params.coalesceBatchSize) {
          const batch = workload.params.slice(start, start + params.coalesceBatchSize);
          const values = batch[0]!.map((_, column) => batch.map((row) => row[column]));
          await client.query({ name, text, values });
        }
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/** Every contender, baseline first; the order of the table. */
export function pipelineContenders(url: string, params: PipelineBenchParams): PipelineContender[] {
  return [
    sequentialPgContender(url, params),
    concurrentPgContender(url, params),
    postgresJsTransactionContender(url, params),
    postgresJsReservedContender(url, params),
    queryPipelineContender(url, params, 'independent', false),
    queryPipelineContender(url, params, 'independent', true, 'copy'),
    queryPipelineContender(url, params, 'independent', true, 'unnest'),
    queryPipelineContender(url, params, 'atomic', false),
    queryPipelineContender(url, params, 'atomic', true, 'copy'),
    queryPipelineContender(url, params, 'atomic', true, 'unnest'),
    multiRowInsertContender(url, params),
    copyContender(url, params),
    unnestKeyedContender(url, params),
  ];
}
