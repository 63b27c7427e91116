import type { KeyedWriteForm, KeyedWriteTemplate } from '../pipeline/index.js';
import { CatalogForms } from './catalog-forms.js';
import { CAST_PER_ROW, type ColumnCatalogRow } from './unnest-insert.js';

/** Runs one catalog query on the primary. */
export type CatalogQuery = <R>(text: string, values: readonly unknown[]) => Promise<readonly R[]>;

/** What {@link KEYED_TABLE_SQL} answers. */
interface KeyedTableRow {
  /** `r` table, `p` partitioned table; anything else (a view, a foreign table) is not merged. */
  readonly relkind: string;
  readonly relhasrules: boolean;
  /** A valid unique index whose key columns are exactly the WHERE columns, over plain columns, not partial. */
  readonly keyed: boolean;
  /** A SET column takes part in a unique or exclusion index (or one over expressions or with a predicate). */
  readonly set_in_unique: boolean;
  /** A foreign key that makes the run's statements see each other's effects at statement end. */
  readonly foreign_key_blocks: boolean;
}

/**
 * The catalog look-up behind a merged UPDATE or DELETE (`$1` table as written, `$2` WHERE columns, `$3` SET columns,
 * folded). The WHERE columns must be exactly the key of a unique index — valid, not partial, no expressions, default
 * operator classes and deterministic collations, so the equality that makes keys distinct is the one `=` uses — so
 * distinct keys meet distinct rows. Refused as not exactly equivalent to running the statements one at a time:
 * tables with rules (rewritten, and RETURNING refused); a SET column in any unique or exclusion index, whose checks
 * would then see the run's rows in another order; self-referencing foreign keys, foreign keys onto a SET column and
 * `ON DELETE SET DEFAULT` ones, which are checked at the end of the merged statement instead of after each row's.
 */
export const KEYED_TABLE_SQL = `SELECT c.relkind::text AS relkind, c.relhasrules,
  EXISTS (SELECT 1 FROM pg_catalog.pg_index i
    WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
      AND i.indnkeyatts = pg_catalog.cardinality($2::text[])
      AND (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
        = (SELECT pg_catalog.array_agg(x ORDER BY x) FROM pg_catalog.unnest($2::text[]) AS x)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indclass::oid[]) AS k(opc)
           JOIN pg_catalog.pg_opclass o ON o.oid = k.opc WHERE NOT o.opcdefault)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(i.indcollation::oid[]) AS k(coll)
           JOIN pg_catalog.pg_collation co ON co.oid = k.coll WHERE NOT co.collisdeterministic)) AS keyed,
  pg_catalog.cardinality($3::text[]) > 0 AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i
    WHERE i.indrelid = c.oid AND (i.indisunique OR i.indisexclusion)
      AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum = ANY (i.indkey::int2[]) AND a.attname = ANY ($3::text[])))) AS set_in_unique,
  EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f
    WHERE f.contype = 'f' AND (f.conrelid = c.oid AND f.confrelid = c.oid
      OR f.confrelid = c.oid AND (f.confdeltype = 'd' OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum = ANY (f.confkey) AND a.attname = ANY ($3::text[]))))) AS foreign_key_blocks
FROM pg_catalog.pg_class c WHERE c.oid = $1::regclass`;

/** The type a cast on a SET parameter names (`$1::varchar(3)` → `pg_catalog."varchar"`), named as columns are. */
export const CAST_TYPE_SQL =
  "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS type, t.typtype, t.typcategory, t.typdelim " +
  'FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1::regtype';

/**
 * The named columns (as `COLUMN_CATALOG_SQL` of the unnest INSERT) with their type modifier and the function that
 * applies it on assignment (`pg_catalog."varchar"(value, typmod, false)`, as PostgreSQL's own assignment does).
 */
export const KEYED_COLUMNS_SQL =
  "SELECT a.attname, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS type, t.typtype, t.typcategory, t.typdelim, a.atttypmod, " +
  "(SELECT pg_catalog.quote_ident(pn.nspname) || '.' || pg_catalog.quote_ident(p.proname) FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc " +
  'JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace WHERE c.castsource = a.atttypid AND c.casttarget = a.atttypid) AS length_function, ' +
  '(SELECT p.pronargs::int FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc WHERE c.castsource = a.atttypid AND c.casttarget = a.atttypid) AS length_args ' +
  'FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace ' +
  'WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])';

interface TypeRow {
  readonly type: string;
  readonly typtype: string;
  readonly typcategory: string;
  readonly typdelim: string;
}

interface KeyedColumnRow extends ColumnCatalogRow {
  readonly atttypmod: number;
  readonly length_function: string | null;
  readonly length_args: number | null;
}

/** The types `unnest` carries exactly, as the INSERT form accepts them: base, enum, range and multirange types. */
function plainScalar(row: TypeRow | undefined): boolean {
  return (
    row !== undefined &&
    row.typcategory !== 'A' &&
    row.typdelim === ',' &&
    (row.typtype === 'b' || row.typtype === 'e' || row.typtype === 'r' || row.typtype === 'm')
  );
}

const TARGET = 'pgr_t';
const SOURCE = 'pgr_u';

/** How the merged statement reads array `j`: its element type, and what every element must get through. */
interface ArrayPlan {
  readonly type: string;
  /** Sent as `text[]` and cast to {@link type} row by row (see `CAST_PER_ROW`). */
  readonly perRow: boolean;
  /** For a SET column with a type modifier: the call that applies it, with `%` for the value. */
  readonly assign: string | undefined;
  /** The array's type as the parameter is cast (a SET parameter's own cast, modifier included). */
  readonly arrayType: string;
}

/**
 * The merged statement's text; array `j` (0-based) is `$j+1`, aliased `v{j+1}`, and `ord` is the statement's
 * ordinal.
 */
function formText(template: KeyedWriteTemplate, plans: readonly ArrayPlan[]): string {
  const aliases = plans.map((_, j) => `v${j + 1}`);
  const arrays = plans.map((plan, j) => `$${j + 1}::${plan.perRow ? 'pg_catalog.text' : plan.arrayType}[]`);
  const unnest = `unnest(${arrays.join(', ')}) WITH ORDINALITY AS u(${aliases.join(', ')}, ord)`;
  const setCount = template.set.length;
  const keyAliases = aliases.slice(setCount);
  // Keys that are equal under the index's equality but were sent differently ('01' and '1' for an int) would meet
  // the same row twice, which an UPDATE … FROM changes once: such a statement fails instead (and its members are
  // re-run one by one). NULL keys match no row, so they never count.
  const repeated =
    `CASE WHEN ${keyAliases.map((a) => `${a} IS NOT NULL`).join(' AND ')} ` +
    `AND pg_catalog.count(*) OVER (PARTITION BY ${keyAliases.join(', ')}) > 1 ` +
    `THEN ('pg-query-router: a key repeats in a merged statement, at ordinal ' || ord)::int END AS pgr_repeat`;
  const source = `(SELECT *, ${repeated} FROM ${unnest}) AS ${SOURCE}`;
  const conditions = template.keys.map((key, k) => `${TARGET}.${key.spelled} = ${SOURCE}.${keyAliases[k]}`);
  conditions.push(`${SOURCE}.pgr_repeat IS NULL`);
  // A statement alone, planned with its values, applies casts and type modifiers even when no row matches (and
  // fails on a value too long, say); the merged one would apply them to matching rows only. This condition has no
  // column of either table, so PostgreSQL checks it once, before the join: every value goes through them.
  const checked = template.set.flatMap((_, j) => {
    const plan = plans[j]!;
    let value = `v${j + 1}`;
    if (plan.perRow) value = `${value}::${plan.type}`;
    if (plan.assign !== undefined) value = plan.assign.replace('%', value);
    return value === `v${j + 1}` && plan.arrayType === plan.type ? [] : [value];
  });
  if (checked.length > 0)
    conditions.push(
      `(SELECT pg_catalog.count(ROW(${checked.join(', ')})) FROM unnest(${arrays.join(', ')}) AS c(${aliases.join(', ')})) >= 0`,
    );
  const where = conditions.join(' AND ');
  const set = template.set
    .map((column, j) => `${column.spelled} = ${SOURCE}.v${j + 1}${plans[j]!.perRow ? `::${plans[j]!.type}` : ''}`)
    .join(', ');
  const merged =
    template.command === 'DELETE'
      ? `DELETE FROM ${template.table} AS ${TARGET} USING ${source} WHERE ${where} RETURNING ${SOURCE}.ord`
      : `UPDATE ${template.table} AS ${TARGET} SET ${set} FROM ${source} WHERE ${where} RETURNING ${SOURCE}.ord`;
  // One row back instead of one per member (reading a row costs the client about a microsecond): each member changes
  // at most one row (a unique key, keys distinct), so when as many rows changed as there are members each changed
  // one, and only otherwise are the ordinals that did sent back.
  return (
    `WITH pgr_m AS (${merged}) SELECT pg_catalog.count(*) AS n, CASE WHEN pg_catalog.count(*) = ` +
    `pg_catalog.array_length(${arrays[0]}, 1) THEN NULL ELSE pg_catalog.array_agg(ord) END AS ords FROM pgr_m`
  );
}

/**
 * Builds the merged form of UPDATE and DELETE templates from the catalog, cached per template like the unnest
 * INSERT forms: the table must qualify (see {@link KEYED_TABLE_SQL}) and every parameter's type be a plain scalar.
 */
export class KeyedWrites extends CatalogForms<KeyedWriteTemplate, KeyedWriteForm> {
  private readonly keys = new WeakMap<KeyedWriteTemplate, string>();

  constructor(
    private readonly query: CatalogQuery,
    private readonly nameFor: (text: string) => string | undefined,
  ) {
    super();
  }

  protected keyOf(template: KeyedWriteTemplate): string {
    let key = this.keys.get(template);
    if (key === undefined) {
      key = JSON.stringify([template.command, template.table, template.set, template.keys]);
      this.keys.set(template, key);
    }
    return key;
  }

  protected async build(template: KeyedWriteTemplate): Promise<KeyedWriteForm | null | undefined> {
    const setColumns = template.set.map((c) => c.column);
    const keyColumns = template.keys.map((c) => c.column);
    let table: KeyedTableRow | undefined;
    let columns: readonly KeyedColumnRow[];
    const casts: (TypeRow | undefined)[] = [];
    try {
      [table] = await this.query<KeyedTableRow>(KEYED_TABLE_SQL, [template.table, keyColumns, setColumns]);
      columns = await this.query<KeyedColumnRow>(KEYED_COLUMNS_SQL, [template.table, [...setColumns, ...keyColumns]]);
      for (const column of template.set) {
        if (column.cast !== undefined) casts.push((await this.query<TypeRow>(CAST_TYPE_SQL, [column.cast]))[0]);
        else casts.push(undefined);
      }
    } catch {
      // The node may be down, or the table or a type may not exist (yet): not merged, asked again next time.
      return undefined;
    }
    if (
      table === undefined ||
      (table.relkind !== 'r' && table.relkind !== 'p') ||
      table.relhasrules ||
      !table.keyed ||
      table.set_in_unique ||
      table.foreign_key_blocks
    )
      return null;
    const plans: ArrayPlan[] = [];
    const bytea: boolean[] = [];
    const columnOf = (name: string): KeyedColumnRow | undefined => columns.find((row) => row.attname === name);
    for (const [j, column] of template.set.entries()) {
      const row = columnOf(column.column);
      if (row === undefined || !plainScalar(row)) return null;
      let assign: string | undefined;
      if (row.atttypmod >= 0) {
        // No function to apply the modifier with: left to single statements rather than reasoned about.
        if (row.length_function === null || (row.length_args !== 2 && row.length_args !== 3)) return null;
        assign = `${row.length_function}(%, ${row.atttypmod}${row.length_args === 3 ? ', false' : ''})`;
      }
      const cast = casts[j];
      if (column.cast !== undefined) {
        // Only a cast to the column's own type: another would be one more conversion on assignment.
        if (!plainScalar(cast) || cast!.type !== row.type) return null;
        plans.push({ type: row.type, perRow: false, assign, arrayType: column.cast });
      } else {
        plans.push({ type: row.type, perRow: CAST_PER_ROW.has(row.type), assign, arrayType: row.type });
      }
      bytea.push(column.cast === undefined && row.type === 'pg_catalog.bytea');
    }
    for (const column of template.keys) {
      const row = columnOf(column.column);
      if (row === undefined || !plainScalar(row)) return null;
      plans.push({ type: row.type, perRow: false, assign: undefined, arrayType: row.type });
      bytea.push(row.type === 'pg_catalog.bytea');
    }
    const text = formText(template, plans);
    const form: KeyedWriteForm = {
      text,
      statementName: this.nameFor(text),
      params: [...template.set, ...template.keys].map((c) => c.param),
      keyPositions: template.keys.map((_, k) => template.set.length + k),
      bytea,
    };
    return form;
  }
}
