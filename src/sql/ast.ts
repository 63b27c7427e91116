import { createRequire } from 'node:module';

/** What the parser makes of a statement the lexical pass could not decide. */
export type AstVerdict =
  | { readonly kind: 'read'; readonly functions: readonly string[] }
  | { readonly kind: 'write'; readonly reason: string }
  | { readonly kind: 'unreadable'; readonly error: string };

interface SqlParser {
  astify(sql: string, options: { database: string }): unknown;
}

let parser: SqlParser | undefined;

// node-sql-parser's PostgreSQL-only build loads in ~35 ms instead of ~300 ms for every dialect; it is
// needed only for the few statements the lexer cannot decide, so it is loaded on first use.
function getParser(): SqlParser {
  if (parser === undefined) {
    const require = createRequire(import.meta.url);
    const module = require('node-sql-parser/build/postgresql') as { Parser: new () => SqlParser };
    parser = new module.Parser();
  }
  return parser;
}

const WRITE_TYPES = new Set(['insert', 'update', 'delete', 'merge', 'replace', 'create', 'alter', 'drop', 'truncate']);

/**
 * Parses one statement with node-sql-parser (PostgreSQL dialect) and reads from its AST whether it writes:
 * a data-modifying statement anywhere in the tree (CTE bodies, subqueries), `SELECT … INTO`, or a locking
 * clause; otherwise it lists the functions called. Costs 250–800 µs, so the classifier calls it only when the
 * lexical pass is unsure.
 */
export function inspectWithParser(statement: string): AstVerdict {
  let ast: unknown;
  try {
    ast = getParser().astify(statement, { database: 'postgresql' });
  } catch (error) {
    return { kind: 'unreadable', error: error instanceof Error ? error.message.slice(0, 200) : String(error) };
  }
  const functions: string[] = [];
  const stack: unknown[] = [ast];
  while (stack.length > 0) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      for (const child of node) stack.push(child);
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    const record = node as Record<string, unknown>;
    const type = record['type'];
    if (typeof type === 'string' && WRITE_TYPES.has(type.toLowerCase()) && ('table' in record || 'keyword' in record)) {
      return { kind: 'write', reason: `${type.toUpperCase()} inside the statement (parser)` };
    }
    const into = record['into'];
    if (typeof into === 'object' && into !== null && (into as Record<string, unknown>)['expr'] != null) {
      return { kind: 'write', reason: 'SELECT … INTO creates a table (parser)' };
    }
    if ((record['locking_read'] ?? record['for_update']) != null) {
      return { kind: 'write', reason: 'locking clause (parser)' };
    }
    if (type === 'function') {
      const name = functionName(record['name']);
      if (name !== undefined) functions.push(name);
    }
    for (const key in record) {
      const child = record[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return { kind: 'read', functions };
}

function functionName(name: unknown): string | undefined {
  if (typeof name === 'string') return name.toLowerCase();
  if (typeof name !== 'object' || name === null) return undefined;
  const parts = (name as { name?: unknown }).name;
  const schema = (name as { schema?: { value?: unknown } }).schema?.value;
  if (!Array.isArray(parts)) return undefined;
  const bare = parts.map((part: { value?: unknown }) => String(part?.value ?? '')).join('.');
  return (typeof schema === 'string' ? `${schema}.${bare}` : bare).toLowerCase();
}
