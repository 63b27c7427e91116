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

/** The templates of a batch that have a run (two consecutive statements with the same text) to merge. */
export interface BatchTemplates {
  readonly rows: ReadonlySet<RowTemplate>;
  readonly keyed: ReadonlySet<KeyedWriteTemplate> | undefined;
}

/** The {@link BatchTemplates} of `statements`, in one pass over them. */
export function batchTemplates(statements: readonly PipelineStatement[]): BatchTemplates {
  const rows = new Set<RowTemplate>();
  let keyed: Set<KeyedWriteTemplate> | undefined;
  for (let i = 1; i < statements.length; i++) {
    const statement = statements[i]!;
    if (statements[i - 1]!.text !== statement.text) continue;
    const template = statement.rowTemplate;
    if (template?.columnParams !== undefined) rows.add(template);
    const keyedWrite = statement.keyedWrite;
    if (keyedWrite !== undefined) (keyed ??= new Set()).add(keyedWrite);
  }
  return { rows, keyed };
}

/**
 * The COPY and unnest forms of a batch's row templates (cached by the backend after the first look-up), and the
 * merged forms of its UPDATE and DELETE templates. A template with a COPY form needs no unnest form.
 */
export async function formsOf(backend: PipelineBackend, templates: BatchTemplates): Promise<MergedForms> {
  const forms = new Map<RowTemplate, UnnestInsert>();
  const copies = new Map<RowTemplate, CopyInsert>();
  for (const template of templates.rows) {
    const copy = await backend.copyInsert?.(template);
    if (copy !== undefined) {
      copies.set(template, copy);
      continue;
    }
    const form = await backend.unnestInsert(template);
    if (form !== undefined) forms.set(template, form);
  }
  return { unnest: forms, copy: copies, keyed: await keyedForms(backend, templates.keyed) };
}

/** The forms of the templates of `statements` that have a run to merge (see {@link formsOf}). */
export function mergedForms(backend: PipelineBackend, statements: readonly PipelineStatement[]): Promise<MergedForms> {
  return formsOf(backend, batchTemplates(statements));
}

/** The merged forms of a batch's UPDATE and DELETE templates; the backend caches them after the first catalog look-up. */
async function keyedForms(
  backend: PipelineBackend,
  templates: ReadonlySet<KeyedWriteTemplate> | undefined,
): Promise<Map<KeyedWriteTemplate, KeyedWriteForm> | undefined> {
  if (backend.keyedWrite === undefined || templates === undefined) return undefined;
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

/** A batch merged ahead of its turn, with its templates and the forms it was merged with. */
export interface PlannedBatch {
  readonly templates: BatchTemplates;
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
      const templates = batchTemplates(statements);
      void formsOf(backend, templates).then(
        (forms) => {
          try {
            resolve({ templates, forms, plan: coalesceBatch(statements, forms.unnest, forms.copy, forms.keyed) });
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
