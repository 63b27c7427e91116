import PQueue from 'p-queue';
import type { QueryResult, QueryResultRow } from 'pg';
import {
  BatchAbortedError,
  PipelineClosedError,
  PipelineFullError,
  isCircuitOpenError,
  isOutcomeUnknown,
} from '../errors.js';
import { isNodeFailure } from '../resilience/index.js';
import { isConnectionLevelError, type BatchOutcome, type BatchStatement } from '../pool/index.js';
import { coalesceBatch, type CoalescedBatch } from './coalesce.js';
import { runInOrder } from './keyed-batch.js';
import { formsOf, mergedForms, planAhead, sameForms, type PlannedBatch } from './merged-forms.js';
import {
  PIPELINE_BACKEND,
  type PipelineBackend,
  type PipelineHost,
  type PipelineStatement,
} from './pipeline-backend.js';
import {
  resolvePipelineOptions,
  type PipelineFallback,
  type PipelineOptions,
  type ResolvedPipelineOptions,
} from './pipeline-options.js';
import {
  DURATION_BUCKETS_MS,
  Histogram,
  SIZE_BUCKETS,
  type FlushResult,
  type PipelineStats,
} from './pipeline-stats.js';

/** Batches sent without group commit after a group failed. */
const UNGROUPED_AFTER_FAILURE = 8;

interface Entry {
  readonly statement: PipelineStatement;
  readonly resolve: (result: QueryResult) => void;
  readonly reject: (error: Error) => void;
}

/** The pipeline's fallback's answer for a statement refused at once (the primary's breaker is open). */
async function viaFallback<R extends QueryResultRow>(
  fallback: PipelineFallback,
  error: Error,
  sql: string,
  params: readonly unknown[] | undefined,
): Promise<QueryResult<R>> {
  return (await fallback(error, sql, params)) as QueryResult<R>;
}

interface BatchSummary {
  readonly statements: number;
  readonly failed: number;
}

/** Whether a statement failed because of the primary rather than its own content. */
function dueToNode(error: Error): boolean {
  if (isNodeFailure(error) || isCircuitOpenError(error)) return true;
  // A statement rolled back with its batch because the connection failed under another statement.
  const cause = (error as { cause?: unknown }).cause;
  return (
    error instanceof BatchAbortedError && cause !== undefined && (isNodeFailure(cause) || isCircuitOpenError(cause))
  );
}

const BEGIN: BatchStatement = Object.freeze({ text: 'BEGIN', values: undefined, statementName: undefined });
const COMMIT: BatchStatement = Object.freeze({ text: 'COMMIT', values: undefined, statementName: undefined });

/**
 * Batched writes in one round trip per batch. `addQuery` queues a statement and returns a promise of its own
 * result; full batches (and, after `flushIntervalMs`, partial ones) go to the primary pipelined on one
 * connection. Every promise settles: with its result, its own error, or — in an atomic batch that another
 * statement aborted — a `BatchAbortedError`.
 *
 * @example
 * const pipeline = router.pipeline({ batchSize: 200 });
 * const saved = events.map((e) => pipeline.addQuery('INSERT INTO events (kind, payload) VALUES ($1, $2)', [e.kind, e.payload]));
 * const { queriesExecuted, batches } = await pipeline.flush();
 * const outcomes = await Promise.allSettled(saved); // handle each promise: a failed statement rejects its own
 */
export class QueryPipeline {
  /** The options in force, after defaults. */
  readonly options: ResolvedPipelineOptions;
  private readonly backend: PipelineBackend;
  private readonly batchQueue: PQueue;
  private readonly detach: () => void;
  private queue: Entry[] = [];
  private held = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<BatchSummary>>();
  private readonly waiters: (() => void)[] = [];
  /** Callers of {@link ready} waiting for room. */
  private readonly roomWaiters: (() => void)[] = [];
  private closed = false;
  private closing: Promise<FlushResult> | undefined;
  private batches = 0;
  private statements = 0;
  private failed = 0;
  private coalesced = 0;
  private groupCommits = 0;
  private groupRetries = 0;
  /** Batches still to send without group commit, after a group failed. */
  private ungroupedBatches = 0;
  private coalescedAsArrays = 0;
  private coalescedKeyed = 0;
  private coalescedAsCopy = 0;
  private readonly sizeHistogram = new Histogram(SIZE_BUCKETS);
  private readonly durationHistogram = new Histogram(DURATION_BUCKETS_MS);

  /** Prefer `router.pipeline(options)`. Throws `ConfigError` for a bad option. */
  constructor(router: PipelineHost, options?: PipelineOptions) {
    this.options = resolvePipelineOptions(options);
    this.backend = router[PIPELINE_BACKEND]();
    this.batchQueue = new PQueue({ concurrency: this.options.concurrency });
    this.detach = this.backend.attach(this);
  }

  /**
   * Queues one statement; resolves with its own `QueryResult` once its batch ran. Rejects with the statement's
   * own error (a bad input is rejected at once, and only this statement), `PipelineFullError` (queue full and
   * `onFull: 'reject'`) or `PipelineClosedError`.
   */
  addQuery<R extends QueryResultRow = QueryResultRow>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<R>> {
    // Not an async function: on the common path (room in the queue) a statement costs one promise, not three.
    if (this.closed) return Promise.reject(new PipelineClosedError());
    let statement: PipelineStatement;
    try {
      statement = this.backend.prepare(sql, params);
    } catch (error) {
      const fallback = this.options.fallback;
      if (fallback !== undefined && isCircuitOpenError(error)) return viaFallback<R>(fallback, error, sql, params);
      return Promise.reject(error as Error);
    }
    if (this.held >= this.options.maxQueueSize) return this.enqueueWhenRoom<R>(statement);
    return this.enqueue<R>(statement);
  }

  /**
   * Resolves once the pipeline has room for another statement (at once if it has): a producer that awaits it
   * before each `addQuery` never holds more than `maxQueueSize` statements in memory, whereas `onFull: 'wait'`
   * bounds the queue but parks every statement added beyond it, parameters and all. Rejects with
   * `PipelineClosedError` after `close()`.
   *
   * @example
   * for await (const event of source) {
   *   await pipeline.ready();
   *   pipeline.addQuery('INSERT INTO events (kind) VALUES ($1)', [event.kind]).catch(report);
   * }
   */
  ready(): Promise<void> {
    if (this.closed) return Promise.reject(new PipelineClosedError());
    if (this.held < this.options.maxQueueSize) return Promise.resolve();
    return new Promise<void>((resolve) => this.roomWaiters.push(resolve));
  }

  private async enqueueWhenRoom<R extends QueryResultRow>(statement: PipelineStatement): Promise<QueryResult<R>> {
    while (this.held >= this.options.maxQueueSize) {
      if (this.options.onFull === 'reject') throw new PipelineFullError(this.options.maxQueueSize);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.enqueue<R>(statement);
  }

  private enqueue<R extends QueryResultRow>(statement: PipelineStatement): Promise<QueryResult<R>> {
    this.held++;
    return new Promise<QueryResult<R>>((resolve, reject) => {
      this.queue.push({ statement, resolve: resolve as (result: QueryResult) => void, reject });
      if (this.queue.length >= this.options.batchSize) this.dispatch();
      else this.timer ??= setTimeout(() => this.dispatch(), this.options.flushIntervalMs);
    });
  }

  /**
   * Sends everything queued now and resolves once all of it (and every batch already in flight) has settled.
   * Never rejects: failures are counted in `failed` and reported through each statement's promise.
   */
  async flush(): Promise<FlushResult> {
    const started = performance.now();
    while (this.queue.length > 0) this.dispatch();
    const outcomes = await Promise.all([...this.inFlight]);
    const durationMs = performance.now() - started;
    const queriesExecuted = outcomes.reduce((sum, outcome) => sum + outcome.statements, 0);
    return {
      queriesExecuted,
      batches: outcomes.length,
      failed: outcomes.reduce((sum, outcome) => sum + outcome.failed, 0),
      durationMs,
      queriesPerSecond: durationMs > 0 ? (queriesExecuted / durationMs) * 1000 : 0,
    };
  }

  /** For `await using pipeline = router.pipeline()`: {@link close} when the block ends, however it ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Flushes everything accepted so far (including callers waiting for room), then refuses new statements with
   * `PipelineClosedError`. Idempotent.
   */
  close(): Promise<FlushResult> {
    this.closing ??= (async () => {
      this.closed = true;
      const started = performance.now();
      let queriesExecuted = 0;
      let batches = 0;
      let failed = 0;
      // Callers waiting for room were accepted before close(): keep flushing until nothing is held.
      do {
        const result = await this.flush();
        queriesExecuted += result.queriesExecuted;
        batches += result.batches;
        failed += result.failed;
        if (this.held > 0 && this.queue.length === 0 && this.inFlight.size === 0)
          await new Promise((resolve) => setImmediate(resolve));
      } while (this.held > 0 || this.waiters.length > 0);
      this.detach();
      const durationMs = performance.now() - started;
      return {
        queriesExecuted,
        batches,
        failed,
        durationMs,
        queriesPerSecond: durationMs > 0 ? (queriesExecuted / durationMs) * 1000 : 0,
      };
    })();
    return this.closing;
  }

  /** A snapshot of the pipeline's counters. */
  stats(): PipelineStats {
    return {
      queued: this.queue.length,
      held: this.held,
      waiting: this.waiters.length,
      batchesInFlight: this.inFlight.size,
      batches: this.batches,
      statements: this.statements,
      failed: this.failed,
      coalesced: this.coalesced,
      coalescedAsArrays: this.coalescedAsArrays,
      coalescedKeyed: this.coalescedKeyed,
      coalescedAsCopy: this.coalescedAsCopy,
      groupCommits: this.groupCommits,
      groupRetries: this.groupRetries,
      batchSizes: this.sizeHistogram.cumulative(),
      batchDurationsMs: this.durationHistogram.cumulative(),
    };
  }

  /** Takes up to `batchSize` queued statements and schedules them as one batch. */
  private dispatch(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.queue.length === 0) return;
    const entries =
      this.queue.length <= this.options.batchSize ? this.queue : this.queue.slice(0, this.options.batchSize);
    this.queue = entries === this.queue ? [] : this.queue.slice(this.options.batchSize);
    if (this.queue.length > 0) this.timer = setTimeout(() => this.dispatch(), this.options.flushIntervalMs);
    const statements = entries.map((entry) => entry.statement);
    // A batch behind another is merged once that one is written: a batch that waits for a connection then finds its
    // COPY data (or merged statements) built, and the connection it gets is not left idle while they are.
    const ahead =
      this.options.coalesce && this.batchQueue.pending > 0 ? planAhead(this.backend, statements) : undefined;
    const batch = this.batchQueue
      .add(() => this.runBatch(entries, statements, ahead))
      .then(
        (summary) => summary,
        // runBatch settles every entry itself and never throws; this only guards against a bug there.
        (error: unknown) => {
          for (const entry of entries) entry.reject(error instanceof Error ? error : new Error(String(error)));
          return { statements: entries.length, failed: entries.length };
        },
      );
    this.inFlight.add(batch);
    void batch.then(() => {
      this.inFlight.delete(batch);
      this.held -= entries.length;
      this.wakeWaiters();
    });
  }

  private wakeWaiters(): void {
    let room = this.options.maxQueueSize - this.held;
    while (room-- > 0 && this.waiters.length > 0) this.waiters.shift()!();
    if (this.held < this.options.maxQueueSize) for (const resolve of this.roomWaiters.splice(0)) resolve();
  }

  private async runBatch(
    entries: readonly Entry[],
    statements: readonly PipelineStatement[],
    ahead: Promise<PlannedBatch | undefined> | undefined,
  ): Promise<BatchSummary> {
    this.batches++;
    this.sizeHistogram.observe(entries.length);
    const started = performance.now();
    const atomic = this.options.mode === 'atomic';
    const planned = ahead === undefined ? undefined : await ahead;
    // Looked up afresh at the batch's turn (cached by the backend); a plan made ahead already knows its templates.
    const forms = !this.options.coalesce
      ? undefined
      : planned === undefined
        ? await mergedForms(this.backend, statements)
        : await formsOf(this.backend, planned.templates);
    const plan =
      forms === undefined
        ? undefined
        : planned !== undefined && sameForms(planned.forms, forms)
          ? planned.plan
          : coalesceBatch(statements, forms.unnest, forms.copy, forms.keyed);
    const sent: readonly BatchStatement[] = plan?.statements ?? statements;
    // Merged statements in independent mode: a failed one is re-run, row by row, before what follows it runs (an
    // UPDATE after an INSERT must find the row, whether that INSERT was merged or not).
    const inOrder = plan !== undefined && !atomic && plan.merged + plan.mergedKeyed > 0;
    let outcomes = atomic ? await this.send(sent, true) : inOrder ? [] : await this.sendIndependent(sent, statements);
    let perEntry: BatchOutcome[];
    if (plan === undefined) {
      perEntry = outcomes;
    } else if (inOrder) {
      this.countMerged(plan);
      perEntry = await this.sendInOrder(plan, statements);
    } else {
      this.countMerged(plan);
      perEntry = plan.expand(outcomes);
      // Only a merged statement that failed on its own content is re-run row by row: one whose outcome is unknown
      // (its connection was lost after it was sent) may have committed, and one refused by its node would fail again.
      const failedGroups = plan.failedGroups(outcomes, (error) => !isOutcomeUnknown(error) && !dueToNode(error));
      for (const template of plan.failedUnnestTemplates(outcomes)) this.backend.forgetUnnestInsert(template);
      for (const template of plan.failedKeyedTemplates(outcomes)) this.backend.forgetKeyedWrite?.(template);
      if (failedGroups.length > 0) {
        // (Atomic mode: independent batches with merged statements went in order, above.) A merged statement failed
        // as a whole and the batch was rolled back: run it again unmerged, so each statement gets its own outcome.
        this.batches++;
        outcomes = await this.send(statements, true);
        perEntry = outcomes;
      }
    }
    if (statements.some((statement) => statement.session !== undefined)) {
      const tracked = (_: unknown, i: number): boolean => statements[i]!.session !== undefined;
      await this.backend.written(statements.filter(tracked), perEntry.filter(tracked));
    }
    let failed = 0;
    const fallback = this.options.fallback;
    entries.forEach((entry, i) => {
      const outcome = perEntry[i]!;
      if (outcome.ok) entry.resolve(outcome.result);
      else {
        failed++;
        const error = outcome.error;
        if (fallback !== undefined && dueToNode(error)) {
          Promise.resolve()
            .then(() => fallback(error, entry.statement.text, entry.statement.values))
            .then(entry.resolve, entry.reject);
        } else entry.reject(error);
      }
    });
    this.statements += entries.length;
    this.failed += failed;
    const elapsed = performance.now() - started;
    this.durationHistogram.observe(elapsed);
    this.backend.batchDone?.(entries.length, elapsed);
    return { statements: entries.length, failed };
  }

  /**
   * Independent mode. A batch of plain statements is first tried as one transaction (group commit: one commit
   * instead of one per statement). If every statement succeeds, that is the outcome. If one fails, PostgreSQL
   * rolled the whole batch back, so nothing was kept and it is re-run with a Sync per statement, which gives each
   * its own outcome. If the connection was lost, whether the COMMIT landed is unknown: every statement gets the
   * connection error and nothing is re-run. After a failed group the next batches skip grouping for a while, so
   * a workload with frequent errors does not pay for two round trips per batch.
   */
  private async sendIndependent(
    sent: readonly BatchStatement[],
    statements: readonly PipelineStatement[],
  ): Promise<BatchOutcome[]> {
    if (!this.mayGroup(statements)) {
      if (this.ungroupedBatches > 0) this.ungroupedBatches--;
      return this.backend.run(sent);
    }
    const { outcomes, rolledBack } = await this.group(sent);
    return rolledBack ? this.backend.run(sent) : outcomes;
  }

  /**
   * Whether a batch goes as one group commit: two or more of the caller's statements, even when coalescing merged
   * them into one (a lone merged COPY then leaves as one lean BEGIN … COMMIT, as in atomic mode, not through pg's
   * pipeline mode, and a failure is re-run statement by statement just the same).
   */
  private mayGroup(statements: readonly PipelineStatement[]): boolean {
    return (
      this.options.groupCommit &&
      statements.length >= 2 &&
      this.ungroupedBatches === 0 &&
      statements.every((statement) => statement.groupable)
    );
  }

  /**
   * One group commit. `rolledBack` when a statement failed on its own content (nothing was kept, and the next
   * batches go ungrouped for a while); otherwise the outcomes stand.
   */
  private async group(sent: readonly BatchStatement[]): Promise<{ outcomes: BatchOutcome[]; rolledBack: boolean }> {
    const grouped = await this.send(sent, true);
    if (grouped.every((outcome) => outcome.ok)) {
      this.groupCommits++;
      return { outcomes: grouped, rolledBack: false };
    }
    // The error that sank the group: the failing statement's own (or BEGIN's), which every other statement's
    // BatchAbortedError carries as its cause (as does a failed COMMIT's).
    const first = (grouped.find((outcome) => !outcome.ok) as { error: Error }).error;
    const sank = first instanceof BatchAbortedError ? (first.cause as Error | undefined) : first;
    if (sank !== undefined && (isConnectionLevelError(sank) || dueToNode(sank))) {
      // The node failed (or the connection was lost, maybe after COMMIT): nothing is re-run.
      return { outcomes: grouped.map(() => ({ ok: false, error: sank })), rolledBack: false };
    }
    this.groupRetries++;
    this.batches++;
    this.ungroupedBatches = UNGROUPED_AFTER_FAILURE;
    return { outcomes: grouped, rolledBack: true };
  }

  private countMerged(plan: CoalescedBatch): void {
    this.coalesced += plan.merged + plan.mergedKeyed;
    this.coalescedAsArrays += plan.mergedAsArrays;
    this.coalescedAsCopy += plan.mergedAsCopy;
    this.coalescedKeyed += plan.mergedKeyed;
  }

  /**
   * Independent mode for a batch with merged UPDATEs or DELETEs, which must see the effects of the statements
   * before them and be seen by those after them. A group commit that fails was rolled back, so the statements are
   * run again one by one, unmerged; without one, see {@link runInOrder}. Resolves with each statement's outcome.
   */
  private async sendInOrder(plan: CoalescedBatch, statements: readonly PipelineStatement[]): Promise<BatchOutcome[]> {
    const forget = (outcomes: readonly BatchOutcome[]): void => {
      for (const template of plan.failedUnnestTemplates(outcomes)) this.backend.forgetUnnestInsert(template);
      for (const template of plan.failedKeyedTemplates(outcomes)) this.backend.forgetKeyedWrite?.(template);
    };
    const sent = plan.statements;
    if (this.mayGroup(statements)) {
      const { outcomes, rolledBack } = await this.group(sent);
      forget(outcomes);
      if (!rolledBack) return plan.expand(outcomes);
      // Nothing was kept: every statement again, unmerged and in order, so each gets its own outcome (group() counted
      // that batch).
      return this.backend.run(statements);
    }
    if (this.ungroupedBatches > 0) this.ungroupedBatches--;
    const lost = (error: Error): boolean => isOutcomeUnknown(error) || dueToNode(error);
    const ordered = await runInOrder(plan, statements, (batch) => this.backend.run(batch), lost);
    this.batches += ordered.reruns;
    forget(ordered.outcomes);
    return ordered.perEntry;
  }

  /**
   * Sends statements in one round trip. In atomic mode they are wrapped in BEGIN … COMMIT: once a statement fails,
   * PostgreSQL aborts the transaction, COMMIT turns into ROLLBACK, and every other statement of the batch is
   * reported as a {@link BatchAbortedError} naming the failing index.
   */
  private async send(statements: readonly BatchStatement[], atomic: boolean): Promise<BatchOutcome[]> {
    if (!atomic) return this.backend.run(statements);
    const outcomes = await this.backend.run([BEGIN, ...statements, COMMIT]);
    const begin = outcomes[0]!;
    const commit = outcomes[outcomes.length - 1]!;
    const body = outcomes.slice(1, -1);
    if (!begin.ok) return body.map(() => begin);
    const failedIndex = body.findIndex((outcome) => !outcome.ok);
    const failure = failedIndex >= 0 ? (body[failedIndex] as { error: Error }).error : undefined;
    if (failure !== undefined && isOutcomeUnknown(failure)) {
      // The whole batch, COMMIT included, had been sent when the connection failed: it may all have committed.
      return body.map(() => ({ ok: false, error: failure }));
    }
    if (failedIndex >= 0) {
      const cause = (body[failedIndex] as { error: Error }).error;
      return body.map((outcome, i) =>
        i === failedIndex ? outcome : { ok: false, error: new BatchAbortedError(failedIndex, { cause }) },
      );
    }
    if (!commit.ok) {
      // A lost connection leaves the outcome unknown (the COMMIT may have been applied): report the connection
      // error itself, and never retry. A deferred constraint failing at COMMIT rolled everything back.
      if (isConnectionLevelError(commit.error)) return body.map(() => commit);
      return body.map(() => ({ ok: false, error: new BatchAbortedError(statements.length, { cause: commit.error }) }));
    }
    if (commit.result.command !== 'COMMIT') {
      return body.map(() => ({ ok: false, error: new BatchAbortedError(statements.length) }));
    }
    return body;
  }
}
