import type { RowTemplate } from '../sql/insert-template.js';
import type { KeyedWriteTemplate } from '../sql/keyed-write-template.js';
export type { RowTemplate, KeyedWriteTemplate };
import type { BatchOutcome, BatchStatement } from '../pool/index.js';

/** The key under which a router offers its {@link PipelineBackend}; a symbol, so it is no part of the router's API. */
export const PIPELINE_BACKEND: unique symbol = Symbol.for('pg-query-router.pipeline-backend');

/** A statement accepted into a pipeline: validated, with its prepared-statement name and shape. */
export interface PipelineStatement extends BatchStatement {
  /** Hash of the statement's shape; consecutive statements with equal hashes may be coalesced. */
  readonly fingerprintHash: string;
  /** Present when the statement is a single-row INSERT that coalescing may merge with its twins. */
  readonly rowTemplate: RowTemplate | undefined;
  /** Present when the statement is a single-row UPDATE or DELETE by equality on parameters that coalescing may merge. */
  readonly keyedWrite?: KeyedWriteTemplate | undefined;
  /** A single plain read or write (no DDL, transaction control, SET or utility): it may share a group commit. */
  readonly groupable: boolean;
  /** What the backend wants to hear of once the statement ran (its caller's read-your-writes session); opaque here. */
  readonly session: unknown;
}

/**
 * What a pipeline needs from the router, and nothing more: the pipeline knows nothing of routing.
 */
export interface PipelineBackend {
  /** Validates one statement (throwing the router's typed errors) and describes it for batching. */
  prepare(sql: unknown, params: unknown): PipelineStatement;
  /** Runs statements pipelined on one primary connection; never rejects. */
  run(statements: readonly BatchStatement[]): Promise<BatchOutcome[]>;
  /**
   * The {@link UnnestInsert} form of a template whose row is all parameters, or `undefined` when its columns'
   * types do not allow it (arrays, domains, composites) or cannot be looked up; answers from a cache after the
   * first look-up. Never rejects.
   */
  unnestInsert(template: RowTemplate): Promise<UnnestInsert | undefined>;
  /** Forgets the cached forms (unnest and COPY) of a template whose merged statement failed in a way a schema change would explain. */
  forgetUnnestInsert(template: RowTemplate): void;
  /**
   * The {@link KeyedWriteForm} of an UPDATE or DELETE template, or `undefined` when it may not be merged (its WHERE
   * columns are not exactly a unique index's, a type or the table's rules, foreign keys or indexes forbid it, or the
   * catalog cannot be read); answers from a cache after the first look-up. Never rejects. Without it, UPDATEs and
   * DELETEs are never merged.
   */
  keyedWrite?(template: KeyedWriteTemplate): Promise<KeyedWriteForm | undefined>;
  /** Forgets the cached form of a template whose merged statement failed in a way a schema change would explain. */
  forgetKeyedWrite?(template: KeyedWriteTemplate): void;
  /**
   * The {@link CopyInsert} form of a template whose row is all parameters, when `COPY … FROM STDIN` into its table
   * is exactly equivalent to the INSERTs; otherwise `undefined`. Cached like {@link unnestInsert}. Never rejects.
   */
  copyInsert?(template: RowTemplate): Promise<CopyInsert | undefined>;
  /**
   * Told, before their promises settle, of the statements of a batch that carry a `session`, with their outcomes
   * (so read-your-writes sessions learn where their writes landed). Never rejects.
   */
  written(statements: readonly PipelineStatement[], outcomes: readonly BatchOutcome[]): Promise<void>;
  /** Told of every batch once its statements settled: how many, and how long it took in milliseconds (for metrics). */
  batchDone?(size: number, durationMs: number): void;
  /** Registers a pipeline so closing the router flushes it and `stats()` reports it; returns the function that unregisters it. */
  attach(pipeline: AttachedPipeline): () => void;
}

/** What the router needs of a pipeline it made. */
export interface AttachedPipeline {
  close(): Promise<unknown>;
  stats(): {
    readonly queued: number;
    readonly held: number;
    readonly batches: number;
    readonly statements: number;
    readonly failed: number;
    readonly coalesced: number;
  };
}

/** Anything that offers a {@link PipelineBackend}: a `QueryRouter`. */
export interface PipelineHost {
  [PIPELINE_BACKEND](): PipelineBackend;
}

/**
 * The single-statement form of many rows of one {@link RowTemplate}:
 * `INSERT INTO t (c1, …) SELECT u.c1, … FROM unnest($1::type1[], …) AS u(c1, …)`, one array parameter per
 * column. Its text does not depend on the number of rows, so it is prepared once, and PostgreSQL parses one array
 * per column instead of one parameter per value.
 */
export interface UnnestInsert {
  readonly text: string;
  readonly statementName: string | undefined;
}

/**
 * The single-statement form of a run of one {@link KeyedWriteTemplate}: `UPDATE t SET c = u.c … FROM (… unnest(…)
 * WITH ORDINALITY …) u WHERE t.k = u.k … RETURNING u.ord` (or `DELETE … USING`), one array parameter per
 * statement parameter, returning the ordinal (1-based) of the statement that matched each changed row.
 */
export interface KeyedWriteForm {
  readonly text: string;
  readonly statementName: string | undefined;
  /** The statement's parameter numbers (1-based), in the order of the form's array parameters. */
  readonly params: readonly number[];
  /** The positions (0-based, as in {@link params}) of the key parameters, which must be distinct within a run. */
  readonly keyPositions: readonly number[];
  /** For each array, whether its type is `bytea`: only such a value may be a Buffer (pg sends a Buffer in binary). */
  readonly bytea: readonly boolean[];
}

/**
 * The `COPY t (c1, …) FROM STDIN` form of many rows of one {@link RowTemplate}, in COPY's text format, for a table
 * where COPY does exactly what the INSERTs would: a plain or partitioned table without rules (COPY ignores them),
 * without row-level security (COPY refuses it), and no target column generated or `GENERATED ALWAYS AS IDENTITY`
 * (COPY would store what the INSERT refuses).
 */
export interface CopyInsert {
  /** `COPY t ("c1", …) FROM STDIN`, the columns in the template's order. */
  readonly text: string;
  /**
   * Per column, whether its type is `bytea`: a Buffer is sent by pg as a binary parameter, read by the type's binary
   * input, which only for `bytea` equals reading its hex text; a Buffer for any other column rules the run out.
   */
  readonly bytea: readonly boolean[];
}
