import { lexSql, type Token } from './lexer.js';

/**
 * How a single-row `INSERT … VALUES (…)` can be repeated for more rows: the text up to and including `VALUES`,
 * and the row tuple as text pieces and parameter numbers (1-based), which are renumbered for each extra row.
 */
export interface RowTemplate {
  readonly head: string;
  readonly tuple: readonly (string | number)[];
  /** Parameters per row. */
  readonly paramCount: number;
  /** The target table as written (`events`, `app."Events"`). */
  readonly table: string;
  /** The target columns, folded as PostgreSQL folds identifiers. */
  readonly columns: readonly string[];
  /** When the row is nothing but distinct parameters, the parameter number (1-based) of each column. */
  readonly columnParams: readonly number[] | undefined;
}

const isName = (token: Token | undefined): boolean =>
  token !== undefined && (token.type === 'word' || token.type === 'qident');

/**
 * The {@link RowTemplate} of `INSERT INTO t (c1, …) VALUES (…)` — one row, no RETURNING, no ON CONFLICT, no
 * subquery in the row — or `undefined` for any other statement. Only such statements may be merged into one
 * multi-row INSERT: each caller's row is then inserted exactly as its own statement would have, and its result
 * (`rowCount: 1`) is known without RETURNING.
 */
export function insertRowTemplate(sql: string): RowTemplate | undefined {
  const lexed = lexSql(sql);
  if (!lexed.ok) return undefined;
  const tokens = lexed.tokens;
  while (tokens.length > 0 && tokens[tokens.length - 1]!.type === 'semicolon') tokens.pop();
  let i = 0;
  const word = (text: string): boolean => tokens[i]?.type === 'word' && tokens[i]!.text === text;
  if (!word('insert')) return undefined;
  i++;
  if (!word('into')) return undefined;
  i++;
  if (!isName(tokens[i])) return undefined;
  const tableStart = tokens[i]!.start;
  i++;
  if (tokens[i]?.type === 'dot') {
    if (!isName(tokens[i + 1])) return undefined;
    i += 2;
  }
  const table = sql.slice(tableStart, tokens[i - 1]!.end);
  if (tokens[i]?.type !== 'lparen') return undefined;
  i++;
  const columns: string[] = [];
  for (;;) {
    if (!isName(tokens[i])) return undefined;
    columns.push(tokens[i]!.text);
    i++;
    if (tokens[i]?.type === 'comma') i++;
    else if (tokens[i]?.type === 'rparen') break;
    else return undefined;
  }
  i++;
  if (!word('values')) return undefined;
  const valuesEnd = tokens[i]!.end;
  i++;
  if (tokens[i]?.type !== 'lparen') return undefined;
  const open = i;
  let depth = 0;
  let close = -1;
  for (let j = open; j < tokens.length; j++) {
    const token = tokens[j]!;
    if (token.type === 'lparen') depth++;
    else if (token.type === 'rparen' && --depth === 0) {
      close = j;
      break;
    } else if (token.type === 'word' && (token.text === 'select' || token.text === 'values')) return undefined;
    else if (token.type === 'semicolon') return undefined;
  }
  if (close !== tokens.length - 1) return undefined; // RETURNING, ON CONFLICT, a second row, …
  const tuple: (string | number)[] = [];
  let cursor = tokens[open]!.start;
  let paramCount = 0;
  for (let j = open; j <= close; j++) {
    const token = tokens[j]!;
    if (token.type !== 'param') continue;
    tuple.push(sql.slice(cursor, token.start));
    const index = Number(token.text.slice(1));
    tuple.push(index);
    if (index > paramCount) paramCount = index;
    cursor = token.end;
  }
  tuple.push(sql.slice(cursor, tokens[close]!.end));
  if (paramCount === 0) return undefined;
  return {
    head: `${sql.slice(0, valuesEnd)} `,
    tuple,
    paramCount,
    table,
    columns,
    columnParams: bareParams(tokens.slice(open + 1, close), columns.length, paramCount),
  };
}

/**
 * For a row that is nothing but distinct parameters, one per column (`($1, $2, $3)`, in any order), the parameter
 * number of each column; otherwise `undefined`. Only such rows can be sent as `unnest` arrays typed like the
 * columns, because every value then goes straight into its column.
 */
function bareParams(row: readonly Token[], columnCount: number, paramCount: number): number[] | undefined {
  if (row.length !== 2 * columnCount - 1 || paramCount !== columnCount) return undefined;
  const params: number[] = [];
  for (let j = 0; j < row.length; j++) {
    const token = row[j]!;
    if (j % 2 === 1) {
      if (token.type !== 'comma') return undefined;
      continue;
    }
    if (token.type !== 'param') return undefined;
    const index = Number(token.text.slice(1));
    if (params.includes(index)) return undefined;
    params.push(index);
  }
  return params;
}
