export {
  AdaptiveController,
  type AdaptiveEvents,
  type AdaptiveSettings,
  type SizedPool,
} from './adaptive-controller.js';
export { systemClock, hourOfDay, type Clock } from './clock.js';
export { DecayingRate } from './decaying-rate.js';
export { HourlyProfile, type HourSlot } from './hourly-profile.js';
export {
  PatternLearner,
  type PatternLearnerOptions,
  type PatternShape,
  type PatternSnapshot,
} from './pattern-learner.js';
export {
  PoolSizer,
  MAX_OPENING,
  BUSY_WINDOW,
  type PoolSample,
  type PoolSizerOptions,
  type Resize,
} from './pool-sizer.js';
export { readStateFile, writeStateFile, type SavedNode, type StateFileRead } from './state-file.js';
export {
  forecastWorkload,
  poolSizeFor,
  type ForecastBounds,
  type NodeProfiles,
  type WorkloadForecast,
} from './workload-forecast.js';
export { ScopePeaks, ScopeUsage, type ScopeSnapshot } from './scope-peaks.js';
export {
  ConnectionBudget,
  budgetLockKey,
  type BudgetSettings,
  type BudgetedPool,
  type BudgetClient,
  type ConnectionBudgetStats,
} from './connection-budget.js';
export {
  budgetCeiling,
  instancesOf,
  autoBudget,
  poolConnectionName,
  healthConnectionName,
  type ActivityRow,
  type InstanceUse,
  type BudgetShare,
  type OwnPool,
} from './budget-share.js';
