import { LRUCache } from 'lru-cache';

/** One row of the catalog look-up. */
export interface FunctionCatalogRow {
  readonly nspname: string;
  readonly proname: string;
  /** `i` immutable, `s` stable, `v` volatile. */
  readonly provolatile: string;
}

/** Runs the catalog query on the primary. */
export type FunctionCatalogLookup = (names: readonly string[]) => Promise<readonly FunctionCatalogRow[]>;

/** Whether a function may run on a replica, and why not. */
type Verdict = { readonly safe: true } | { readonly safe: false; readonly reason: string };

/** The catalog query: every overload of the named functions, with its schema and volatility. */
export const FUNCTION_CATALOG_SQL =
  'SELECT n.nspname, p.proname, p.provolatile FROM pg_catalog.pg_proc p ' +
  'JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = ANY($1::text[])';

const SAFE: Verdict = Object.freeze({ safe: true });
// A function may be created or replaced at any time, so verdicts expire: a known one after a minute, an unknown
// one (probably about to be created by a migration) after a few seconds.
const KNOWN_TTL_MS = 60_000;
const MISSING_TTL_MS = 5_000;

function split(name: string): { schema: string | undefined; bare: string } {
  const unquote = (part: string): string =>
    part.startsWith('"') && part.endsWith('"') ? part.slice(1, -1).replaceAll('""', '"') : part;
  const dot = name.lastIndexOf('.');
  return dot < 0
    ? { schema: undefined, bare: unquote(name) }
    : { schema: unquote(name.slice(0, dot)), bare: unquote(name.slice(dot + 1)) };
}

/**
 * Decides, from `pg_proc`, whether calls of user-defined functions may go to a replica: a function that the
 * catalog marks VOLATILE may write, so its calls go to the primary. Any overload being volatile is enough (the
 * router cannot resolve overloads); a function the catalog does not know goes to the primary too. Verdicts are
 * cached and concurrent look-ups of the same names share one query.
 */
export class FunctionVolatility {
  private readonly verdicts = new LRUCache<string, Verdict>({ max: 5_000, ttl: KNOWN_TTL_MS, ttlAutopurge: false });
  private readonly pending = new Map<string, Promise<void>>();
  lookups = 0;

  constructor(private readonly lookup: FunctionCatalogLookup) {}

  /** The verdict already known for every one of `functions`, or `undefined` when a look-up is needed. */
  known(functions: readonly string[]): Verdict | undefined {
    for (const name of functions) {
      const verdict = this.verdicts.get(name);
      if (verdict === undefined) return undefined;
      if (!verdict.safe) return verdict;
    }
    return SAFE;
  }

  /** Whether every one of `functions` may run on a replica, asking the catalog for the ones not cached. */
  async check(functions: readonly string[]): Promise<Verdict> {
    const missing = functions.filter((name) => !this.verdicts.has(name));
    if (missing.length > 0) {
      const key = missing.join('\u0000');
      let inFlight = this.pending.get(key);
      if (inFlight === undefined) {
        inFlight = this.load(missing).finally(() => this.pending.delete(key));
        this.pending.set(key, inFlight);
      }
      await inFlight;
    }
    for (const name of functions) {
      const verdict = this.verdicts.get(name) ?? { safe: false, reason: `volatility of ${name}() unknown` };
      if (!verdict.safe) return verdict;
    }
    return SAFE;
  }

  private async load(names: readonly string[]): Promise<void> {
    this.lookups++;
    const parts = names.map(split);
    const rows = await this.lookup([...new Set(parts.map((part) => part.bare))]);
    names.forEach((name, i) => {
      const { schema, bare } = parts[i]!;
      const matching = rows.filter((row) => row.proname === bare && (schema === undefined || row.nspname === schema));
      const own = matching.filter((row) => row.nspname !== 'pg_catalog');
      if (matching.length === 0) {
        this.verdicts.set(
          name,
          { safe: false, reason: `function ${name}() not found in the catalog` },
          { ttl: MISSING_TTL_MS },
        );
      } else if (own.some((row) => row.provolatile === 'v')) {
        this.verdicts.set(name, { safe: false, reason: `calls ${name}(), which the catalog marks VOLATILE` });
      } else {
        this.verdicts.set(name, SAFE);
      }
    });
  }
}
