import { prepareValue } from '../pool/index.js';
import type { CopyInsert, PipelineStatement } from './pipeline-backend.js';

/**
 * Rows of single-row INSERTs in `COPY … FROM STDIN`'s text format, each value exactly as the INSERT would have
 * sent it. pg sends a parameter as text made by its `prepareValue` (numbers, booleans, dates, arrays, JSON,
 * `toPostgres`), and PostgreSQL reads both that parameter and a COPY text field through the column type's input
 * function, so the stored value is the same; only COPY's own escapes are added (backslash, tab, newline and
 * carriage return, which would otherwise end a field or a row) and NULL is `\N`. A Buffer is the exception: pg
 * sends it as a binary parameter, which equals reading its hex text (`\x…`) only for a `bytea` column.
 */

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;

function escaped(text: string): string {
  return SPECIAL.test(text) ? text.replace(SPECIALS, (c) => ESCAPES[c]!) : text;
}

/** One value as a COPY text field, or `undefined` when COPY cannot store exactly what the INSERT would. */
function field(value: unknown, bytea: boolean): string | undefined {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'string') return escaped(value);
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  const sent = prepareValue(value);
  if (sent === null) return '\\N';
  if (typeof sent === 'string') return escaped(sent);
  // A binary parameter: bytea's binary input takes the bytes as they are, its text input their hex form.
  if (bytea && Buffer.isBuffer(sent)) return `\\\\x${sent.toString('hex')}`;
  return undefined;
}

/**
 * The rows of `statements[from..to)`, all of one template whose row is its parameters `columnParams` (1-based, one
 * per column of `form`), as COPY text data; `undefined` when one of them cannot go through COPY exactly (a Buffer
 * for a column other than `bytea`, or a statement with another number of values than the template has parameters,
 * which the INSERT would refuse). Throws what pg's `prepareValue` throws (values reaching here were converted
 * once already, so it does not).
 */
export function copyTextRows(
  statements: readonly PipelineStatement[],
  from: number,
  to: number,
  columnParams: readonly number[],
  form: CopyInsert,
): Buffer | undefined {
  const last = columnParams.length - 1;
  let text = '';
  for (let k = from; k < to; k++) {
    const values = statements[k]!.values;
    if (values === undefined || values.length !== columnParams.length) return undefined;
    for (let j = 0; j <= last; j++) {
      const value = field(values[columnParams[j]! - 1], form.bytea[j] === true);
      if (value === undefined) return undefined;
      // Two appends, not a template: ~20 % less time per row, the string being a rope until Buffer.from flattens it.
      text += value;
      text += j === last ? '\n' : '\t';
    }
  }
  return Buffer.from(text, 'utf8');
}
