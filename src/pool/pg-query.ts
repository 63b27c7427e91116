import { createRequire } from 'node:module';
import type { CustomTypesConfig, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';

/**
 * Statements handed to pg as its own `Query` objects, built without pg's per-call copy of the query config.
 *
 * `client.query(config)` builds a `Query` whose constructor copies the config through
 * `Object.getOwnPropertyDescriptors` (`lib/utils.js` `cloneQueryConfig`, ~2 µs for a three-field config), then wraps
 * its callback in a promise and that promise in a `.catch` that rewrites the error's stack: a microtask hop more per
 * statement. A `Query` handed to `client.query` (a Submittable) skips both. This file builds one with pg's own
 * constructor from an empty config, then sets the fields that constructor would have copied from a full one (pg 8.x
 * `lib/query.js`), and checks once, at load, that the result matches what pg builds from the same config, field for
 * field; if it does not (another pg), every statement goes through `client.query(config)` as before. With
 * `pg-internals.ts` and `pg-pool-internals.ts`, one of the files that know pg's private members.
 */

type StatementCallback = (error: Error | null, result?: QueryResult) => void;

interface PgClasses {
  readonly Query: (new (config: object) => object) & { readonly prototype: object };
  readonly Result: new (rowMode: string | undefined, types: CustomTypesConfig | undefined) => object;
}

interface QueryFields {
  text: string;
  values: unknown[] | undefined;
  rows: undefined;
  types: CustomTypesConfig | undefined;
  name: string | undefined;
  queryMode: undefined;
  binary: undefined;
  portal: string;
  callback: StatementCallback;
  _rowMode: string | undefined;
  _result: object;
  _results: object;
  _canceledDueToError: boolean;
}

function loadClasses(): PgClasses | undefined {
  try {
    const pg = createRequire(import.meta.url)('pg') as { Query?: unknown; Result?: unknown };
    if (typeof pg.Query !== 'function' || typeof pg.Result !== 'function') return undefined;
    return { Query: pg.Query as PgClasses['Query'], Result: pg.Result as PgClasses['Result'] };
  } catch {
    return undefined;
  }
}

// pg's constructor copies this (no properties) and leaves every field at its default.
const NO_CONFIG: object = Object.freeze({});

function build(
  classes: PgClasses,
  text: string,
  values: unknown[] | undefined,
  name: string | undefined,
  rowMode: string | undefined,
  types: CustomTypesConfig | undefined,
  callback: StatementCallback,
): object {
  // Built by pg's own constructor (on an empty config, the cheapest copy there is), so it has the very shape (hidden
  // class) of the queries pg builds for anyone else in the process (health checks, a caller's own client), and pg's
  // message handlers stay monomorphic; then the fields that constructor would have copied from a full config.
  const query = new classes.Query(NO_CONFIG) as QueryFields;
  query.text = text;
  query.values = values;
  query.types = types;
  query.name = name;
  query.callback = callback;
  if (rowMode !== undefined || types !== undefined) {
    query._rowMode = rowMode;
    query._result = new classes.Result(rowMode, types);
    query._results = query._result;
  }
  return query;
}

/** True when what {@link build} makes has exactly the fields and values of what pg's constructor makes of the same config. */
function sameAsPg(classes: PgClasses): boolean {
  const callback: StatementCallback = () => undefined;
  const values = [1];
  const types: CustomTypesConfig = { getTypeParser: () => (value: string) => value };
  const config = { text: 'SELECT $1', values, name: 'n', rowMode: 'array', types, callback };
  const theirs = new classes.Query(config) as Record<string, unknown>;
  const ours = build(classes, config.text, values, config.name, config.rowMode, types, callback) as Record<
    string,
    unknown
  >;
  if (Object.getPrototypeOf(ours) !== Object.getPrototypeOf(theirs)) return false;
  const keys = Object.keys(theirs);
  if (keys.join() !== Object.keys(ours).join()) return false;
  for (const key of keys) {
    const a = theirs[key];
    const b = ours[key];
    if (key === '_result' || key === '_results') {
      if (JSON.stringify(a) !== JSON.stringify(b) || Object.getPrototypeOf(a) !== Object.getPrototypeOf(b))
        return false;
    } else if (key === '_events') {
      if (Object.keys(a as object).length !== 0 || Object.keys(b as object).length !== 0) return false;
    } else if (a !== b) return false;
  }
  return true;
}

/** pg's classes, when what {@link build} makes of them matches pg's own build; `undefined`: use `client.query(config)`. */
const classes = ((): PgClasses | undefined => {
  const loaded = loadClasses();
  try {
    return loaded !== undefined && sameAsPg(loaded) ? loaded : undefined;
  } catch {
    return undefined;
  }
})();

/** True when statements skip pg's config copy (see the file's comment); false with a pg whose `Query` differs. */
export const directQueries = classes !== undefined;

/**
 * Runs one statement on `client` as `client.query({ name, text, values, rowMode, types })` would, resolving with
 * pg's result or rejecting with pg's error, without pg's per-call copy of the config (see the file's comment).
 */
export function queryDirect<R extends QueryResultRow>(
  client: PoolClient,
  text: string,
  values: unknown[] | undefined,
  name: string | undefined,
  rowMode: 'array' | undefined,
  types: CustomTypesConfig | undefined,
): Promise<QueryResult<R>> {
  // pg binds a query's callback to an active domain; its own constructor does that.
  if (classes === undefined || (process as { domain?: unknown }).domain != null)
    return client.query<R>({ name, text, values, rowMode, types } as QueryConfig);
  const pg = classes;
  // The callback is written inline: a named closure per statement would cost a name property each time under
  // loaders that keep function names (tsx, esbuild's keepNames).
  return new Promise<QueryResult<R>>((resolve, reject) => {
    void client.query(
      build(pg, text, values, name, rowMode, types, (error, result) =>
        error ? reject(error) : resolve(result as QueryResult<R>),
      ) as unknown as QueryConfig,
    );
  });
}
