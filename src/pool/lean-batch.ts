import type { PoolClient, QueryResult } from 'pg';
import { prepareValue, submitRaw } from './pg-internals.js';

/**
 * A pipelined batch written as PostgreSQL's extended protocol allows at its leanest: Bind + Execute for each
 * statement (all prepared already) and ONE Sync at the end. Everything up to a Sync is one implicit transaction,
 * so the batch commits or rolls back as a whole, exactly what `BEGIN … COMMIT` around it would do, and the server
 * answers with one BindComplete + CommandComplete per statement and a single ReadyForQuery. pg's own path sends
 * Bind, Describe, Execute and Sync per statement and builds a Query, a Result and a promise for each; here the
 * whole batch is one Buffer and one query in pg's queue (see `submitRaw`).
 *
 * Only for statements that return no rows (INSERT, UPDATE, DELETE without RETURNING): without Describe a row could
 * not be decoded. {@link isBodylessWrite} decides that from the text.
 */

/** One statement of a lean batch: a prepared statement's name and its parameters. */
export interface LeanStatement {
  readonly statementName: string;
  readonly values: readonly unknown[] | undefined;
}

/** How the batch ended: each statement's command tag up to the first error, then that error (if any). */
export interface LeanBatchOutcome {
  /** Command tags of the statements that completed, in order (`INSERT 0 1`, `UPDATE 1`, …). */
  readonly completed: readonly string[];
  /** The error that ended the batch: a statement's (index `completed.length`), or the commit's if all completed. */
  readonly error: Error | undefined;
}

const FIRST_KEYWORD = /^(?:\s+|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*([a-z]+)/i;
const RETURNING = /returning/i;
const bodyless = new Map<string, boolean>();
const BODYLESS_MEMO = 2_000;

/**
 * True for an INSERT, UPDATE or DELETE whose text nowhere contains `returning` (so none returns rows; a text that
 * mentions the word in a string or comment only takes the ordinary path). Memoised by text.
 */
export function isBodylessWrite(text: string): boolean {
  let verdict = bodyless.get(text);
  if (verdict === undefined) {
    const keyword = FIRST_KEYWORD.exec(text)?.[1]?.toLowerCase();
    verdict = (keyword === 'insert' || keyword === 'update' || keyword === 'delete') && !RETURNING.test(text);
    if (bodyless.size >= BODYLESS_MEMO) bodyless.clear();
    bodyless.set(text, verdict);
  }
  return verdict;
}

const EXECUTE_UNNAMED_PORTAL = Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0]);
const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

/** Bind (unnamed portal, statement `name`, text or binary parameters as pg would send them) + Execute, for a batch. */
export function encodeLeanBatch(statements: readonly LeanStatement[]): Buffer {
  const encoded: (string | Buffer | null)[][] = [];
  let size = SYNC.length;
  for (const statement of statements) {
    const params = (statement.values ?? []).map((value) => prepareValue(value) as string | Buffer | null);
    encoded.push(params);
    const binary = params.some((param) => Buffer.isBuffer(param));
    // Bind: type, length, portal "\0", name "\0", format codes, parameter count, parameters, result format count.
    size += 1 + 4 + 1 + Buffer.byteLength(statement.statementName) + 1 + 2 + (binary ? 2 * params.length : 0) + 2 + 2;
    for (const param of params)
      size += 4 + (param === null ? 0 : typeof param === 'string' ? Buffer.byteLength(param) : param.length);
    size += EXECUTE_UNNAMED_PORTAL.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  statements.forEach((statement, i) => {
    const params = encoded[i]!;
    const binary = params.some((param) => Buffer.isBuffer(param));
    const start = at;
    out[at++] = 0x42;
    at += 4; // length, written below
    out[at++] = 0;
    at += out.write(statement.statementName, at);
    out[at++] = 0;
    if (binary) {
      at = out.writeInt16BE(params.length, at);
      for (const param of params) at = out.writeInt16BE(Buffer.isBuffer(param) ? 1 : 0, at);
    } else at = out.writeInt16BE(0, at);
    at = out.writeInt16BE(params.length, at);
    for (const param of params) {
      if (param === null) at = out.writeInt32BE(-1, at);
      else if (typeof param === 'string') {
        const length = out.write(param, at + 4);
        at = out.writeInt32BE(length, at) + length;
      } else {
        at = out.writeInt32BE(param.length, at);
        at += param.copy(out, at);
      }
    }
    at = out.writeInt16BE(0, at);
    out.writeInt32BE(at - start - 1, start + 1);
    at += EXECUTE_UNNAMED_PORTAL.copy(out, at);
  });
  SYNC.copy(out, at);
  return out;
}

/**
 * Sends `statements` as one lean batch on `client` (NOT in pipeline mode: it goes through pg's queue as one query)
 * and resolves at the server's ReadyForQuery, or at the first error (a statement's, the commit's, the
 * connection's). Never rejects.
 */
export function sendLeanBatch(client: PoolClient, statements: readonly LeanStatement[]): Promise<LeanBatchOutcome> {
  return new Promise<LeanBatchOutcome>((resolve) => {
    const completed: string[] = [];
    let error: Error | undefined;
    submitRaw(client, encodeLeanBatch(statements), {
      commandComplete: (tag) => void completed.push(tag),
      // The batch is over at the first error, as pg's own Query is: nothing after it is reported.
      error: (cause) => {
        error ??= cause;
        resolve({ completed, error });
      },
      readyForQuery: () => resolve({ completed, error }),
    });
  });
}

/** pg's result shape for a statement of a lean batch, from its command tag: no rows, no fields. */
export function resultOfTag(tag: string): QueryResult {
  const words = tag.split(' ');
  const last = Number(words[words.length - 1]);
  return {
    command: words[0] ?? '',
    rowCount: Number.isInteger(last) ? last : null,
    oid: words[0] === 'INSERT' ? Number(words[1]) : 0,
    rows: [],
    fields: [],
  };
}
