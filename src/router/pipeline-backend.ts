import { RouterClosedError } from '../errors.js';
import type { RouterMetrics, RouterTracing } from '../metrics/index.js';
import {
  sendableValues,
  supportsCopyIn,
  type BatchOutcome,
  type BatchStatement,
  type NodePool,
} from '../pool/index.js';
import type { AttachedPipeline, PipelineBackend } from '../pipeline/index.js';
import { isNodeFailure } from '../resilience/index.js';
import { insertRowTemplate, keyedWriteTemplate, statementNameFor, type KeyedWriteTemplate } from '../sql/index.js';
import type { NodeChoice } from './node-choice.js';
import type { NodeSet } from './node-set.js';
import type { ReadYourWrites } from './read-your-writes.js';
import type { RouterWarnings } from './router-warnings.js';
import type { StatementRouting } from './statement-routing.js';
import { COPY_CATALOG_SQL, CopyInserts, type CopyCatalogRow } from './copy-insert.js';
import { COLUMN_CATALOG_SQL, UnnestInserts, type ColumnCatalogRow } from './unnest-insert.js';
import { KeyedWrites } from './keyed-write.js';

/** A batch that lost its connection: thrown so the breaker counts it, caught to hand the outcomes back. */
class BatchNodeFailure extends Error {
  constructor(readonly outcomes: BatchOutcome[]) {
    super('a pipelined batch failed at connection level');
  }
}

async function runBatchOn(pool: NodePool, statements: readonly BatchStatement[]): Promise<BatchOutcome[]> {
  const outcomes = await pool.runPipelined(statements);
  for (const outcome of outcomes) if (!outcome.ok && isNodeFailure(outcome.error)) throw new BatchNodeFailure(outcomes);
  return outcomes;
}

/** What the pipeline backend works with. */
export interface PipelineBackendParts {
  readonly nodes: NodeSet;
  readonly choice: NodeChoice;
  readonly statements: StatementRouting;
  readonly readYourWrites: ReadYourWrites;
  readonly warnings: RouterWarnings;
  readonly instruments: RouterMetrics;
  /** The router's open pipelines: flushed by `close()`, summed by `stats()`. */
  readonly pipelines: Set<AttachedPipeline>;
  readonly closed: () => boolean;
  readonly tracing: RouterTracing | undefined;
}

/**
 * The narrow interface a `QueryPipeline` uses: statements checked and described as the router would run them,
 * batches on the primary through its breaker, read-your-writes positions of the batch's session statements,
 * unnest INSERT and COPY forms, batch metrics, and registration for `close()` and `stats()`.
 */
export function createPipelineBackend(parts: PipelineBackendParts): PipelineBackend {
  const { nodes, choice, statements: routing, readYourWrites, pipelines } = parts;
  // The unnest form of a coalescable INSERT needs its columns' types: read from the catalog once per template.
  const unnestInserts = new UnnestInserts(
    async (table, columns) =>
      (await nodes.primary.pool.execute<ColumnCatalogRow>(COLUMN_CATALOG_SQL, [table, columns], undefined)).rows,
    (text) => (routing.statementCacheEnabled ? statementNameFor(text) : undefined),
  );
  // Whether COPY may stand for a template's INSERTs: the table's rules, row-level security and columns, read once.
  const copyInserts = new CopyInserts(
    async (table, columns) =>
      (await nodes.primary.pool.execute<CopyCatalogRow>(COPY_CATALOG_SQL, [table, columns], undefined)).rows,
  );
  const copyIn = supportsCopyIn();
  // Merged UPDATEs and DELETEs need the table's unique indexes and the columns' types: looked up once per template.
  const keyedWrites = new KeyedWrites(
    async <R>(text: string, values: readonly unknown[]) =>
      (await nodes.primary.pool.execute(text, values as unknown[], undefined)).rows as R[],
    (text) => (routing.statementCacheEnabled ? statementNameFor(text) : undefined),
  );
  // What the catalog said may be out of date once the router ran DDL (or a DO or CALL, which can run some): a rule or
  // an identity column added since would make COPY skip it or accept what the INSERT refuses. Such a statement through
  // this router forgets every form; one from elsewhere is seen when a form expires (a minute) or fails.
  let schemaChangesSeen = routing.classifier.schemaChanges;
  const currentForms = (): void => {
    if (routing.classifier.schemaChanges === schemaChangesSeen) return;
    schemaChangesSeen = routing.classifier.schemaChanges;
    unnestInserts.clear();
    copyInserts.clear();
    keyedWrites.clear();
  };
  /** Per classified text, its UPDATE/DELETE template (`null`: not one); the classifier's entry holds the INSERT one. */
  const keyedTemplates = new WeakMap<object, KeyedWriteTemplate | null>();
  return {
    prepare: (sql, params) => {
      if (parts.closed()) throw new RouterClosedError();
      if (nodes.primary.breaker.isOpen) throw nodes.primary.breaker.openError();
      const entry = routing.entry(sql, params);
      const text = sql as string;
      // Converted now, so a value pg cannot send fails this statement alone, before it joins a batch.
      const values = sendableValues((params ?? undefined) as readonly unknown[] | undefined);
      if (entry.rowTemplate === undefined) entry.rowTemplate = insertRowTemplate(text) ?? null;
      let keyedWrite = keyedTemplates.get(entry);
      if (keyedWrite === undefined) {
        keyedWrite = entry.rowTemplate === null ? (keyedWriteTemplate(text) ?? null) : null;
        keyedTemplates.set(entry, keyedWrite);
      }
      const statementName = values === undefined ? undefined : routing.statementName(entry, text, values.length);
      const { kind, statementCount, fingerprintHash } = entry.classification;
      const groupable = statementCount === 1 && (kind === 'read' || kind === 'write');
      const current = readYourWrites.current();
      const session = current?.consistency === 'read-your-writes' ? current : undefined;
      if (entry.leavesSession) parts.warnings.sessionStateSentAlone();
      return {
        text,
        values,
        statementName,
        fingerprintHash,
        rowTemplate: entry.rowTemplate ?? undefined,
        keyedWrite: keyedWrite ?? undefined,
        groupable,
        session,
        leavesSession: entry.leavesSession,
      };
    },
    written: (batch, outcomes) => readYourWrites.notePipelineWrites(batch, outcomes),
    unnestInsert: (template) => {
      currentForms();
      return unnestInserts.get(template);
    },
    forgetUnnestInsert: (template) => {
      unnestInserts.forget(template);
      copyInserts.forget(template);
    },
    copyInsert: (template) => {
      currentForms();
      return copyIn ? copyInserts.get(template) : Promise.resolve(undefined);
    },
    keyedWrite: (template) => {
      currentForms();
      return keyedWrites.get(template);
    },
    forgetKeyedWrite: (template) => keyedWrites.forget(template),
    run: async (batch) => {
      choice.counts.primary += batch.length;
      const span = parts.tracing?.batch(nodes.primary, batch.length);
      let outcomes: BatchOutcome[];
      try {
        outcomes = await nodes.primary.breaker.call(runBatchOn, nodes.primary.pool, batch);
      } catch (error) {
        outcomes =
          error instanceof BatchNodeFailure ? error.outcomes : batch.map(() => ({ ok: false, error: error as Error }));
      }
      span?.end(outcomes.find((outcome) => !outcome.ok)?.error);
      return outcomes;
    },
    batchDone: (size, durationMs) => parts.instruments.batch(size, durationMs),
    attach: (pipeline) => {
      pipelines.add(pipeline);
      return () => pipelines.delete(pipeline);
    },
  };
}
