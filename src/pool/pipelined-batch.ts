import type { PoolClient, QueryResult } from 'pg';
import { stateOf } from './client-state.js';
import { isConnectionLevelError } from './connection-errors.js';
import { sendCopyIn } from './copy-in.js';
import { isBodylessWrite, resultOfTag, sendLeanBatch, type LeanStatement } from './lean-batch.js';
import { corkSocket, setPipelineMode, supportsLeanBatch, supportsPipelining, uncorkSocket } from './pg-internals.js';
import { sendStatement } from './statement-run.js';

/** One statement of a pipelined batch. */
export interface BatchStatement {
  readonly text: string;
  readonly values: readonly unknown[] | undefined;
  /** Prepared-statement name from the statement cache, or `undefined` to run unnamed. */
  readonly statementName: string | undefined;
  /** It leaves session state on its connection (see {@link StatementOptions.leavesSession}). */
  readonly leavesSession?: boolean;
  /**
   * For a `COPY … FROM STDIN` (`text`, without parameters): its rows, in the format the statement names, sent as
   * CopyData right behind it in the same round trip (see `copy-in.ts`).
   */
  readonly copy?: Buffer;
}

/** How one statement of a batch ended. */
export type BatchOutcome =
  { readonly ok: true; readonly result: QueryResult } | { readonly ok: false; readonly error: Error };

/** Each statement's reply to a batch, in order, as `Promise.allSettled` reports them. */
export type BatchReplies = PromiseSettledResult<QueryResult>[];

/** What PostgreSQL answers for each statement after a failed one in a transaction. */
function abortedInTransaction(): Error {
  return Object.assign(new Error('current transaction is aborted, commands ignored until end of transaction block'), {
    code: '25P02',
    severity: 'ERROR',
  });
}

/**
 * The body of `BEGIN, …, COMMIT` when it can go as one lean batch (see `lean-batch.ts`): every statement a write that returns no
 * rows, prepared already on this connection under its cached name (or a COPY with its rows), and pg's internals for it there. Otherwise `undefined` (the statements then
 * go through pg one by one, which also prepares them for the next batch). When it answers a body, the body's
 * statements have been counted as cache hits: send it with {@link sendLean}.
 */
export function leanBodyOf(client: PoolClient, statements: readonly BatchStatement[]): BatchStatement[] | undefined {
  const cache = stateOf(client).cache;
  if (
    cache === undefined ||
    statements.length < 3 ||
    statements[0]!.text !== 'BEGIN' ||
    statements[statements.length - 1]!.text !== 'COMMIT' ||
    !supportsLeanBatch(client)
  )
    return undefined;
  const body = statements.slice(1, -1);
  for (const { text, values, statementName, copy } of body) {
    if (copy !== undefined) continue;
    if (
      statementName === undefined ||
      values === undefined ||
      values.length === 0 ||
      !isBodylessWrite(text) ||
      !cache.isReady(statementName, text)
    )
      return undefined;
  }
  for (const { text, statementName, copy } of body) if (copy === undefined) cache.use(statementName!, text);
  return body;
}

/**
 * Sends a `BEGIN, body…, COMMIT` batch as one lean batch and reports it as {@link sendEach} would: BEGIN
 * and each completed statement fulfilled; the failing statement's error, the statements after it aborted
 * (25P02) and COMMIT answered `ROLLBACK`; a failure after the last statement is the commit's; a lost connection
 * fails everything not yet answered.
 */
export async function sendLean(client: PoolClient, body: readonly BatchStatement[]): Promise<BatchReplies> {
  const { completed, error } = await sendLeanBatch(client, body as readonly LeanStatement[]);
  const fulfilled = (value: QueryResult): PromiseSettledResult<QueryResult> => ({ status: 'fulfilled', value });
  const rejected = (reason: unknown): PromiseSettledResult<QueryResult> => ({ status: 'rejected', reason });
  const settled = [fulfilled(resultOfTag('BEGIN')), ...completed.map((tag) => fulfilled(resultOfTag(tag)))];
  if (error === undefined) return [...settled, fulfilled(resultOfTag('COMMIT'))];
  if (isConnectionLevelError(error))
    return [...settled, ...Array.from({ length: body.length + 1 - completed.length }, () => rejected(error))];
  if (completed.length === body.length) return [...settled, rejected(error)];
  settled.push(rejected(error));
  for (let i = completed.length + 1; i < body.length; i++) settled.push(rejected(abortedInTransaction()));
  return [...settled, fulfilled(resultOfTag('ROLLBACK'))];
}

/** One statement of a batch through pg: a COPY with its rows, or a statement from the statement cache. */
function sendOne(client: PoolClient, statement: BatchStatement): Promise<QueryResult> {
  if (statement.copy !== undefined) return sendCopyIn(client, statement.text, statement.copy);
  return sendStatement(client, statement.text, statement.values, statement.statementName);
}

/**
 * Sends each statement through pg: every statement is written before any reply is read (pg's pipeline mode, with
 * the socket corked so the batch leaves in one write), or, when pg cannot pipeline, one after the other. Each
 * statement has its own Sync, so each succeeds or fails on its own unless the caller wrapped them in BEGIN/COMMIT.
 */
export async function sendEach(client: PoolClient, statements: readonly BatchStatement[]): Promise<BatchReplies> {
  if (supportsPipelining(client)) {
    setPipelineMode(client, true);
    corkSocket(client);
    const sent: Promise<QueryResult>[] = [];
    try {
      for (const statement of statements) sent.push(sendOne(client, statement));
    } finally {
      uncorkSocket(client);
    }
    const settled = await Promise.allSettled(sent);
    setPipelineMode(client, false);
    stateOf(client).cache?.settle();
    return settled;
  }
  const settled: BatchReplies = [];
  for (const statement of statements) {
    settled.push(
      await sendOne(client, statement).then(
        (value) => ({ status: 'fulfilled' as const, value }),
        (reason: unknown) => ({ status: 'rejected' as const, reason }),
      ),
    );
  }
  return settled;
}
