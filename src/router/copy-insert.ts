import type { CopyInsert, RowTemplate } from '../pipeline/index.js';
import { CatalogForms } from './catalog-forms.js';

/** One row of the catalog look-up: the table's facts, repeated for each named column found (or once, with none). */
export interface CopyCatalogRow {
  /** `r` plain table, `p` partitioned table, others (view, foreign table, …) rule COPY out. */
  readonly relkind: string;
  readonly relrowsecurity: boolean;
  /** Whether `pg_rewrite` holds a rule on the table (COPY ignores rules, the INSERT obeys them). */
  readonly has_rules: boolean;
  readonly attname: string | null;
  /** `a` GENERATED ALWAYS AS IDENTITY, `d` BY DEFAULT, empty otherwise. */
  readonly attidentity: string | null;
  /** `s` stored generated column (`v` virtual, PostgreSQL 18), empty otherwise. */
  readonly attgenerated: string | null;
  readonly bytea: boolean | null;
}

/** Runs the catalog query on the primary. */
export type CopyCatalogLookup = (table: string, columns: readonly string[]) => Promise<readonly CopyCatalogRow[]>;

/**
 * The catalog query: the table (resolved with the connection's search_path, as the INSERT itself is), whether it
 * has rules or row-level security, and the named columns' identity, generation and whether their type is bytea.
 */
export const COPY_CATALOG_SQL =
  'SELECT c.relkind, c.relrowsecurity, EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid) AS has_rules, ' +
  "a.attname, a.attidentity, a.attgenerated, a.atttypid = 'pg_catalog.bytea'::pg_catalog.regtype AS bytea " +
  'FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 ' +
  'AND NOT a.attisdropped AND a.attname = ANY($2::text[]) WHERE c.oid = $1::regclass';

/** An identifier quoted as PostgreSQL's `quote_ident` would always quote it. */
function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Decides, per template, whether its INSERTs may be sent as `COPY … FROM STDIN`, from the catalog, cached per
 * template (see {@link CopyInsert} for what rules COPY out).
 */
export class CopyInserts extends CatalogForms<RowTemplate, CopyInsert> {
  constructor(private readonly lookup: CopyCatalogLookup) {
    super();
  }

  protected keyOf(template: RowTemplate): string | undefined {
    return template.columnParams === undefined ? undefined : template.head;
  }

  protected async build(template: RowTemplate): Promise<CopyInsert | null | undefined> {
    let rows: readonly CopyCatalogRow[];
    try {
      rows = await this.lookup(template.table, template.columns);
    } catch {
      // The node may be down, or the table may not exist yet: use another form and ask again next time.
      return undefined;
    }
    const table = rows[0];
    if (
      table === undefined ||
      (table.relkind !== 'r' && table.relkind !== 'p') ||
      table.relrowsecurity ||
      table.has_rules
    ) {
      return null;
    }
    const bytea: boolean[] = [];
    for (const column of template.columns) {
      const row = rows.find((candidate) => candidate.attname === column);
      if (row === undefined || row.attidentity === 'a' || (row.attgenerated ?? '') !== '') {
        return null;
      }
      bytea.push(row.bytea === true);
    }
    const form: CopyInsert = {
      text: `COPY ${template.table} (${template.columns.map(quoted).join(', ')}) FROM STDIN`,
      bytea,
    };
    return form;
  }
}
