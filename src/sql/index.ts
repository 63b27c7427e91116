export { classifyQuery } from './classify.js';
export type { Classification, Route, StatementKind } from './classification.js';
export { Classifier, statementNameFor, type ClassifierEntry } from './classification-cache.js';
export { insertRowTemplate, type RowTemplate } from './insert-template.js';
export { keyedWriteTemplate, type KeyedWriteTemplate, type KeyedColumn } from './keyed-write-template.js';
