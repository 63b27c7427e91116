/**
 * System views that describe the server that runs the query rather than the replicated data: locks, sessions,
 * prepared statements and transactions, cursors, replication senders and slots, settings, statistics. Read through
 * the router they mean the primary (the locks a script just took there, its sessions), so a read of one goes to
 * the primary unless a route is forced. `pg_stat_wal_receiver` is left out: it only says something on a replica.
 * `pg_stats` and `pg_statistic*` are catalog data, replicated like any table, and stay readable on replicas.
 */
const NODE_LOCAL_VIEWS: ReadonlySet<string> = new Set([
  'pg_locks',
  'pg_prepared_statements',
  'pg_prepared_xacts',
  'pg_cursors',
  'pg_replication_slots',
  'pg_replication_origin_status',
  'pg_backend_memory_contexts',
  'pg_shmem_allocations',
  'pg_settings',
  'pg_file_settings',
  'pg_hba_file_rules',
  'pg_ident_file_mappings',
]);

/** The node-local system view among `tables` (names as the classifier collects them), if any. */
export function nodeLocalView(tables: Iterable<string>): string | undefined {
  for (const table of tables) {
    const dot = table.lastIndexOf('.');
    const schema = dot < 0 ? undefined : table.slice(0, dot);
    if (schema !== undefined && schema !== 'pg_catalog') continue;
    const name = dot < 0 ? table : table.slice(dot + 1);
    if (NODE_LOCAL_VIEWS.has(name)) return table;
    if ((name.startsWith('pg_stat_') || name.startsWith('pg_statio_')) && name !== 'pg_stat_wal_receiver') return table;
  }
  return undefined;
}
