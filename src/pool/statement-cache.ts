import { LRUCache } from 'lru-cache';
import type { PoolClient } from 'pg';
import { closePreparedStatement, forgetPrepared, isPrepared } from './pg-internals.js';
import type { StatementCacheSwitch } from './statement-cache-switch.js';

/** Counters shared by every connection of one node. */
export interface StatementCacheCounters {
  hits: number;
  misses: number;
  evictions: number;
}

/** How a statement will run on a connection. */
export type StatementUse =
  /** Already prepared on this connection: Bind/Execute only. */
  | 'hit'
  /** Will be prepared now under its name (and possibly evicts the least recently used one). */
  | 'miss'
  /** The name is taken by different SQL on this connection (a hash collision): run it unnamed. */
  | 'unnamed';

/**
 * The named prepared statements of ONE connection, bounded by an LRU.
 *
 * pg keeps every named statement a connection ever prepared, for the life of the connection, so a workload with
 * many distinct statements grows server memory without limit. Here the least recently used statement is closed
 * on the server when a new one needs room (the Close message travels in front of the new statement's Parse,
 * costing no extra round trip), and a name is only ever used for the SQL it was first prepared with.
 */
export class ConnectionStatementCache {
  private readonly lru: LRUCache<string, string>;
  /**
   * Names closed while statements were in flight (a pipelined batch). pg marks a name as prepared when its
   * ParseComplete arrives, which can be after the Close was already sent; {@link settle} undoes that.
   */
  private readonly closedInFlight = new Set<string>();

  constructor(
    private readonly client: PoolClient,
    max: number,
    private readonly counters: StatementCacheCounters,
    /** The node's switch: once off (a pooler that moves statements between server connections), every statement runs unnamed. */
    readonly nodeSwitch?: StatementCacheSwitch,
  ) {
    this.lru = new LRUCache<string, string>({
      max,
      dispose: (_text, name, reason) => {
        if (reason === 'evict') {
          this.counters.evictions++;
          closePreparedStatement(this.client, name);
          this.closedInFlight.add(name);
        }
      },
    });
  }

  /** Number of statements prepared on this connection. */
  get size(): number {
    return this.lru.size;
  }

  /**
   * Registers that `text` is about to run under `name` on this connection and says how to run it. Call it
   * only while holding the connection, right before sending the statement.
   */
  use(name: string, text: string): StatementUse {
    if (this.nodeSwitch?.disabled !== undefined) return 'unnamed';
    const known = this.lru.get(name);
    if (known !== undefined) {
      if (known !== text) return 'unnamed';
      if (isPrepared(this.client, name)) {
        this.counters.hits++;
        return 'hit';
      }
      // pg dropped it (a failed Parse); prepare again under the same name.
      this.counters.misses++;
      return 'miss';
    }
    this.counters.misses++;
    this.lru.set(name, text);
    return 'miss';
  }

  /**
   * Whether `text` is prepared under `name` on this connection right now, so {@link use} would answer `'hit'`.
   * Changes nothing (no counter, no recency), so a caller can check a whole batch before it commits to a path that
   * sends no Parse.
   */
  isReady(name: string, text: string): boolean {
    if (this.nodeSwitch?.disabled !== undefined) return false;
    return this.lru.peek(name) === text && isPrepared(this.client, name);
  }

  /**
   * Call once nothing is in flight on the connection: pg forgets again the names closed on the server whose
   * ParseComplete arrived after their Close was sent, so they are prepared afresh next time.
   */
  settle(): void {
    if (this.closedInFlight.size === 0) return;
    for (const name of this.closedInFlight) if (!this.lru.has(name)) forgetPrepared(this.client, name);
    this.closedInFlight.clear();
  }

  /** Closes `name` on the server and forgets it, e.g. after "cached plan must not change result type". */
  forget(name: string): void {
    if (this.lru.delete(name)) closePreparedStatement(this.client, name);
  }
}
