import type { QueryResult } from 'pg';
import type { BatchOutcome, BatchStatement } from '../pool/index.js';
import type { KeyedWriteForm, PipelineStatement } from './pipeline-backend.js';

/**
 * A statement's key as PostgreSQL receives it: pg sends `null`/`undefined` as NULL, a Buffer as its bytes and
 * anything else (the pipeline has already turned objects into text) as `String(value)`. `undefined` when a part is
 * NULL: `k = NULL` matches no row, so such a key can never meet another statement's row.
 */
function keyOf(values: readonly unknown[] | undefined, form: KeyedWriteForm): string | undefined {
  let key = '';
  for (const position of form.keyPositions) {
    const value = values?.[form.params[position]! - 1];
    if (value === null || value === undefined) return undefined;
    // NUL never occurs in a value PostgreSQL accepts, so it separates the parts unambiguously.
    key += Buffer.isBuffer(value) ? `\0b${value.toString('hex')}` : `\0s${String(value)}`;
  }
  return key;
}

/** Whether a statement's values can travel as elements of the form's arrays exactly as they travel alone. */
function fits(values: readonly unknown[] | undefined, form: KeyedWriteForm): boolean {
  // A statement with too few or too many values fails alone; merged, a missing one would become NULL.
  if ((values?.length ?? 0) !== form.params.length) return false;
  for (let j = 0; j < form.params.length; j++) {
    const value = values?.[form.params[j]! - 1];
    // A Buffer goes alone in binary, into an array as `\x…` text: the same only for bytea.
    if (Buffer.isBuffer(value) && !form.bytea[j]) return false;
  }
  return true;
}

/**
 * Where the run of statements starting at `from` that can be merged into one statement of `form` ends (exclusive):
 * consecutive statements with the same text, whose values fit the form, up to the first whose key an earlier one
 * of the run already used. A repeated key must see the earlier statement's effect, so it starts the next run.
 */
export function keyedRunEnd(statements: readonly PipelineStatement[], from: number, form: KeyedWriteForm): number {
  const first = statements[from]!;
  if (!fits(first.values, form)) return from + 1;
  const seen = new Set<string>();
  let end = from;
  while (end < statements.length) {
    const statement = statements[end]!;
    if (statement.text !== first.text || !fits(statement.values, form)) break;
    const key = keyOf(statement.values, form);
    if (key !== undefined) {
      if (seen.has(key)) break;
      seen.add(key);
    }
    end++;
  }
  return end;
}

/** The merged statement of statements `from` … `end - 1`: one array per parameter, in the form's order. */
export function keyedRunStatement(
  statements: readonly PipelineStatement[],
  from: number,
  end: number,
  form: KeyedWriteForm,
): BatchStatement {
  const arrays = form.params.map((param) => {
    const column: unknown[] = new Array<unknown>(end - from);
    for (let k = from; k < end; k++) column[k - from] = statements[k]!.values?.[param - 1] ?? null;
    return column;
  });
  return { text: form.text, values: arrays, statementName: form.statementName };
}

/**
 * Each member's result from the merged statement's one row (`n` rows changed and, unless that is one per member,
 * `ords`: the ordinal of each changed row): its `rowCount` is how many rows it changed, as its own statement would have
 * reported, its `rows` empty as its own statement's (which had no RETURNING).
 */
export function keyedMemberOutcomes(
  command: 'UPDATE' | 'DELETE',
  merged: QueryResult,
  members: number,
): BatchOutcome[] {
  // `n` rows changed; `ords`, unless every member changed one, the ordinals of the members that changed a row.
  const row = merged.rows[0] as { n?: string | number; ords?: readonly (string | number)[] | null } | undefined;
  const everyOne = row !== undefined && Number(row.n) === members;
  const counts = new Array<number>(members).fill(everyOne ? 1 : 0);
  if (!everyOne)
    for (const ord of row?.ords ?? []) {
      const index = Number(ord) - 1;
      if (index >= 0 && index < members) counts[index]!++;
    }
  return counts.map((rowCount) => ({
    ok: true,
    result: { command, rowCount, oid: merged.oid, rows: [], fields: [] },
  }));
}
