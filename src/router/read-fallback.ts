import type { QueryResult, QueryResultRow } from 'pg';
import type { ResolvedOptions } from '../config/index.js';
import { isCircuitOpenError } from '../errors.js';
import { isNodeFailure } from '../resilience/index.js';
import type { NodeChoice } from './node-choice.js';
import type { NodeSet, RoutedNode } from './node-set.js';
import { callOn, type StatementCall } from './statement-call.js';

const isUnavailable = (error: unknown): boolean => isNodeFailure(error) || isCircuitOpenError(error);

/**
 * What happens after a statement failed on a node: a read that a replica could not serve (connection failure, open
 * breaker) is tried once on another healthy replica, then on the primary (unless `readFallback` is
 * `'replicas-only'`); a write that a replica refused as read-only (SQLSTATE 25006, a misroute) runs on the primary
 * and its cached verdict is corrected. Writes are never retried otherwise: they may have committed. What still
 * fails because of a node goes to the caller's fallback, if any.
 */
export class ReadFallback {
  constructor(
    private readonly nodes: NodeSet,
    private readonly choice: NodeChoice,
    private readonly options: Pick<ResolvedOptions, 'readFallback' | 'fallback'>,
  ) {}

  /** `error` is the failure of `call` on `failed`; `autoRead` says the router (not the caller) sent it to a replica. */
  async recover<R extends QueryResultRow>(
    error: unknown,
    failed: RoutedNode,
    autoRead: boolean,
    call: StatementCall,
  ): Promise<QueryResult<R>> {
    const { primary } = this.nodes;
    let lastError = error;
    if (failed !== primary && (error as { code?: unknown })?.code === '25006' && autoRead) {
      call.entry.misrouted = true;
      this.choice.counts.selfHealed++;
      return callOn<R>(primary, call);
    }
    if (isUnavailable(error) && autoRead && failed !== primary) {
      const next = this.choice.nextForRead(failed);
      if (next !== undefined) {
        try {
          return await callOn<R>(next, call);
        } catch (retryError) {
          lastError = retryError;
          // Read again: a failover may have changed the primary meanwhile.
          const { primary: now } = this.nodes;
          if (next !== now && this.options.readFallback === 'primary' && isUnavailable(retryError)) {
            try {
              return await callOn<R>(now, call);
            } catch (primaryError) {
              lastError = primaryError;
            }
          }
        }
      }
    }
    const handler = call.options?.fallback ?? this.options.fallback;
    if (handler !== undefined && isUnavailable(lastError)) {
      this.choice.counts.callerFallbacks++;
      return (await handler(lastError as Error, call.sql)) as QueryResult<R>;
    }
    throw lastError;
  }
}
