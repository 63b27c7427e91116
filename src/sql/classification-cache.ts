import { SESSION_SETTINGS, SESSION_STATE, pinningOf } from './pinning.js';
import { LRUCache } from 'lru-cache';
import type { RowTemplate } from './insert-template.js';
import type { Classification } from './classification.js';
import { classifyQuery } from './classify.js';
import { createHash } from 'node:crypto';

/** A cached verdict plus what the router derives from the SQL text once. */
export interface ClassifierEntry {
  readonly classification: Classification;
  /** The prepared-statement name for this exact text, computed on first parameterised use. */
  statementName: string | undefined;
  /** Set when a replica refused this statement as a write (SQLSTATE 25006): it goes to the primary from now on. */
  misrouted: boolean;
  /** Coalescing template of a single-row INSERT (`null`: not one), computed on first use by a pipeline. */
  rowTemplate: RowTemplate | null | undefined;
  /** The text holds a NUL character, which no PostgreSQL statement can carry: it is refused before sending. */
  readonly containsNul: boolean;
  /** It may change the schema: DDL, or a utility command that can run some (`DO`, `CALL`). */
  readonly mayChangeSchema: boolean;
  /**
   * It leaves session state on its connection (a setting, `LISTEN`, a temporary table, a prepared statement or
   * cursor, a session advisory lock, an open transaction): run alone, its connection is closed after it, so the
   * state never reaches another caller.
   */
  readonly leavesSession: boolean;
}

function leavesSession(sql: string): boolean {
  const pinning = pinningOf(sql);
  return pinning.begins || (pinning.session & (SESSION_SETTINGS | SESSION_STATE)) !== 0;
}

// Longer texts are nearly always generated (inlined bulk VALUES) and never repeat; caching them would only
// evict useful entries and hold megabytes of SQL.
const MAX_CACHED_SQL_LENGTH = 16_384;

/**
 * Classification with an LRU cache keyed by the SQL text, so a repeated statement costs one map lookup.
 */
export class Classifier {
  private readonly cache: LRUCache<string, ClassifierEntry>;
  hits = 0;
  misses = 0;
  /**
   * How many statements that may change the schema ({@link ClassifierEntry.mayChangeSchema}) were classified: what
   * is cached from the catalog (forms of merged statements) is read again once this moved.
   */
  schemaChanges = 0;

  constructor(readonly max: number) {
    this.cache = new LRUCache<string, ClassifierEntry>({ max });
  }

  /** The entry for `sql`, from the cache or freshly classified (and then cached). */
  classify(sql: string): ClassifierEntry {
    const cached = this.cache.get(sql);
    if (cached !== undefined) {
      this.hits++;
      if (cached.mayChangeSchema) this.schemaChanges++;
      return cached;
    }
    this.misses++;
    const classification = classifyQuery(sql);
    const mayChangeSchema = classification.kind === 'ddl' || classification.kind === 'utility';
    if (mayChangeSchema) this.schemaChanges++;
    const entry: ClassifierEntry = {
      classification,
      mayChangeSchema,
      statementName: undefined,
      rowTemplate: undefined,
      misrouted: false,
      containsNul: sql.includes('\0'),
      leavesSession: leavesSession(sql),
    };
    if (sql.length <= MAX_CACHED_SQL_LENGTH) this.cache.set(sql, entry);
    return entry;
  }

  /** The cached entry for `sql`, without counting a hit or changing recency. */
  peek(sql: string): ClassifierEntry | undefined {
    return this.cache.peek(sql);
  }

  /** Number of cached SQL texts. */
  get size(): number {
    return this.cache.size;
  }
}

/**
 * The prepared-statement name of a SQL text: derived from the text alone, so every connection and process
 * uses the same name for the same statement, and (96 bits of SHA-256) different texts practically never share
 * one; the per-connection cache still refuses a name already bound to other SQL.
 */
export function statementNameFor(sql: string): string {
  return `pgr_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
}
