import { lexSql, type Token } from './lexer.js';

/** A column of a {@link KeyedWriteTemplate} and the parameter that feeds it. */
export interface KeyedColumn {
  /** The column name, folded as PostgreSQL folds identifiers (for catalog look-ups). */
  readonly column: string;
  /** The column exactly as written (`"Name"`, `name`), for the merged statement's text. */
  readonly spelled: string;
  /** Its parameter number, 1-based. */
  readonly param: number;
  /** The type of an explicit cast on the parameter (`$1::numeric(10,2)` gives `numeric(10,2)`), as written. */
  readonly cast: string | undefined;
}

/**
 * How a single-row `UPDATE t SET c1 = $1, … WHERE k1 = $2 AND …` or `DELETE FROM t WHERE k1 = $1 AND …` can be
 * merged with its twins: every SET value is a parameter (optionally cast), the WHERE clause is nothing but
 * equalities of distinct columns to parameters, AND-ed, and every parameter is used exactly once.
 */
export interface KeyedWriteTemplate {
  readonly command: 'UPDATE' | 'DELETE';
  /** The target table as written (`accounts`, `app."Accounts"`). */
  readonly table: string;
  /** The SET list in written order (empty for DELETE). */
  readonly set: readonly KeyedColumn[];
  /** The WHERE columns in written order; never carry a cast. */
  readonly keys: readonly KeyedColumn[];
  /** Parameters per statement: `set.length + keys.length`. */
  readonly paramCount: number;
}

const isName = (token: Token | undefined): boolean =>
  token !== undefined && (token.type === 'word' || token.type === 'qident');

/** Words that may not be a column or table name here (they start or end a clause). */
const RESERVED: ReadonlySet<string> = new Set([
  'only',
  'set',
  'where',
  'from',
  'using',
  'returning',
  'and',
  'or',
  'not',
  'as',
  'current',
]);

/**
 * The {@link KeyedWriteTemplate} of a statement, or `undefined` when it is anything else: an alias, `ONLY`,
 * `FROM`/`USING`, `RETURNING`, `WHERE CURRENT OF`, an expression, a literal, a repeated column or parameter, a
 * cast on a key, or an array cast (a JS array among the values would then be one element of an array of arrays).
 */
export function keyedWriteTemplate(sql: string): KeyedWriteTemplate | undefined {
  const lexed = lexSql(sql);
  if (!lexed.ok) return undefined;
  const tokens = lexed.tokens;
  while (tokens.length > 0 && tokens[tokens.length - 1]!.type === 'semicolon') tokens.pop();
  if (tokens.some((token) => token.type === 'semicolon')) return undefined;
  let i = 0;
  const word = (text: string): boolean => tokens[i]?.type === 'word' && tokens[i]!.text === text;
  let command: 'UPDATE' | 'DELETE';
  if (word('update')) {
    command = 'UPDATE';
    i++;
  } else if (word('delete')) {
    command = 'DELETE';
    i++;
    if (!word('from')) return undefined;
    i++;
  } else return undefined;
  const tableStart = tokens[i]?.start;
  if (!isPlainName(tokens[i])) return undefined;
  i++;
  if (tokens[i]?.type === 'dot') {
    if (!isPlainName(tokens[i + 1])) return undefined;
    i += 2;
  }
  const table = sql.slice(tableStart, tokens[i - 1]!.end);
  const used = new Set<number>();
  const param = (): number | undefined => {
    const token = tokens[i];
    if (token?.type !== 'param') return undefined;
    const index = Number(token.text.slice(1));
    if (!Number.isInteger(index) || index < 1 || used.has(index)) return undefined;
    used.add(index);
    i++;
    return index;
  };
  const column = (): Pick<KeyedColumn, 'column' | 'spelled'> | undefined => {
    const token = tokens[i];
    if (!isPlainName(token)) return undefined;
    i++;
    return { column: token!.text, spelled: sql.slice(token!.start, token!.end) };
  };
  const set: KeyedColumn[] = [];
  if (command === 'UPDATE') {
    if (!word('set')) return undefined;
    i++;
    for (;;) {
      const target = column();
      if (target === undefined || tokens[i]?.type !== 'op' || tokens[i]!.text !== '=') return undefined;
      i++;
      const index = param();
      if (index === undefined) return undefined;
      let cast: string | undefined;
      if (tokens[i]?.type === 'cast') {
        i++;
        const end = castEnd(tokens, i);
        if (end === undefined) return undefined;
        cast = sql.slice(tokens[i]!.start, tokens[end - 1]!.end);
        i = end;
      }
      set.push({ ...target, param: index, cast });
      if (tokens[i]?.type !== 'comma') break;
      i++;
    }
  }
  if (!word('where')) return undefined;
  i++;
  const keys: KeyedColumn[] = [];
  for (;;) {
    const key = column();
    if (key === undefined || tokens[i]?.type !== 'op' || tokens[i]!.text !== '=') return undefined;
    i++;
    const index = param();
    if (index === undefined) return undefined;
    keys.push({ ...key, param: index, cast: undefined });
    if (!word('and')) break;
    i++;
  }
  if (i !== tokens.length) return undefined;
  const names = [...set, ...keys].map((c) => c.column);
  if (new Set(set.map((c) => c.column)).size !== set.length) return undefined;
  if (new Set(keys.map((c) => c.column)).size !== keys.length) return undefined;
  // A SET column that is also a key would let a later statement's key meet a row an earlier one just moved.
  if (new Set(names).size !== names.length) return undefined;
  const paramCount = used.size;
  for (let p = 1; p <= paramCount; p++) if (!used.has(p)) return undefined;
  return { command, table, set, keys, paramCount };
}

function isPlainName(token: Token | undefined): boolean {
  return isName(token) && !(token!.type === 'word' && RESERVED.has(token!.text));
}

/**
 * Where a cast's type name ends: words (`double precision`, `timestamp with time zone`), one optional schema dot,
 * and one optional modifier list of numbers (`numeric(10, 2)`, `timestamp(3) with time zone`). Array types
 * (`int[]`, `int array`) are refused.
 */
function castEnd(tokens: readonly Token[], from: number): number | undefined {
  let i = from;
  if (!isName(tokens[i])) return undefined;
  let sawModifier = false;
  while (i < tokens.length) {
    const token = tokens[i]!;
    if (token.type === 'word') {
      if (token.text === 'where' || token.text === 'array') break;
      i++;
    } else if (token.type === 'qident') i++;
    else if (token.type === 'dot' && isName(tokens[i + 1])) i += 2;
    else if (token.type === 'lparen' && !sawModifier) {
      sawModifier = true;
      i++;
      for (;;) {
        if (tokens[i]?.type !== 'number') return undefined;
        i++;
        if (tokens[i]?.type === 'comma') i++;
        else break;
      }
      if (tokens[i]?.type !== 'rparen') return undefined;
      i++;
    } else break;
  }
  const next = tokens[i];
  if (next !== undefined && next.type !== 'comma' && !(next.type === 'word' && next.text === 'where')) return undefined;
  return i;
}
