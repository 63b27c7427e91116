import { interleavedBuffers, runInterleaved, type InterleavedResult, type LatencyBuffer } from '../lib/closed-loop.js';
import {
  drizzleContender,
  kyselyContender,
  ormMixWorkload,
  type OrmContender,
  type OrmLibrary,
  type OrmTarget,
} from './contenders.js';
import { callers } from '../lib/format.js';
import type { OrmsBenchParams } from './params.js';
import { runRounds, type ProgressFn, type RoundResults } from '../lib/rounds.js';
import type { BenchSchema } from '../lib/schema.js';

export const RAW: OrmTarget = 'pg.Pool';
export const ROUTED: OrmTarget = 'router.asPool()';
export const UNNAMED: OrmTarget = 'router.asPool(), statement cache off';
export const REPLICAS: OrmTarget = 'router.asPool(), reads on replicas';

/** What one library measured: its contenders' rounds per concurrency, and the interleaved single-caller run. */
export interface LibraryResult {
  readonly library: OrmLibrary;
  readonly contenders: readonly { readonly name: string; readonly target: OrmTarget }[];
  readonly byConcurrency: readonly { readonly concurrency: number; readonly results: RoundResults }[];
  /** Raw and the routed contenders on the primary alone, one caller, query by query (raw first). */
  readonly interleaved: readonly { readonly target: OrmTarget; readonly result: InterleavedResult }[];
  /** Statements the routed contender with replicas sent to replicas and to the primary. */
  readonly replicaRouting: { readonly replica: number; readonly primary: number } | undefined;
}

/** Where the cluster is. */
export interface OrmsCluster {
  readonly primaryUrl: string;
  readonly replicaUrls: readonly string[];
}

/**
 * Runs the read-heavy mix through Drizzle and Kysely, each over raw `pg.Pool`, over `router.asPool()` on the
 * primary alone (the same server and pool size as raw), the same with the router's statement cache off (so every
 * statement is unnamed, as over raw pg: the difference left is the router's own cost) and — with replicas — over a
 * router that sends the reads to them; at each concurrency in rounds, then one caller interleaving the contenders
 * on the primary query by query for the added latency.
 */
export async function measureOrms(
  cluster: OrmsCluster,
  schema: BenchSchema,
  params: OrmsBenchParams,
  buffer: LatencyBuffer,
  progress?: ProgressFn,
): Promise<LibraryResult[]> {
  const steps = ormMixWorkload(schema);
  const results: LibraryResult[] = [];
  const makers = [drizzleContender, kyselyContender] as const;
  for (const make of makers) {
    const targets: OrmTarget[] =
      cluster.replicaUrls.length > 0 ? [RAW, ROUTED, UNNAMED, REPLICAS] : [RAW, ROUTED, UNNAMED];
    const contenders: OrmContender[] = targets.map((target) =>
      make(target, cluster.primaryUrl, cluster.replicaUrls, schema, params.pool),
    );
    const library = contenders[0]!.library;
    try {
      const byConcurrency: { concurrency: number; results: RoundResults }[] = [];
      for (const concurrency of params.concurrency) {
        const label = `${library}, read-heavy mix, ${callers(concurrency)}`;
        byConcurrency.push({
          concurrency,
          results: await runRounds(contenders, { label, steps, concurrency }, params.loop, buffer, progress),
        });
      }
      progress?.(`${library}: one caller, raw and routed interleaved`);
      globalThis.gc?.();
      const onPrimary = contenders.filter((c) => c.target !== REPLICAS);
      const buffers = interleavedBuffers(onPrimary.length, params.interleavedMs);
      const interleaved = await runInterleaved(
        onPrimary.map((c) => c.query),
        steps,
        params.interleavedMs,
        buffers,
      );
      const replicated = contenders.find((c) => c.target === REPLICAS)?.router?.stats().routing;
      results.push({
        library,
        contenders: contenders.map((c) => ({ name: c.name, target: c.target })),
        byConcurrency,
        interleaved: onPrimary.map((c, i) => ({ target: c.target, result: interleaved[i]! })),
        replicaRouting:
          replicated === undefined ? undefined : { replica: replicated.replica, primary: replicated.primary },
      });
    } finally {
      await Promise.allSettled(contenders.map((c) => c.close()));
    }
  }
  return results;
}
