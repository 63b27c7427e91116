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
