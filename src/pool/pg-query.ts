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
  /** pg's default type parsers (pg-types), which a Result without `types` of its own uses. */
  readonly types: CustomTypesConfig;
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
    const pg = createRequire(import.meta.url)('pg') as { Query?: unknown; Result?: unknown; types?: unknown };
    if (typeof pg.Query !== 'function' || typeof pg.Result !== 'function') return undefined;
    if (typeof (pg.types as Partial<CustomTypesConfig> | undefined)?.getTypeParser !== 'function') return undefined;
    return {
      Query: pg.Query as PgClasses['Query'],
      Result: pg.Result as PgClasses['Result'],
      types: pg.types as CustomTypesConfig,
    };
  } catch {
    return undefined;
  }
}

// pg's constructor copies this (no properties: the cheapest copy there is) and leaves every field at its default.
const NO_CONFIG: object = Object.freeze({});

/** One column of a RowDescription, as pg-protocol parses it. */
interface FieldDescription {
  readonly name: string;
  readonly dataTypeID: number;
  readonly format: string;
}

/** The members of pg's `Result` that `addFields` sets (pg 8.x `lib/result.js`). */
interface ResultFields {
  command: string | null;
  fields: readonly FieldDescription[];
  _parsers: ((value: unknown) => unknown)[] | undefined;
  _types: CustomTypesConfig | undefined;
  _prebuiltEmptyResultObject: object | null;
}

/** What a prepared statement's rows looked like last time: their column names and pg's empty row for them. */
interface RowShape {
  readonly names: readonly string[];
  readonly emptyRow: object | null;
}

/**
 * Row shapes by prepared-statement name. pg's `addFields` builds the empty row every row starts from anew for every
 * statement, through a dictionary-mode object and a spread of it: about 2 µs for five columns, as much as the
 * router's own work on a statement. A named statement answers with the same columns each time (PostgreSQL refuses
 * a changed shape: "cached plan must not change result type"), so that row is kept and reused while the names match.
 * Bounded: forgotten all at once when full, to be learned again.
 */
const rowShapes = new Map<string, RowShape>();
const MAX_ROW_SHAPES = 2_000;

function sameNames(names: readonly string[], fields: readonly FieldDescription[]): boolean {
  if (names.length !== fields.length) return false;
  for (let i = 0; i < names.length; i++) if (names[i] !== fields[i]!.name) return false;
  return true;
}

/**
 * pg's `Query` with `handleRowDescription` reusing the row shape of a named statement (see {@link rowShapes}); the
 * parsers are still looked up for each statement, as pg does, so `types.setTypeParser` and per-statement `types`
 * apply at once.
 */
function directQueryClass(classes: PgClasses): new (config: object) => object {
  const defaultTypes = classes.types;
  const Base = classes.Query as unknown as new (config: object) => {
    name: string | undefined;
    callback: StatementCallback | undefined;
    _result: ResultFields;
    _accumulateRows: unknown;
    _checkForMultirow(): void;
    handleRowDescription(message: { fields: readonly FieldDescription[] }): void;
    listeners(event: string): unknown[];
  };
  return class DirectQuery extends Base {
    override handleRowDescription(message: { fields: readonly FieldDescription[] }): void {
      const name = this.name;
      const fields = message.fields;
      const shape = name === undefined ? undefined : rowShapes.get(name);
      if (shape === undefined || this._result.command !== null || !sameNames(shape.names, fields)) {
        super.handleRowDescription(message);
        if (name !== undefined) {
          if (rowShapes.size >= MAX_ROW_SHAPES) rowShapes.clear();
          rowShapes.set(name, {
            names: fields.map((field) => field.name),
            emptyRow: this._result._prebuiltEmptyResultObject,
          });
        }
        return;
      }
      // pg's handleRowDescription and addFields, with the empty row taken from the shape.
      this._checkForMultirow();
      const result = this._result;
      result.fields = fields;
      if (fields.length > 0) {
        const types = result._types ?? defaultTypes;
        const parsers = new Array<(value: unknown) => unknown>(fields.length);
        for (let i = 0; i < fields.length; i++) {
          const field = fields[i]!;
          parsers[i] = types.getTypeParser(field.dataTypeID, (field.format || 'text') as 'text') as (
            value: unknown,
          ) => unknown;
        }
        result._parsers = parsers;
      }
      result._prebuiltEmptyResultObject = shape.emptyRow;
      this._accumulateRows = this.callback || !this.listeners('row').length;
    }
  };
}

function build(
  DirectQuery: new (config: object) => object,
  classes: PgClasses,
  text: string,
  values: unknown[] | undefined,
  name: string | undefined,
  rowMode: string | undefined,
  types: CustomTypesConfig | undefined,
  callback: StatementCallback,
): object {
  // Built by pg's own constructor (on an empty config): every field pg's handlers read is there, in pg's order.
  const query = new DirectQuery(NO_CONFIG) as QueryFields;
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
function sameAsPg(classes: PgClasses, DirectQuery: new (config: object) => object): boolean {
  const callback: StatementCallback = () => undefined;
  const values = [1];
  const types: CustomTypesConfig = { getTypeParser: () => (value: string) => value };
  const config = { text: 'SELECT $1', values, name: 'n', rowMode: 'array', types, callback };
  const theirs = new classes.Query(config) as Record<string, unknown>;
  const ours = build(DirectQuery, classes, config.text, values, config.name, config.rowMode, types, callback) as Record<
    string,
    unknown
  >;
  if (!(ours instanceof classes.Query)) return false;
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

/** True when a reused row shape leaves a Result exactly as pg's own `handleRowDescription` leaves it. */
function sameRowDescription(classes: PgClasses, DirectQuery: new (config: object) => object): boolean {
  const name = 'pgr_row_shape_check';
  const fields: FieldDescription[] = [
    { name: 'id', dataTypeID: 23, format: 'text' },
    { name: '2', dataTypeID: 25, format: 'text' },
    { name: 'id', dataTypeID: 1184, format: 'text' },
  ];
  const callback: StatementCallback = () => undefined;
  type Described = { _result: ResultFields; _accumulateRows: unknown; handleRowDescription(m: object): void };
  const theirs = new classes.Query({ text: 'x', name, callback }) as unknown as Described;
  theirs.handleRowDescription({ fields });
  try {
    for (let run = 0; run < 2; run++) {
      // The first run learns the shape, the second reuses it.
      const ours = build(DirectQuery, classes, 'x', undefined, name, undefined, undefined, callback) as Described;
      ours.handleRowDescription({ fields });
      const a = theirs._result;
      const b = ours._result;
      if (b.fields !== fields || ours._accumulateRows !== theirs._accumulateRows) return false;
      if (a._parsers?.length !== b._parsers?.length || a._parsers!.some((parser, i) => parser !== b._parsers![i]))
        return false;
      const emptyA = a._prebuiltEmptyResultObject as Record<string, unknown>;
      const emptyB = b._prebuiltEmptyResultObject as Record<string, unknown>;
      if (
        Object.keys(emptyA).join() !== Object.keys(emptyB).join() ||
        JSON.stringify(emptyA) !== JSON.stringify(emptyB)
      )
        return false;
    }
    return true;
  } finally {
    rowShapes.delete(name);
  }
}

const direct = ((): { classes: PgClasses; DirectQuery: new (config: object) => object } | undefined => {
  const classes = loadClasses();
  if (classes === undefined) return undefined;
  try {
    const DirectQuery = directQueryClass(classes);
    return sameAsPg(classes, DirectQuery) && sameRowDescription(classes, DirectQuery)
      ? { classes, DirectQuery }
      : undefined;
  } catch {
    return undefined;
  }
})();

/** True when statements skip pg's config copy (see the file's comment); false with a pg whose `Query` differs. */
export const directQueries = direct !== undefined;

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
  if (direct === undefined || (process as { domain?: unknown }).domain != null)
    return client.query<R>({ name, text, values, rowMode, types } as QueryConfig);
  const { classes, DirectQuery } = direct;
  // The callback is written inline: a named closure per statement would cost a name property each time under
  // loaders that keep function names (tsx, esbuild's keepNames).
  return new Promise<QueryResult<R>>((resolve, reject) => {
    void client.query(
      build(DirectQuery, classes, text, values, name, rowMode, types, (error, result) =>
        error ? reject(error) : resolve(result as QueryResult<R>),
      ) as unknown as QueryConfig,
    );
  });
}
