import { nodeLocalView } from './node-local-views.js';
import { hasSideEffects, isKnownReadOnlyBuiltin } from './builtin-functions.js';
import type { Classification, Route, StatementKind } from './classification.js';
import { fingerprintOf, stableHash } from './fingerprint.js';
import { inspectWithParser } from './ast.js';
import { lexSql, type Token } from './lexer.js';
import {
  collectCteNames,
  collectTables,
  isCall,
  matchingParen,
  qualifiedName,
  type Collected,
} from './statement-parts.js';

/** The verdict on one statement. */
interface StatementVerdict {
  kind: StatementKind;
  reason: string;
}

const FIRST_WORD_KIND: Readonly<Record<string, StatementKind>> = {
  insert: 'write',
  update: 'write',
  delete: 'write',
  merge: 'write',
  truncate: 'write',
  create: 'ddl',
  alter: 'ddl',
  drop: 'ddl',
  comment: 'ddl',
  grant: 'ddl',
  revoke: 'ddl',
  security: 'ddl',
  refresh: 'ddl',
  reindex: 'ddl',
  cluster: 'ddl',
  import: 'ddl',
  reassign: 'ddl',
  begin: 'transaction',
  start: 'transaction',
  commit: 'transaction',
  end: 'transaction',
  rollback: 'transaction',
  abort: 'transaction',
  savepoint: 'transaction',
  release: 'transaction',
  set: 'session',
  reset: 'session',
  show: 'session',
  discard: 'session',
  listen: 'session',
  unlisten: 'session',
  notify: 'session',
  prepare: 'session',
  execute: 'session',
  deallocate: 'session',
  declare: 'session',
  fetch: 'session',
  move: 'session',
  close: 'session',
  load: 'session',
  vacuum: 'utility',
  analyze: 'utility',
  analyse: 'utility',
  checkpoint: 'utility',
  lock: 'utility',
  do: 'utility',
  call: 'utility',
};

const READ_STARTS = new Set(['select', 'values', 'table', 'with']);
const DML_WORDS = new Set(['insert', 'update', 'delete', 'merge']);
const LOCK_STRENGTH_WORDS = new Set(['update', 'share', 'no', 'key']);
const EXPLAIN_OPTION_WORDS = new Set(['analyze', 'analyse', 'verbose']);
// Words after which the next name in a FROM list is not a table.
// A query cannot end with one of these reserved words: the text was cut short.
const INCOMPLETE_ENDINGS = new Set([
  'from',
  'where',
  'join',
  'and',
  'or',
  'not',
  'by',
  'as',
  'in',
  'into',
  'with',
  'union',
  'intersect',
  'except',
  'having',
  'limit',
  'offset',
  'using',
  'when',
  'then',
  'else',
  'case',
  'between',
  'like',
  'ilike',
  'is',
  'distinct',
  'returning',
  'table',
  'select',
  'order',
  'group',
]);

/**
 * Classifies one SQL string by DESIGN.md's routing rules: it goes to a replica only when it is provably a read.
 *
 * A lexical pass decides nearly every statement in microseconds; the few it cannot decide (a DML keyword in a
 * place only a grammar can interpret) go to node-sql-parser, and what neither can read goes to the primary.
 * Never throws for a string.
 *
 * @example
 * classifyQuery('SELECT * FROM users WHERE id = $1').route;       // 'replica'
 * classifyQuery('SELECT * FROM jobs FOR UPDATE SKIP LOCKED').route; // 'primary' (locking clause)
 */
export function classifyQuery(sql: string): Classification {
  if (typeof sql !== 'string') {
    return freeze('primary', 'unknown', 'not a string', '', [], [], 0, 0);
  }
  const lexed = lexSql(sql);
  if (!lexed.ok) {
    return freeze('primary', 'unknown', `cannot be read: ${lexed.error}`, '', [], [], 0, 0, sql);
  }
  const tokens = lexed.tokens;
  const ranges = splitStatements(tokens);
  const fingerprint = fingerprintOf(tokens, ranges);
  let paramCount = 0;
  for (const token of tokens) {
    if (token.type === 'param') {
      const index = Number(token.text.slice(1));
      if (index > paramCount) paramCount = index;
    }
  }
  if (ranges.length === 0) {
    return freeze('primary', 'empty', 'empty statement', fingerprint, [], [], 0, paramCount);
  }
  const collected: Collected = { tables: new Set(), functions: new Set(), cteNames: new Set() };
  let verdict: StatementVerdict | undefined;
  for (const [from, to] of ranges) {
    const one = classifyStatement(sql, tokens, from, to, collected);
    if (verdict === undefined || (verdict.kind === 'read' && one.kind !== 'read')) verdict = one;
  }
  const final = verdict!;
  for (const name of collected.cteNames) collected.tables.delete(name);
  // DESIGN.md: a replica gets ONE statement that is provably a read; a multi-statement string never does.
  const local = final.kind === 'read' ? nodeLocalView(collected.tables) : undefined;
  const route: Route = final.kind === 'read' && ranges.length === 1 && local === undefined ? 'replica' : 'primary';
  const reason =
    local !== undefined
      ? `reads ${local}, which describes the server that runs it (the primary; force route: 'replica' for a replica's)`
      : ranges.length === 1
        ? final.reason
        : final.kind === 'read'
          ? `${ranges.length} statements (only a single read may go to a replica)`
          : `multi-statement string: ${final.reason}`;
  return freeze(
    route,
    final.kind,
    reason,
    fingerprint,
    [...collected.tables],
    [...collected.functions],
    ranges.length,
    paramCount,
  );
}

function freeze(
  route: Route,
  kind: StatementKind,
  reason: string,
  fingerprint: string,
  tables: string[],
  functions: string[],
  statementCount: number,
  paramCount: number,
  unreadable?: string,
): Classification {
  // Unreadable text has no token shape; its hash still tells distinct texts apart without revealing them.
  const hashed = unreadable === undefined ? fingerprint : `unreadable:${unreadable}`;
  return Object.freeze({
    route,
    kind,
    reason,
    fingerprint,
    fingerprintHash: stableHash(hashed),
    tables: Object.freeze(tables),
    functions: Object.freeze(functions),
    statementCount,
    paramCount,
    cached: false,
  });
}

/** Top-level statements as `[from, to)` token ranges; empty statements are dropped. */
function splitStatements(tokens: readonly Token[]): [number, number][] {
  const ranges: [number, number][] = [];
  let from = 0;
  for (let i = 0; i <= tokens.length; i++) {
    if (i === tokens.length || tokens[i]!.type === 'semicolon') {
      if (i > from) ranges.push([from, i]);
      from = i + 1;
    }
  }
  return ranges;
}

function classifyStatement(
  sql: string,
  tokens: readonly Token[],
  from: number,
  to: number,
  collected: Collected,
): StatementVerdict {
  let first = from;
  while (first < to && tokens[first]!.type === 'lparen') first++;
  const head = tokens[first];
  if (head === undefined || head.type !== 'word') {
    return {
      kind: 'unknown',
      reason: `unrecognised statement starting with ${head === undefined ? 'parentheses' : JSON.stringify(head.text.slice(0, 20))}`,
    };
  }
  const word = head.text;
  if (READ_STARTS.has(word)) {
    const incomplete = incompleteReason(tokens, from, to);
    if (incomplete !== undefined) {
      collectTables(tokens, from, to, collected);
      return { kind: 'unknown', reason: incomplete };
    }
    return scanRead(sql, tokens, from, to, collected);
  }
  if (word === 'explain') return classifyExplain(sql, tokens, first + 1, to, collected);
  if (word === 'copy') return classifyCopy(sql, tokens, first + 1, to, collected);
  const kind = FIRST_WORD_KIND[word];
  collectTables(tokens, from, to, collected);
  if (kind === undefined) return { kind: 'unknown', reason: `unrecognised statement ${word.toUpperCase()}` };
  if (word === 'prepare' && tokens[first + 1]?.text === 'transaction')
    return { kind: 'transaction', reason: 'PREPARE TRANSACTION' };
  return {
    kind,
    reason: `${word.toUpperCase()} is ${kind === 'write' ? 'a write' : kind === 'ddl' ? 'DDL' : kind === 'transaction' ? 'transaction control' : kind === 'session' ? 'session state' : 'a utility command'}`,
  };
}

/**
 * Why a statement's text is certainly incomplete (unbalanced parentheses or brackets, or an ending such as
 * `FROM`, `AND` or a comma), or `undefined`. Such text is not provably a read, whatever it starts with.
 */
function incompleteReason(tokens: readonly Token[], from: number, to: number): string | undefined {
  let parens = 0;
  let brackets = 0;
  for (let i = from; i < to; i++) {
    const type = tokens[i]!.type;
    if (type === 'lparen') parens++;
    else if (type === 'rparen' && --parens < 0) return 'unbalanced parentheses';
    else if (type === 'lbracket') brackets++;
    else if (type === 'rbracket' && --brackets < 0) return 'unbalanced brackets';
  }
  if (parens !== 0) return 'unbalanced parentheses';
  if (brackets !== 0) return 'unbalanced brackets';
  const last = tokens[to - 1]!;
  if (last.type === 'comma' || last.type === 'dot' || last.type === 'cast' || (last.type === 'op' && last.text !== '*'))
    return 'statement ends mid-expression';
  if (last.type === 'word' && INCOMPLETE_ENDINGS.has(last.text) && to - from > 1)
    return `statement ends with ${last.text.toUpperCase()}`;
  return undefined;
}

function classifyExplain(
  sql: string,
  tokens: readonly Token[],
  from: number,
  to: number,
  collected: Collected,
): StatementVerdict {
  let i = from;
  let analyze = false;
  if (tokens[i]?.type === 'lparen') {
    let depth = 0;
    for (; i < to; i++) {
      const token = tokens[i]!;
      if (token.type === 'lparen') depth++;
      else if (token.type === 'rparen' && --depth === 0) {
        i++;
        break;
      } else if (token.type === 'word' && (token.text === 'analyze' || token.text === 'analyse')) {
        const value = tokens[i + 1];
        analyze = !(value?.type === 'word' && (value.text === 'false' || value.text === 'off')) && value?.text !== '0';
      }
    }
  } else {
    while (i < to && tokens[i]!.type === 'word' && EXPLAIN_OPTION_WORDS.has(tokens[i]!.text)) {
      if (tokens[i]!.text !== 'verbose') analyze = true;
      i++;
    }
  }
  if (i >= to) return { kind: 'unknown', reason: 'EXPLAIN without a statement' };
  const inner = classifyStatement(sql, tokens, i, to, collected);
  if (inner.kind === 'read')
    return { kind: 'read', reason: `read-only EXPLAIN${analyze ? ' ANALYZE' : ''} of ${inner.reason}` };
  if (analyze)
    return {
      kind: inner.kind === 'unknown' ? 'unknown' : 'write',
      reason: `EXPLAIN ANALYZE executes: ${inner.reason}`,
    };
  return {
    kind: inner.kind === 'unknown' ? 'unknown' : 'utility',
    reason: `EXPLAIN of a statement that is not a read (${inner.reason})`,
  };
}

function classifyCopy(
  sql: string,
  tokens: readonly Token[],
  from: number,
  to: number,
  collected: Collected,
): StatementVerdict {
  let direction: 'from' | 'to' | undefined;
  let program = false;
  let i = from;
  if (tokens[i]?.type === 'lparen') {
    const close = matchingParen(tokens, i, to);
    if (close < 0) return { kind: 'unknown', reason: 'COPY with unbalanced parentheses' };
    const inner = classifyStatement(sql, tokens, i + 1, close, collected);
    if (inner.kind !== 'read')
      return {
        kind: inner.kind === 'unknown' ? 'unknown' : 'write',
        reason: `COPY of a query that is not a read (${inner.reason})`,
      };
    i = close + 1;
  } else {
    // Only the name right after COPY is a table; `FROM STDIN` / `TO 'file'` are not.
    collectTables(tokens, from - 1, Math.min(to, tokens[from + 1]?.type === 'dot' ? from + 3 : from + 1), collected);
  }
  let depth = 0;
  for (; i < to; i++) {
    const token = tokens[i]!;
    if (token.type === 'lparen') depth++;
    else if (token.type === 'rparen') depth--;
    else if (depth === 0 && token.type === 'word') {
      if (direction === undefined && (token.text === 'from' || token.text === 'to')) direction = token.text;
      else if (token.text === 'program') program = true;
    }
  }
  if (direction === 'to' && !program) return { kind: 'read', reason: 'COPY … TO reads' };
  if (direction === 'to') return { kind: 'utility', reason: 'COPY … TO PROGRAM runs a program on the server' };
  return {
    kind: direction === 'from' ? 'write' : 'unknown',
    reason: direction === 'from' ? 'COPY … FROM writes' : 'COPY without FROM or TO',
  };
}

/**
 * The lexical pass over a SELECT / VALUES / TABLE / WITH statement. Definite writes (writable CTEs, locking
 * clauses, SELECT INTO, side-effect calls) are decided here; a DML keyword in a place the lexer cannot
 * interpret is handed to the parser.
 */
function scanRead(
  sql: string,
  tokens: readonly Token[],
  from: number,
  to: number,
  collected: Collected,
): StatementVerdict {
  // `(WITH …)`: the CTE list sits inside the leading parentheses.
  let base = 0;
  while (tokens[from + base]?.type === 'lparen') base++;
  const startsWithWith = tokens[from + base]?.type === 'word' && tokens[from + base]!.text === 'with';
  if (startsWithWith) collectCteNames(tokens, from + base, to, collected);
  collectTables(tokens, from, to, collected);
  let depth = 0;
  let unsure: string | undefined;
  let sideEffect: string | undefined;
  for (let i = from; i < to; i++) {
    const token = tokens[i]!;
    if (token.type === 'lparen') {
      depth++;
      continue;
    }
    if (token.type === 'rparen') {
      depth--;
      continue;
    }
    if (token.type !== 'word' && token.type !== 'qident') continue;
    const previous = tokens[i - 1];
    const next = tokens[i + 1];
    const qualified = previous?.type === 'dot' || next?.type === 'dot';
    if (token.type === 'word' && !qualified && previous?.type !== 'cast') {
      const word = token.text;
      if (DML_WORDS.has(word)) {
        // `( INSERT …` can only be a data-modifying CTE body; a DML keyword at depth 0 of WITH is its main statement.
        if (previous?.type === 'lparen' || previous?.text === 'materialized') {
          return { kind: 'write', reason: `writable CTE (${word.toUpperCase()} inside WITH)` };
        }
        if (startsWithWith && depth === base)
          return { kind: 'write', reason: `WITH … ${word.toUpperCase()} is a write` };
        unsure ??= `${word.toUpperCase()} keyword inside a read`;
        continue;
      }
      if (word === 'for' && next?.type === 'word' && LOCK_STRENGTH_WORDS.has(next.text)) {
        const strength =
          next.text === 'no' ? 'NO KEY UPDATE' : next.text === 'key' ? 'KEY SHARE' : next.text.toUpperCase();
        return { kind: 'write', reason: `locking clause FOR ${strength}` };
      }
      if (word === 'into') return { kind: 'write', reason: 'SELECT … INTO creates a table' };
    }
    if (next?.type === 'lparen' && isCall(tokens, i, from, to)) {
      const name = qualifiedName(tokens, i);
      if (hasSideEffects(name)) {
        sideEffect ??= `calls ${name}(), which has side effects`;
      } else if (!isKnownReadOnlyBuiltin(name)) {
        collected.functions.add(name);
      }
    }
  }
  if (sideEffect !== undefined) return { kind: 'write', reason: sideEffect };
  if (unsure !== undefined) {
    const ast = inspectWithParser(sql.slice(tokens[from]!.start, tokens[to - 1]!.end));
    if (ast.kind === 'unreadable') return { kind: 'unknown', reason: `${unsure}, and the parser cannot read it` };
    if (ast.kind === 'write') return { kind: 'write', reason: ast.reason };
    for (const name of ast.functions) {
      if (hasSideEffects(name)) return { kind: 'write', reason: `calls ${name}(), which has side effects` };
    }
    return { kind: 'read', reason: 'read-only query (confirmed by the parser)' };
  }
  return { kind: 'read', reason: readReason(tokens[from]!.text) };
}

function readReason(first: string): string {
  if (first === 'with') return 'read-only query with CTEs';
  if (first === 'values') return 'VALUES list';
  if (first === 'table') return 'TABLE read';
  return 'read-only SELECT';
}
