export type {
  NodeConfig,
  PoolOptions,
  StatementCacheOptions,
  ClassifierCacheOptions,
  LoadBalancing,
  AdaptiveOptions,
  ConnectionHooks,
  MetricsOptions,
  QueryRouterOptions,
  Consistency,
  FallbackFunction,
  ResolvedNode,
  ResolvedOptions,
  ConfigurationProfile,
  ProfileName,
} from './options.js';
export { PROFILES, withProfile } from './profiles.js';
export { DEFAULTS, nodeLabel, resolveOptions } from './resolve.js';
export { ENV_OPTIONS, optionsFromEnv } from './environment.js';
export { closeTimeoutOf, type QueryOptions, type CloseOptions } from './query-options.js';
export {
  resolveConnectionBudget,
  defaultInstanceName,
  BUDGET_GROUP_MAX,
  BUDGET_INSTANCE_MAX,
  type ConnectionBudgetOptions,
  type ResolvedConnectionBudget,
} from './connection-budget-options.js';
