import { NON_CALL_KEYWORDS } from './builtin-functions.js';
import type { Token } from './lexer.js';

/**
 * Reading the parts of one statement from its tokens: calls and their names, CTE names, table names. The
 * classifier asks these; none of them decides a verdict.
 */

/** What the scan of a statement collects besides its verdict. */
export interface Collected {
  tables: Set<string>;
  functions: Set<string>;
  cteNames: Set<string>;
}

const FROM_LIST_END = new Set([
  'where',
  'group',
  'having',
  'order',
  'limit',
  'offset',
  'fetch',
  'window',
  'union',
  'intersect',
  'except',
  'on',
  'returning',
  'set',
  'values',
  'for',
  'into',
  'select',
]);
// `USING` introduces tables in DELETE … USING and MERGE … USING; after JOIN it is followed by `(`, which ends it.
const TABLE_INTRODUCERS = new Set(['from', 'join', 'into', 'update', 'table', 'truncate', 'copy', 'using']);
const LIST_INTRODUCERS = new Set(['from', 'using']);

export function matchingParen(tokens: readonly Token[], open: number, to: number): number {
  let depth = 0;
  for (let i = open; i < to; i++) {
    const type = tokens[i]!.type;
    if (type === 'lparen') depth++;
    else if (type === 'rparen' && --depth === 0) return i;
  }
  return -1;
}

/**
 * Whether the name at token `i`, followed by `(`, is a function call. Not a call: keywords (`IN (`, `OVER (`),
 * type modifiers (`::numeric(10,2)`, `AS varchar(20)`), column lists of aliases (`) v(a, b)`, `AS g(n)`) and of
 * CTEs (`WITH t(a, b) AS (`).
 */
export function isCall(tokens: readonly Token[], i: number, from: number, to: number): boolean {
  const token = tokens[i]!;
  const previous = tokens[i - 1];
  if (previous?.type === 'cast' || previous?.type === 'rparen') return false;
  if (previous?.type === 'dot') return true;
  if (previous?.type === 'word' && previous.text === 'as') return false;
  if (token.type === 'word' && NON_CALL_KEYWORDS.has(token.text)) return false;
  const close = matchingParen(tokens, i + 1, to);
  const after = close < 0 ? undefined : tokens[close + 1];
  if (after?.type === 'word' && after.text === 'as' && tokens[from]?.text === 'with') return false;
  return true;
}

/** The name of the function called at token `i`, with its schema when written (`pg_catalog.nextval`). */
export function qualifiedName(tokens: readonly Token[], i: number): string {
  const nameOf = (token: Token): string => (token.type === 'qident' ? `"${token.text}"` : token.text);
  let name = nameOf(tokens[i]!);
  let j = i;
  while (tokens[j - 1]?.type === 'dot' && (tokens[j - 2]?.type === 'word' || tokens[j - 2]?.type === 'qident')) {
    name = `${nameOf(tokens[j - 2]!)}.${name}`;
    j -= 2;
  }
  return name;
}

/** CTE names: `WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (…), name2 AS (…)` at the statement's depth 0. */
export function collectCteNames(tokens: readonly Token[], from: number, to: number, collected: Collected): void {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const token = tokens[i]!;
    if (token.type === 'lparen') depth++;
    else if (token.type === 'rparen') depth--;
    else if (
      depth === 0 &&
      (token.type === 'word' || token.type === 'qident') &&
      tokens[i + 1]?.type === 'word' &&
      tokens[i + 1]!.text === 'as'
    ) {
      const previous = tokens[i - 1];
      if (
        previous === undefined ||
        previous.type === 'comma' ||
        previous.text === 'with' ||
        previous.text === 'recursive'
      ) {
        collected.cteNames.add(token.type === 'qident' ? `"${token.text}"` : token.text);
      }
    }
    // `name (a, b) AS (` — the name precedes a parenthesised column list.
    if (depth === 0 && token.type === 'rparen' && tokens[i + 1]?.text === 'as') {
      const open = findOpen(tokens, i, from);
      const name = tokens[open - 1];
      if (name !== undefined && (name.type === 'word' || name.type === 'qident'))
        collected.cteNames.add(name.type === 'qident' ? `"${name.text}"` : name.text);
    }
  }
}

function findOpen(tokens: readonly Token[], close: number, from: number): number {
  let depth = 0;
  for (let i = close; i >= from; i--) {
    const type = tokens[i]!.type;
    if (type === 'rparen') depth++;
    else if (type === 'lparen' && --depth === 0) return i;
  }
  return from;
}

/** Table names after FROM / JOIN / INTO / UPDATE / TABLE / TRUNCATE / COPY, and the rest of a comma-separated FROM list. */
export function collectTables(tokens: readonly Token[], from: number, to: number, collected: Collected): void {
  let expect = false;
  let listDepth = -1;
  let depth = 0;
  // For each open parenthesis, whether it opened a call: `FROM` inside `extract(epoch FROM x)` names no table.
  const callParens: boolean[] = [];
  for (let i = Math.max(from, 0); i < to; i++) {
    const token = tokens[i]!;
    if (token.type === 'lparen') {
      const before = tokens[i - 1];
      callParens.push(
        before !== undefined &&
          (before.type === 'word' || before.type === 'qident') &&
          !NON_CALL_KEYWORDS.has(before.text),
      );
      depth++;
      expect = false;
      continue;
    }
    if (token.type === 'rparen') {
      callParens.pop();
      depth--;
      if (depth < listDepth) listDepth = -1;
      continue;
    }
    if (token.type === 'comma') {
      if (depth === listDepth) expect = true;
      continue;
    }
    if (token.type === 'word' && tokens[i - 1]?.type !== 'dot') {
      const word = token.text;
      if (
        TABLE_INTRODUCERS.has(word) &&
        !(word === 'update' && tokens[i - 1]?.text === 'for') &&
        !(word === 'from' && callParens[callParens.length - 1] === true)
      ) {
        expect = true;
        listDepth = LIST_INTRODUCERS.has(word) ? depth : -1;
        continue;
      }
      if (expect && (word === 'only' || word === 'lateral' || word === 'table')) continue;
      // `FROM ROWS FROM (f(), g())` calls functions; `rows` is no table there.
      if (expect && word === 'rows' && tokens[i + 1]?.type === 'word' && tokens[i + 1]!.text === 'from') {
        expect = false;
        continue;
      }
      if (FROM_LIST_END.has(word) || word === 'join') {
        if (depth === listDepth) listDepth = -1;
        expect = false;
        continue;
      }
    }
    if (expect && (token.type === 'word' || token.type === 'qident')) {
      expect = false;
      let name = token.type === 'qident' ? `"${token.text}"` : token.text;
      let j = i;
      while (tokens[j + 1]?.type === 'dot' && (tokens[j + 2]?.type === 'word' || tokens[j + 2]?.type === 'qident')) {
        const part = tokens[j + 2]!;
        name += `.${part.type === 'qident' ? `"${part.text}"` : part.text}`;
        j += 2;
      }
      // A name followed by `(` after FROM is a set-returning function, not a table.
      if (tokens[j + 1]?.type !== 'lparen' || tokens[i - 1]?.text === 'into') collected.tables.add(name);
      i = j;
      continue;
    }
    expect = false;
  }
}
