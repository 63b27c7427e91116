export {
  RoutedPool,
  type PoolConnectionEvents,
  type PoolRouter,
  type RoutedPoolEvents,
  type RoutedPoolOptions,
} from './routed-pool.js';
export type { RoutedClient, RoutedClientEvents } from './routed-client.js';
export { checkResultOptions, type PgQueryConfig, type PgQueryCallback, type QueryCursor } from './query-arguments.js';
