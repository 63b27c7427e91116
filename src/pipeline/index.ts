export { QueryPipeline } from './query-pipeline.js';
export type { FlushResult, PipelineStats } from './pipeline-stats.js';
export { PIPELINE_DEFAULTS, resolvePipelineOptions } from './pipeline-options.js';
export type { PipelineOptions, ResolvedPipelineOptions, PipelineFallback } from './pipeline-options.js';
export { PIPELINE_BACKEND } from './pipeline-backend.js';
export type {
  PipelineBackend,
  PipelineHost,
  PipelineStatement,
  RowTemplate,
  UnnestInsert,
  KeyedWriteTemplate,
  KeyedWriteForm,
  CopyInsert,
  AttachedPipeline,
} from './pipeline-backend.js';
export { MAX_PARAMETERS } from './coalesce.js';
