import { LRUCache } from 'lru-cache';
import type { CopyInsert, RowTemplate } from '../pipeline/index.js';

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

// Tables may be altered at any time, so forms expire; a failed COPY also forgets its form at once.
const TTL_MS = 60_000;
/** Cached for a template that has no COPY form. */
const NONE = Object.freeze({ none: true } as const);

/** An identifier quoted as PostgreSQL's `quote_ident` would always quote it. */
function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Decides, per template, whether its INSERTs may be sent as `COPY … FROM STDIN`, from the catalog, cached per
 * template (see {@link CopyInsert} for what rules COPY out).
 */
export class CopyInserts {
  private readonly forms = new LRUCache<string, CopyInsert | typeof NONE>({
    max: 1_000,
    ttl: TTL_MS,
    ttlAutopurge: false,
  });
  private readonly pending = new Map<string, Promise<CopyInsert | undefined>>();
  lookups = 0;

  constructor(private readonly lookup: CopyCatalogLookup) {}

  /** The form of `template`, looking its table up once; `undefined` when it has none. Never rejects. */
  get(template: RowTemplate): Promise<CopyInsert | undefined> {
    if (template.columnParams === undefined) return Promise.resolve(undefined);
    const key = template.head;
    const known = this.forms.get(key);
    if (known !== undefined) return Promise.resolve(known === NONE ? undefined : (known as CopyInsert));
    let inFlight = this.pending.get(key);
    if (inFlight === undefined) {
      inFlight = this.load(template).finally(() => this.pending.delete(key));
      this.pending.set(key, inFlight);
    }
    return inFlight;
  }

  forget(template: RowTemplate): void {
    this.forms.delete(template.head);
  }

  /** Forgets every form (the schema may have changed): each is read from the catalog again at its next use. */
  clear(): void {
    this.forms.clear();
  }

  private async load(template: RowTemplate): Promise<CopyInsert | undefined> {
    this.lookups++;
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
      this.forms.set(template.head, NONE);
      return undefined;
    }
    const bytea: boolean[] = [];
    for (const column of template.columns) {
      const row = rows.find((candidate) => candidate.attname === column);
      if (row === undefined || row.attidentity === 'a' || (row.attgenerated ?? '') !== '') {
        this.forms.set(template.head, NONE);
        return undefined;
      }
      bytea.push(row.bytea === true);
    }
    const form: CopyInsert = {
      text: `COPY ${template.table} (${template.columns.map(quoted).join(', ')}) FROM STDIN`,
      bytea,
    };
    this.forms.set(template.head, form);
    return form;
  }
}
