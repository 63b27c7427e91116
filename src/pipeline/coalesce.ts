import type { QueryResult } from 'pg';
import type { BatchOutcome, BatchStatement } from '../pool/index.js';
import { keyedMemberOutcomes, keyedRunEnd, keyedRunStatement } from './coalesce-keyed.js';
import { copyTextRows } from './copy-text.js';
import type {
  CopyInsert,
  KeyedWriteForm,
  KeyedWriteTemplate,
  PipelineStatement,
  RowTemplate,
  UnnestInsert,
} from './pipeline-backend.js';

/** PostgreSQL's protocol carries at most 65 535 parameters per statement (a 16-bit count). */
export const MAX_PARAMETERS = 65_535;

/** A batch with runs of identical single-row INSERTs merged, and how to map the outcomes back. */
export interface CoalescedBatch {
  /** What is sent: merged INSERTs and the untouched statements, in the original order. */
  readonly statements: readonly BatchStatement[];
  /** How many original statements went into merged INSERTs. */
  readonly merged: number;
  /** How many of those went into unnest INSERTs. */
  readonly mergedAsArrays: number;
  /** How many of those went into `COPY … FROM STDIN`. */
  readonly mergedAsCopy: number;
  /** How many original statements went into merged UPDATEs and DELETEs (not counted in {@link merged}). */
  readonly mergedKeyed: number;
  /** For each of {@link statements}, the indices of the original statements it stands for. */
  readonly groups: readonly (readonly number[])[];
  /** Each original statement's outcome, from the outcomes of {@link statements}. */
  expand(outcomes: readonly BatchOutcome[]): BatchOutcome[];
  /** Original indices of the members of every merged INSERT that failed with an error `rerunnable` accepts. */
  failedGroups(outcomes: readonly BatchOutcome[], rerunnable: (error: Error) => boolean): number[][];
  /**
   * The templates whose unnest INSERT or COPY failed with an error that a changed table could explain (classes 22
   * and 42; for a COPY also 0A, which is how COPY refuses a table that has row-level security now).
   */
  failedUnnestTemplates(outcomes: readonly BatchOutcome[]): ReadonlySet<RowTemplate>;
  /** The templates whose merged UPDATE or DELETE failed with an error of classes 22 or 42. */
  failedKeyedTemplates(outcomes: readonly BatchOutcome[]): ReadonlySet<KeyedWriteTemplate>;
}

function mergedText(template: RowTemplate, rows: number): string {
  const parts: string[] = [template.head];
  for (let row = 0; row < rows; row++) {
    if (row > 0) parts.push(', ');
    const offset = row * template.paramCount;
    for (const piece of template.tuple) parts.push(typeof piece === 'number' ? `$${piece + offset}` : piece);
  }
  return parts.join('');
}

/** Data exceptions and undefined objects or types: what a column altered since the catalog look-up would raise. */
function typeChangeCould(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('42'));
}

/** What a COPY refused for a table that changed since its look-up would raise: feature not supported (0A). */
function copyRefusalCould(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeChangeCould(error) || (typeof code === 'string' && code.startsWith('0A'));
}

/** Whether every value of the rows is a scalar: a JS array would turn into a nested array inside unnest's arrays. */
function scalarRows(statements: readonly PipelineStatement[], from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    for (const value of statements[k]!.values ?? []) if (Array.isArray(value)) return false;
  }
  return true;
}

/**
 * Merges each run of consecutive statements with the same SQL text that are single-row INSERTs (see
 * `RowTemplate`) into one INSERT. Statements are merged only when their text is identical, so every row is exactly
 * what its own statement would have inserted; order is kept. A run whose template has a {@link CopyInsert} in
 * `copy` (and whose values can all go as COPY text exactly) becomes one `COPY … FROM STDIN` with the rows behind
 * it; else, one whose template has an {@link UnnestInsert} in `unnest` (and whose values are all scalars) becomes
 * that one prepared statement with one array per column, whatever its length; any other run becomes a multi-row
 * `VALUES` INSERT, up to PostgreSQL's parameter limit.
 * Each member of a merged INSERT that succeeds gets `{ command: 'INSERT', rowCount: 1, rows: [] }` (`rowCount`
 * is `null` if the merged INSERT reported a different count, e.g. a BEFORE trigger skipped rows).
 *
 * Runs of an UPDATE or DELETE template that has a {@link KeyedWriteForm} in `keyed` become that one statement,
 * cut where a key repeats (see `keyedRunEnd`); each member gets its own `rowCount` from the ordinals it returned.
 */
export function coalesceBatch(
  statements: readonly PipelineStatement[],
  unnest?: ReadonlyMap<RowTemplate, UnnestInsert>,
  copy?: ReadonlyMap<RowTemplate, CopyInsert>,
  keyed?: ReadonlyMap<KeyedWriteTemplate, KeyedWriteForm>,
): CoalescedBatch {
  const sent: BatchStatement[] = [];
  /** For each sent statement, the original indices it stands for. */
  const members: number[][] = [];
  /** Indices into {@link sent} of the unnest INSERTs. */
  const unnestSent = new Set<number>();
  /** Indices into {@link sent} of the COPYs. */
  const copySent = new Set<number>();
  let merged = 0;
  let mergedAsArrays = 0;
  let mergedAsCopy = 0;
  /** Indices into {@link sent} of the merged UPDATEs and DELETEs, with their templates. */
  const keyedSent = new Map<number, KeyedWriteTemplate>();
  let mergedKeyed = 0;
  let i = 0;
  while (i < statements.length) {
    const first = statements[i]!;
    // UPDATE and DELETE runs (see coalesce-keyed.ts); INSERT runs below.
    const keyedWrite = first.keyedWrite;
    const keyedForm = keyedWrite === undefined ? undefined : keyed?.get(keyedWrite);
    if (keyedForm !== undefined) {
      const end = keyedRunEnd(statements, i, keyedForm);
      if (end - i >= 2) {
        keyedSent.set(sent.length, keyedWrite!);
        sent.push(keyedRunStatement(statements, i, end, keyedForm));
        members.push(Array.from({ length: end - i }, (_, k) => i + k));
        mergedKeyed += end - i;
        i = end;
        continue;
      }
    }
    const template = first.rowTemplate;
    let end = i + 1;
    const form = template === undefined ? undefined : unnest?.get(template);
    const copyForm = template === undefined ? undefined : copy?.get(template);
    if (template !== undefined) {
      const maxRows =
        form === undefined && copyForm === undefined
          ? Math.max(1, Math.floor(MAX_PARAMETERS / template.paramCount))
          : Infinity;
      while (end < statements.length && end - i < maxRows && statements[end]!.text === first.text) end++;
    }
    if (end - i < 2) {
      sent.push(first);
      members.push([i]);
      i++;
      continue;
    }
    const group: number[] = [];
    for (let k = i; k < end; k++) group.push(k);
    const rows =
      copyForm === undefined ? undefined : copyTextRows(statements, i, end, template!.columnParams!, copyForm);
    if (rows !== undefined) {
      copySent.add(sent.length);
      mergedAsCopy += group.length;
      sent.push({ text: copyForm!.text, values: undefined, statementName: undefined, copy: rows });
    } else if (form !== undefined && scalarRows(statements, i, end)) {
      const columns = template!.columnParams!.map((param) => group.map((k) => statements[k]!.values?.[param - 1]));
      unnestSent.add(sent.length);
      mergedAsArrays += group.length;
      sent.push({ text: form.text, values: columns, statementName: form.statementName });
    } else {
      // A run cut for COPY or unnest, which have no parameter limit: the rows beyond it start a run of their own.
      end = Math.min(end, i + Math.max(1, Math.floor(MAX_PARAMETERS / template!.paramCount)));
      group.length = end - i;
      const values: unknown[] = [];
      for (const k of group) {
        const params = statements[k]!.values ?? [];
        for (let p = 0; p < template!.paramCount; p++) values.push(params[p]);
      }
      // Merged texts differ with each group size, so they run unnamed rather than filling the statement cache.
      sent.push({ text: mergedText(template!, end - i), values, statementName: undefined });
    }
    members.push(group);
    merged += end - i;
    i = end;
  }
  return {
    statements: sent,
    merged,
    mergedAsArrays,
    mergedAsCopy,
    mergedKeyed,
    groups: members,
    expand(outcomes) {
      const perStatement: BatchOutcome[] = new Array<BatchOutcome>(statements.length);
      members.forEach((group, s) => {
        const outcome = outcomes[s]!;
        if (group.length === 1 || !outcome.ok) {
          for (const index of group) perStatement[index] = outcome;
          return;
        }
        const keyedTemplate = keyedSent.get(s);
        if (keyedTemplate !== undefined) {
          const results = keyedMemberOutcomes(keyedTemplate.command, outcome.result, group.length);
          group.forEach((index, k) => (perStatement[index] = results[k]!));
          return;
        }
        const rowCount = outcome.result.rowCount === group.length ? 1 : null;
        // A COPY stands for INSERTs: its members are told what their INSERT would have said.
        const copied = copySent.has(s);
        for (const index of group) {
          const result: QueryResult = {
            command: copied ? 'INSERT' : outcome.result.command,
            rowCount,
            oid: copied ? 0 : outcome.result.oid,
            rows: [],
            fields: [],
          };
          perStatement[index] = { ok: true, result };
        }
      });
      return perStatement;
    },
    failedGroups(outcomes, rerunnable) {
      return members.filter((group, s) => {
        const outcome = outcomes[s]!;
        return group.length > 1 && !outcome.ok && rerunnable(outcome.error);
      });
    },
    failedUnnestTemplates(outcomes) {
      const failed = new Set<RowTemplate>();
      for (const s of unnestSent) {
        const outcome = outcomes[s]!;
        if (!outcome.ok && typeChangeCould(outcome.error)) failed.add(statements[members[s]![0]!]!.rowTemplate!);
      }
      for (const s of copySent) {
        const outcome = outcomes[s]!;
        if (!outcome.ok && copyRefusalCould(outcome.error)) failed.add(statements[members[s]![0]!]!.rowTemplate!);
      }
      return failed;
    },
    failedKeyedTemplates(outcomes) {
      const failed = new Set<KeyedWriteTemplate>();
      for (const [s, template] of keyedSent) {
        const outcome = outcomes[s]!;
        if (!outcome.ok && typeChangeCould(outcome.error)) failed.add(template);
      }
      return failed;
    },
  };
}
