/** What `QueryPipeline.flush()` and `QueryPipeline.close()` resolve with. */
export interface FlushResult {
  /** Statements that settled during the flush, successfully or not. */
  readonly queriesExecuted: number;
  /** Round trips (batches) they took. */
  readonly batches: number;
  /** Statements among them that failed. */
  readonly failed: number;
  readonly durationMs: number;
  readonly queriesPerSecond: number;
}

/** Counters of a pipeline. */
export interface PipelineStats {
  /** Statements waiting to be put in a batch. */
  readonly queued: number;
  /** Statements accepted and not yet settled (queued, in a batch waiting for a slot, or in flight). */
  readonly held: number;
  /** Callers of `addQuery` waiting for room (`onFull: 'wait'`). */
  readonly waiting: number;
  readonly batchesInFlight: number;
  readonly batches: number;
  readonly statements: number;
  readonly failed: number;
  /** Statements that were merged: into multi-row INSERTs, or into UPDATEs and DELETEs over arrays. */
  readonly coalesced: number;
  /** Of those, statements merged into `unnest` INSERTs (one array parameter per column). */
  readonly coalescedAsArrays: number;
  /** Of those, statements merged into UPDATEs and DELETEs over `unnest` arrays (keyed by a unique index). */
  readonly coalescedKeyed: number;
  /** Of those, statements merged into `COPY … FROM STDIN` (see the pipelines guide, Coalescing). */
  readonly coalescedAsCopy: number;
  /** Independent batches committed as one transaction (see `groupCommit`), and groups re-run statement by statement after one failed. */
  readonly groupCommits: number;
  readonly groupRetries: number;
  /** Batches by size: how many had at most `le` statements (cumulative, as Prometheus histograms count). */
  readonly batchSizes: readonly { readonly le: number; readonly count: number }[];
  /** Batches by round-trip time: how many took at most `le` milliseconds (cumulative). */
  readonly batchDurationsMs: readonly { readonly le: number; readonly count: number }[];
}

/** Bounds of the batch-size histogram (statements per batch). */
export const SIZE_BUCKETS = [1, 10, 50, 100, 250, 500, 1000, Number.POSITIVE_INFINITY];
/** Bounds of the batch-duration histogram, in milliseconds. */
export const DURATION_BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 1000, Number.POSITIVE_INFINITY];

/** A fixed-bucket histogram: constant memory whatever the traffic. */
export class Histogram {
  private readonly counts: number[];

  constructor(private readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }

  cumulative(): { le: number; count: number }[] {
    let sum = 0;
    return this.bounds.map((le, i) => ({ le, count: (sum += this.counts[i]!) }));
  }
}
