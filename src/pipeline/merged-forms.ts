import { coalesceBatch, type CoalescedBatch } from './coalesce.js';
import type {
  CopyInsert,
  KeyedWriteForm,
  KeyedWriteTemplate,
  PipelineBackend,
  PipelineStatement,
  RowTemplate,
  UnnestInsert,
} from './pipeline-backend.js';

/** The forms a batch's runs can be merged into, per template (see `coalesceBatch`). */
export interface MergedForms {
  readonly unnest: Map<RowTemplate, UnnestInsert>;
  readonly copy: Map<RowTemplate, CopyInsert>;
  readonly keyed: Map<KeyedWriteTemplate, KeyedWriteForm> | undefined;
}

/**
 * The COPY and unnest forms of the row templates in a batch that has runs to merge (cached by the backend after
 * the first look-up), and the merged forms of its UPDATE and DELETE templates. A template with a COPY form needs no
 * unnest form.
 */
export async function mergedForms(
  backend: PipelineBackend,
  statements: readonly PipelineStatement[],
): Promise<MergedForms> {
  const forms = new Map<RowTemplate, UnnestInsert>();
  const copies = new Map<RowTemplate, CopyInsert>();
  const templates = new Set<RowTemplate>();
  for (let i = 1; i < statements.length; i++) {
    const template = statements[i]!.rowTemplate;
    if (template?.columnParams !== undefined && statements[i - 1]!.text === statements[i]!.text)
      templates.add(template);
  }
  for (const template of templates) {
    const copy = await backend.copyInsert?.(template);
    if (copy !== undefined) {
      copies.set(template, copy);
      continue;
    }
    const form = await backend.unnestInsert(template);
    if (form !== undefined) forms.set(template, form);
  }
  return { unnest: forms, copy: copies, keyed: await keyedForms(backend, statements) };
}

/**
 * The merged forms of the UPDATE and DELETE templates that have a run (two consecutive statements with the same
 * text) in a batch; the backend caches them after the first catalog look-up.
 */
async function keyedForms(
  backend: PipelineBackend,
  statements: readonly PipelineStatement[],
): Promise<Map<KeyedWriteTemplate, KeyedWriteForm> | undefined> {
  if (backend.keyedWrite === undefined) return undefined;
  let templates: Set<KeyedWriteTemplate> | undefined;
  for (let i = 1; i < statements.length; i++) {
    const template = statements[i]!.keyedWrite;
    if (template !== undefined && statements[i - 1]!.text === statements[i]!.text)
      (templates ??= new Set()).add(template);
  }
  if (templates === undefined) return undefined;
  const forms = new Map<KeyedWriteTemplate, KeyedWriteForm>();
  for (const template of templates) {
    const form = await backend.keyedWrite(template);
    if (form !== undefined) forms.set(template, form);
  }
  return forms;
}

/** Whether two maps hold the same keys, each with the very same form (a cached form is one object until forgotten). */
function sameEntries<K, V>(a: ReadonlyMap<K, V> | undefined, b: ReadonlyMap<K, V> | undefined): boolean {
  if (a === undefined || b === undefined) return (a?.size ?? 0) === 0 && (b?.size ?? 0) === 0;
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}

/** Whether `a` and `b` would merge a batch alike: the same form for every template. */
export function sameForms(a: MergedForms, b: MergedForms): boolean {
  return sameEntries(a.unnest, b.unnest) && sameEntries(a.copy, b.copy) && sameEntries(a.keyed, b.keyed);
}

/** A batch merged ahead of its turn, with the forms it was merged with. */
export interface PlannedBatch {
  readonly forms: MergedForms;
  readonly plan: CoalescedBatch;
}

/**
 * Merges a batch that is not the first to go while the process is otherwise idle: after the current I/O callbacks,
 * so a batch ready to go is written first, and a batch waiting for a connection has its COPY data (or merged
 * statements) built by the time it gets one. Never rejects (`undefined`: the batch's turn merges it itself). Its turn
 * still looks the forms up afresh and uses the plan only when they are the very forms it was made with: what was
 * learnt meanwhile (a failed form forgotten, DDL through the router) is heeded exactly as without planning ahead.
 */
export function planAhead(
  backend: PipelineBackend,
  statements: readonly PipelineStatement[],
): Promise<PlannedBatch | undefined> {
  return new Promise<PlannedBatch | undefined>((resolve) => {
    setImmediate(() => {
      void mergedForms(backend, statements).then(
        (forms) => {
          try {
            resolve({ forms, plan: coalesceBatch(statements, forms.unnest, forms.copy, forms.keyed) });
          } catch {
            // The batch's own turn merges it again and meets the same error there.
            resolve(undefined);
          }
        },
        () => resolve(undefined),
      );
    });
  });
}
