import { createHash } from 'node:crypto';
import type { Token } from './lexer.js';

const NO_SPACE_BEFORE = new Set<Token['type']>(['comma', 'rparen', 'dot', 'cast', 'lbracket', 'rbracket']);
const NO_SPACE_AFTER = new Set<Token['type']>(['lparen', 'dot', 'cast', 'lbracket']);
const LITERAL = '?';
const LITERAL_LIST = '?, ...';

/**
 * Appends the shape of one statement's tokens to `parts`: literals become `?`, a comma-separated run of
 * literals becomes `?, ...` (so `IN (1, 2, 3)` and `IN (4, 5)` share a shape), words are already lower-cased,
 * quoted identifiers keep their quotes, `$n` parameters stay.
 */
function appendShape(tokens: readonly Token[], from: number, to: number, out: string[]): void {
  let previous: Token['type'] | undefined;
  for (let i = from; i < to; i++) {
    const token = tokens[i]!;
    let text: string;
    if (token.type === 'string' || token.type === 'number') {
      const last = out.length - 1;
      if (out[last] === ',' && (out[last - 1] === LITERAL || out[last - 1] === LITERAL_LIST)) {
        out.pop();
        out[last - 1] = LITERAL_LIST;
        previous = token.type;
        continue;
      }
      text = LITERAL;
    } else if (token.type === 'qident') {
      text = `"${token.text.replaceAll('"', '""')}"`;
    } else {
      text = token.text;
    }
    if (previous !== undefined && !NO_SPACE_BEFORE.has(token.type) && !NO_SPACE_AFTER.has(previous)) out.push(' ');
    out.push(text);
    previous = token.type;
  }
}

/** The fingerprint text of a list of statements given as `[from, to)` token ranges. */
export function fingerprintOf(tokens: readonly Token[], ranges: readonly (readonly [number, number])[]): string {
  const out: string[] = [];
  for (let r = 0; r < ranges.length; r++) {
    if (r > 0) out.push('; ');
    const [from, to] = ranges[r]!;
    appendShape(tokens, from, to, out);
  }
  return out.join('');
}

/** A stable 16-hex-digit hash (the first 64 bits of SHA-256), the same in every process and version of Node. */
export function stableHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
