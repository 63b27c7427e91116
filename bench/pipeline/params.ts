/** Every count and size of one `bench:pipeline` run. */
export interface PipelineBenchParams {
  /** `BENCH_QUICK=1`: a smoke run of a few seconds whose numbers mean little. */
  readonly quick: boolean;
  /** Statements (rows) per timed run of every contender, and rows pre-seeded for the UPDATE workload. */
  readonly statements: number;
  /** Rounds; each runs every contender once per workload, the order rotating by one per round. */
  readonly rounds: number;
  /** Untimed runs per contender and workload before the first round (connections, prepared statements, JIT). */
  readonly warmupRuns: number;
  /** Connections of the pg pools and of the router, and concurrent callers of the "pg.Pool, N callers" contender. */
  readonly poolMax: number;
  /** `batchSize` of every `QueryPipeline` contender. */
  readonly pipelineBatchSize: number;
  /**
   * `batchSize` of the `QueryPipeline … + coalesce` contenders. A merged batch is one INSERT, so its fixed costs
   * (a round trip, a Bind message, a commit) are shared by every row of the batch, and larger batches pay off longer.
   */
  readonly coalesceBatchSize: number;
  /**
   * `batchSize` of the `QueryPipeline … + coalesce (COPY)` contenders. A COPY's fixed costs are smaller than an
   * INSERT's, but PostgreSQL's CPU per row still fell with larger COPYs: 4.7–4.8 µs at 1,000 rows, 3.8–4.1 at
   * 2,500, 3.7–4.0 at 5,000 (postgres.js's single 10,000-row COPY: 3.5), on a loaded 2-vCPU machine.
   */
  readonly copyBatchSize: number;
  /** `concurrency` of every `QueryPipeline` contender: batches in flight, each on its own connection. */
  readonly pipelineConcurrency: number;
  /** Rows per statement of the hand-written multi-row INSERT. */
  readonly multiRowBatch: number;
  /** Rows per chunk written to the COPY stream. */
  readonly copyChunkRows: number;
}

/**
 * The full run: 10,000 statements per run, five rounds. Batch size 200: in a sweep of 100, 200, 300 and 500 (5
 * interleaved rounds, concurrency 2, 2 vCPUs) 100 was clearly slower (twice the round trips and batch set-ups),
 * and 200–500 were within the rounds' noise of each other on both workloads and both modes; 200 keeps each
 * batch's transaction (atomic mode) and each caller's wait for its result short. With coalescing, a sweep of 200,
 * 500, 1,000 and 2,000 (5 interleaved rounds, independent mode) gave 15×, 18–19×, 20–22× and 21× sequential pg:
 * 1,000 is where the merged INSERT's fixed costs stop mattering.
 */
export const FULL_PIPELINE_PARAMS: PipelineBenchParams = Object.freeze<PipelineBenchParams>({
  quick: false,
  statements: 10_000,
  rounds: 5,
  warmupRuns: 1,
  poolMax: 16,
  pipelineBatchSize: 200,
  coalesceBatchSize: 1_000,
  copyBatchSize: 2_500,
  pipelineConcurrency: 2,
  multiRowBatch: 1_000,
  copyChunkRows: 1_000,
});

/** `BENCH_QUICK=1`: counts shrunk, for checking that the benchmark still runs. */
export const QUICK_PIPELINE_PARAMS: PipelineBenchParams = Object.freeze<PipelineBenchParams>({
  ...FULL_PIPELINE_PARAMS,
  quick: true,
  statements: 600,
  rounds: 2,
  multiRowBatch: 250,
  copyChunkRows: 250,
});
