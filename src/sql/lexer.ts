/**
 * A PostgreSQL lexer, just deep enough to route statements safely.
 *
 * It knows what PostgreSQL's own scanner knows about where words can hide: `--` and nested `/* *\/` comments,
 * standard strings with doubled quotes, `E'…'` strings with backslash escapes, `B'…'`, `X'…'`, `N'…'` and
 * `U&'…'` strings, dollar-quoted bodies (`$$…$$`, `$tag$…$tag$`), quoted identifiers (`"…"`, `U&"…"`),
 * `$n` parameters and top-level semicolons. Keywords come out lower-cased; literals are never interpreted.
 */

/** Token kinds. `word` covers keywords and unquoted identifiers (lower-cased). */
export type TokenType =
  | 'word'
  | 'qident'
  | 'string'
  | 'number'
  | 'param'
  | 'lparen'
  | 'rparen'
  | 'lbracket'
  | 'rbracket'
  | 'comma'
  | 'semicolon'
  | 'dot'
  | 'cast'
  | 'op';

/** One token. `text` is lower-cased for words, the name between the quotes for quoted identifiers, the source otherwise. */
export interface Token {
  readonly type: TokenType;
  readonly text: string;
  /** Offset of the token's first character in the source. */
  readonly start: number;
  /** Offset just past the token's last character. */
  readonly end: number;
}

/** The outcome of lexing: the tokens, or the reason the text cannot be read. */
export type LexResult =
  { readonly ok: true; readonly tokens: Token[] } | { readonly ok: false; readonly error: string };

const CH_TAB = 9;
const CH_LF = 10;
const CH_VT = 11;
const CH_FF = 12;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_DQUOTE = 34;
const CH_DOLLAR = 36;
const CH_AMP = 38;
const CH_SQUOTE = 39;
const CH_LPAREN = 40;
const CH_RPAREN = 41;
const CH_STAR = 42;
const CH_COMMA = 44;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_SLASH = 47;
const CH_0 = 48;
const CH_9 = 57;
const CH_COLON = 58;
const CH_SEMI = 59;
const CH_LBRACKET = 91;
const CH_BACKSLASH = 92;
const CH_RBRACKET = 93;
const CH_UNDERSCORE = 95;

const isDigit = (c: number): boolean => c >= CH_0 && c <= CH_9;
// PostgreSQL treats every byte ≥ 0x80 as an identifier character, so any non-ASCII code unit does too here.
const isIdentStart = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === CH_UNDERSCORE || c >= 128;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c) || c === CH_DOLLAR;
const isSpace = (c: number): boolean =>
  c === CH_SPACE || c === CH_TAB || c === CH_LF || c === CH_CR || c === CH_FF || c === CH_VT;
// The characters PostgreSQL allows in operators.
const isOpChar = (c: number): boolean => '+-*/<>=~!@#%^&|`?'.includes(String.fromCharCode(c));

/**
 * Splits SQL into tokens, skipping whitespace and comments.
 *
 * Never throws: text that PostgreSQL itself could not scan (an unterminated string, comment, quoted
 * identifier or dollar quote) gives `{ ok: false, error }`.
 */
export function lexSql(sql: string): LexResult {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    // Comments.
    if (c === CH_MINUS && sql.charCodeAt(i + 1) === CH_MINUS) {
      // PostgreSQL ends a line comment at either newline character.
      let j = i + 2;
      while (j < n && sql.charCodeAt(j) !== CH_LF && sql.charCodeAt(j) !== CH_CR) j++;
      i = j;
      continue;
    }
    if (c === CH_SLASH && sql.charCodeAt(i + 1) === CH_STAR) {
      const end = skipBlockComment(sql, i);
      if (end < 0) return { ok: false, error: 'unterminated /* comment' };
      i = end;
      continue;
    }
    // Strings with a prefix: E'…', B'…', X'…', N'…', U&'…' and U&"…".
    if (isIdentStart(c)) {
      const next = sql.charCodeAt(i + 1);
      if (next === CH_SQUOTE && i + 1 < n) {
        const lower = c | 0x20;
        if (lower === 101 /* e */) {
          const end = skipQuoted(sql, i + 2, CH_SQUOTE, true);
          if (end < 0) return { ok: false, error: 'unterminated string literal' };
          tokens.push({ type: 'string', text: sql.slice(start, end), start, end });
          i = end;
          continue;
        }
        if (lower === 98 /* b */ || lower === 120 /* x */ || lower === 110 /* n */) {
          const end = skipQuoted(sql, i + 2, CH_SQUOTE, false);
          if (end < 0) return { ok: false, error: 'unterminated string literal' };
          tokens.push({ type: 'string', text: sql.slice(start, end), start, end });
          i = end;
          continue;
        }
      }
      if ((c | 0x20) === 117 /* u */ && next === CH_AMP) {
        const quote = sql.charCodeAt(i + 2);
        if (quote === CH_SQUOTE || quote === CH_DQUOTE) {
          const end = skipQuoted(sql, i + 3, quote, false);
          if (end < 0)
            return {
              ok: false,
              error: quote === CH_SQUOTE ? 'unterminated string literal' : 'unterminated quoted identifier',
            };
          if (quote === CH_SQUOTE) {
            tokens.push({ type: 'string', text: sql.slice(start, end), start, end });
            i = end;
            continue;
          }
          // A Unicode identifier names what its escapes spell: U&"\006Eextval" IS nextval.
          const clause = uescapeClause(sql, end);
          const name = decodeUnicodeEscapes(sql.slice(i + 3, end - 1).replaceAll('""', '"'), clause?.escape ?? '\\');
          if (name === undefined) return { ok: false, error: 'invalid Unicode escape in a U&"…" identifier' };
          const tokenEnd = clause?.end ?? end;
          tokens.push({ type: 'qident', text: name, start, end: tokenEnd });
          i = tokenEnd;
          continue;
        }
      }
      let j = i + 1;
      while (j < n && isIdentPart(sql.charCodeAt(j))) j++;
      tokens.push({ type: 'word', text: sql.slice(i, j).toLowerCase(), start, end: j });
      i = j;
      continue;
    }
    if (c === CH_SQUOTE) {
      const end = skipQuoted(sql, i + 1, CH_SQUOTE, false);
      if (end < 0) return { ok: false, error: 'unterminated string literal' };
      tokens.push({ type: 'string', text: sql.slice(start, end), start, end });
      i = end;
      continue;
    }
    if (c === CH_DQUOTE) {
      const end = skipQuoted(sql, i + 1, CH_DQUOTE, false);
      if (end < 0) return { ok: false, error: 'unterminated quoted identifier' };
      tokens.push({ type: 'qident', text: sql.slice(i + 1, end - 1).replaceAll('""', '"'), start, end });
      i = end;
      continue;
    }
    if (c === CH_DOLLAR) {
      const next = sql.charCodeAt(i + 1);
      if (isDigit(next)) {
        let j = i + 1;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        tokens.push({ type: 'param', text: sql.slice(i, j), start, end: j });
        i = j;
        continue;
      }
      // A dollar quote opens with $$ or $tag$, where tag is an identifier without `$`.
      let j = i + 1;
      if (j < n && isIdentStart(sql.charCodeAt(j))) {
        j++;
        while (j < n && isIdentPart(sql.charCodeAt(j)) && sql.charCodeAt(j) !== CH_DOLLAR) j++;
      }
      if (sql.charCodeAt(j) === CH_DOLLAR) {
        const delimiter = sql.slice(i, j + 1);
        const close = sql.indexOf(delimiter, j + 1);
        if (close < 0) return { ok: false, error: 'unterminated dollar-quoted string' };
        const end = close + delimiter.length;
        tokens.push({ type: 'string', text: sql.slice(start, end), start, end });
        i = end;
        continue;
      }
      tokens.push({ type: 'op', text: '$', start, end: i + 1 });
      i++;
      continue;
    }
    if (isDigit(c) || (c === CH_DOT && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (isDigit(d) || d === CH_UNDERSCORE || (d === CH_DOT && sql.charCodeAt(j + 1) !== CH_DOT)) j++;
        else if (
          (d | 0x20) === 101 /* e */ &&
          (isDigit(sql.charCodeAt(j + 1)) ||
            ((sql.charCodeAt(j + 1) === 43 || sql.charCodeAt(j + 1) === CH_MINUS) && isDigit(sql.charCodeAt(j + 2))))
        )
          j += 2;
        else if (isIdentStart(d))
          j++; // hexadecimal / octal / binary integers (0x1F) and trailing junk stay one token
        else break;
      }
      tokens.push({ type: 'number', text: sql.slice(i, j), start, end: j });
      i = j;
      continue;
    }
    switch (c) {
      case CH_LPAREN:
        tokens.push({ type: 'lparen', text: '(', start, end: i + 1 });
        i++;
        continue;
      case CH_RPAREN:
        tokens.push({ type: 'rparen', text: ')', start, end: i + 1 });
        i++;
        continue;
      case CH_LBRACKET:
        tokens.push({ type: 'lbracket', text: '[', start, end: i + 1 });
        i++;
        continue;
      case CH_RBRACKET:
        tokens.push({ type: 'rbracket', text: ']', start, end: i + 1 });
        i++;
        continue;
      case CH_COMMA:
        tokens.push({ type: 'comma', text: ',', start, end: i + 1 });
        i++;
        continue;
      case CH_SEMI:
        tokens.push({ type: 'semicolon', text: ';', start, end: i + 1 });
        i++;
        continue;
      case CH_DOT:
        tokens.push({ type: 'dot', text: '.', start, end: i + 1 });
        i++;
        continue;
      case CH_COLON:
        if (sql.charCodeAt(i + 1) === CH_COLON) {
          tokens.push({ type: 'cast', text: '::', start, end: i + 2 });
          i += 2;
        } else {
          tokens.push({ type: 'op', text: ':', start, end: i + 1 });
          i++;
        }
        continue;
      default:
        break;
    }
    if (isOpChar(c)) {
      let j = i + 1;
      // An operator never contains the start of a comment.
      while (j < n && isOpChar(sql.charCodeAt(j))) {
        const d = sql.charCodeAt(j);
        const e = sql.charCodeAt(j + 1);
        if ((d === CH_MINUS && e === CH_MINUS) || (d === CH_SLASH && e === CH_STAR)) break;
        j++;
      }
      tokens.push({ type: 'op', text: sql.slice(i, j), start, end: j });
      i = j;
      continue;
    }
    // Anything else (a stray backslash, a NUL, a symbol PostgreSQL rejects) is kept as an operator so the
    // statement stays visible; the parser or the server will reject it.
    tokens.push({ type: 'op', text: String.fromCharCode(c), start, end: i + 1 });
    i++;
  }
  return { ok: true, tokens };
}

/** Skips whitespace and comments from `from`; returns the offset of the next token (or the end). */
function skipTrivia(sql: string, from: number): number {
  let i = from;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) i++;
    else if (c === CH_MINUS && sql.charCodeAt(i + 1) === CH_MINUS) {
      while (i < n && sql.charCodeAt(i) !== CH_LF && sql.charCodeAt(i) !== CH_CR) i++;
    } else if (c === CH_SLASH && sql.charCodeAt(i + 1) === CH_STAR) {
      const end = skipBlockComment(sql, i);
      if (end < 0) return n;
      i = end;
    } else break;
  }
  return i;
}

/** A `UESCAPE 'c'` clause starting at or after `from`: the escape character and the offset past the clause. */
function uescapeClause(sql: string, from: number): { escape: string; end: number } | undefined {
  const at = skipTrivia(sql, from);
  if (sql.slice(at, at + 7).toLowerCase() !== 'uescape' || isIdentPart(sql.charCodeAt(at + 7))) return undefined;
  const quote = skipTrivia(sql, at + 7);
  if (sql.charCodeAt(quote) !== CH_SQUOTE || sql.charCodeAt(quote + 2) !== CH_SQUOTE) return undefined;
  return { escape: sql.charAt(quote + 1), end: quote + 3 };
}

/**
 * Decodes the escapes of a U&"…" body: `<e>XXXX` and `<e>+XXXXXX` are code points, `<e><e>` is the escape
 * character itself. `undefined` for a malformed escape, which PostgreSQL rejects too.
 */
function decodeUnicodeEscapes(body: string, escape: string): string | undefined {
  if (!body.includes(escape)) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body.charAt(i);
    if (ch !== escape) {
      out += ch;
      continue;
    }
    if (body.charAt(i + 1) === escape) {
      out += escape;
      i++;
      continue;
    }
    const long = body.charAt(i + 1) === '+';
    const digits = long ? body.slice(i + 2, i + 8) : body.slice(i + 1, i + 5);
    if (!/^[0-9a-fA-F]+$/.test(digits) || digits.length !== (long ? 6 : 4)) return undefined;
    const code = Number.parseInt(digits, 16);
    if (code > 0x10ffff) return undefined;
    out += String.fromCodePoint(code);
    i += long ? 7 : 4;
  }
  return out;
}

/** Returns the offset just past the comment that starts at `from`, or -1. PostgreSQL's block comments nest. */
function skipBlockComment(sql: string, from: number): number {
  let depth = 0;
  let i = from;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === CH_SLASH && sql.charCodeAt(i + 1) === CH_STAR) {
      depth++;
      i += 2;
    } else if (c === CH_STAR && sql.charCodeAt(i + 1) === CH_SLASH) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * Returns the offset just past the closing quote of a quoted string whose body starts at `from`, or -1.
 * A doubled quote stands for itself; with `backslashEscapes` (E'…' strings) a backslash escapes the next character.
 */
function skipQuoted(sql: string, from: number, quote: number, backslashEscapes: boolean): number {
  const n = sql.length;
  let i = from;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (backslashEscapes && c === CH_BACKSLASH) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return -1;
}
