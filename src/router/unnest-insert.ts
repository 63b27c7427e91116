import type { RowTemplate, UnnestInsert } from '../pipeline/index.js';
import { CatalogForms } from './catalog-forms.js';

/** One column of the catalog look-up. */
export interface ColumnCatalogRow {
  readonly attname: string;
  /** The type's schema-qualified internal name (`pg_catalog.int4`), which carries no type modifier. */
  readonly type: string;
  readonly typtype: string;
  readonly typcategory: string;
  /** The delimiter between elements of the type's arrays: `,` for all but `box` (`;`). */
  readonly typdelim: string;
}

/** Runs the catalog query on the primary. */
export type ColumnCatalogLookup = (table: string, columns: readonly string[]) => Promise<readonly ColumnCatalogRow[]>;

/**
 * The catalog query: the named columns of a table (resolved with the connection's search_path, as the INSERT
 * itself is) with their types. Each type is named by its schema and internal name (`pg_catalog.bpchar`,
 * `public.mood`), which never carries a type modifier: the SQL names `character` and `bit` mean `character(1)`
 * and `bit(1)`, so a cast to them would truncate. The column's own modifier is still checked on assignment.
 */
export const COLUMN_CATALOG_SQL =
  "SELECT a.attname, pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(t.typname) AS type, t.typtype, t.typcategory, t.typdelim " +
  'FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace ' +
  'WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])';

/**
 * Types whose values are read per row from a `text[]` and cast, instead of from an array of the type itself: a
 * `jsonb[]` parameter of 2,000 small objects took PostgreSQL 15 about 12 ms to read, the same values cast from
 * text row by row about 2 ms. Both go through the type's own input function, so every value is stored exactly as
 * a parameter of that type would be.
 */
export const CAST_PER_ROW: ReadonlySet<string> = new Set(['pg_catalog.jsonb']);

/**
 * `SELECT u.c1, …, u.cN::pg_catalog.jsonb FROM unnest($1::type1[], …, $N::pg_catalog.text[]) AS u(c1, …, cN)`:
 * one array parameter per column, in the columns' order.
 */
function unnestSelect(types: readonly string[]): string {
  const arrays: string[] = [];
  const columns: string[] = [];
  const aliases: string[] = [];
  types.forEach((type, j) => {
    const perRow = CAST_PER_ROW.has(type);
    arrays.push(`$${j + 1}::${perRow ? 'pg_catalog.text' : type}[]`);
    aliases.push(`c${j + 1}`);
    columns.push(perRow ? `u.c${j + 1}::${type}` : `u.c${j + 1}`);
  });
  return `SELECT ${columns.join(', ')} FROM unnest(${arrays.join(', ')}) AS u(${aliases.join(', ')})`;
}

/**
 * Builds the `unnest` form of single-row INSERT templates from the target columns' types, cached per template.
 * Only plain scalar types qualify: an array column would be flattened by `unnest`, the elements of a `box` array
 * are separated by `;` where pg writes `,`, and domains and composites are left to the multi-row VALUES form
 * rather than reasoned about.
 */
export class UnnestInserts extends CatalogForms<RowTemplate, UnnestInsert> {
  constructor(
    private readonly lookup: ColumnCatalogLookup,
    private readonly nameFor: (text: string) => string | undefined,
  ) {
    super();
  }

  protected keyOf(template: RowTemplate): string | undefined {
    return template.columnParams === undefined ? undefined : template.head;
  }

  protected async build(template: RowTemplate): Promise<UnnestInsert | null | undefined> {
    let rows: readonly ColumnCatalogRow[];
    try {
      rows = await this.lookup(template.table, template.columns);
    } catch {
      // The node may be down, or the table may not exist yet: use the VALUES form and ask again next time.
      return undefined;
    }
    const types: string[] = [];
    for (const column of template.columns) {
      const row = rows.find((candidate) => candidate.attname === column);
      if (
        row === undefined ||
        row.typcategory === 'A' ||
        row.typdelim !== ',' ||
        (row.typtype !== 'b' && row.typtype !== 'e' && row.typtype !== 'r' && row.typtype !== 'm')
      ) {
        return null;
      }
      types.push(row.type);
    }
    // head is `INSERT INTO t (c1, …) VALUES `; the columns keep their written spelling.
    const into = template.head.slice(0, template.head.toLowerCase().lastIndexOf('values'));
    const text = `${into}${unnestSelect(types)}`;
    const form: UnnestInsert = { text, statementName: this.nameFor(text) };
    return form;
  }
}
