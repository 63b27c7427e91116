/**
 * What the router knows about PostgreSQL's built-in functions without asking the catalog.
 *
 * A call of a function with side effects or session state must run on the primary: it writes (nextval,
 * lo_create), takes locks (pg_advisory_lock), needs a transaction id (txid_current), reaches other sessions
 * (pg_notify, pg_terminate_backend), changes settings (set_config) or fails on a standby (pg_current_wal_lsn).
 */

const SIDE_EFFECT_FUNCTIONS = new Set([
  'nextval',
  'setval',
  'currval',
  'lastval',
  'txid_current',
  'txid_current_if_assigned',
  'pg_current_xact_id',
  'pg_current_xact_id_if_assigned',
  'pg_notify',
  'set_config',
  'setseed',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_current_wal_lsn',
  'pg_current_wal_insert_lsn',
  'pg_current_wal_flush_lsn',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_logical_emit_message',
  'pg_import_system_collations',
  'pg_promote',
  'pg_export_snapshot',
  'pg_log_backend_memory_contexts',
  'pg_file_write',
  'pg_file_unlink',
  'pg_file_rename',
  'lowrite',
  'loread',
  'dblink_exec',
  'dblink_connect',
  'dblink_send_query',
]);

/** Families of side-effect functions, matched by prefix. */
const SIDE_EFFECT_PREFIXES = [
  'pg_advisory_',
  'pg_try_advisory_',
  'lo_', // large objects: lo_create, lo_import, lo_unlink, lo_put, lo_open, …
  'pg_create_', // replication slots
  'pg_drop_',
  'pg_replication_origin_',
  'pg_replication_slot_advance',
  'pg_stat_reset',
  'pg_wal_replay_',
  'pg_logical_slot_',
];

/**
 * Read-only built-ins that are called often enough to be worth knowing: calls of these skip the catalog
 * look-up. Volatile but harmless ones (random, clock_timestamp, gen_random_uuid) are here on purpose: they
 * read nothing shared and write nothing, so a replica runs them as well as the primary.
 */
const READ_ONLY_BUILTINS = new Set(
  (
    'count sum avg min max every bool_and bool_or bit_and bit_or array_agg string_agg json_agg jsonb_agg ' +
    'json_object_agg jsonb_object_agg stddev stddev_pop stddev_samp variance var_pop var_samp corr covar_pop ' +
    'covar_samp percentile_cont percentile_disc mode rank dense_rank row_number percent_rank cume_dist ntile lag ' +
    'lead first_value last_value nth_value coalesce nullif greatest least now current_timestamp current_date ' +
    'clock_timestamp statement_timestamp transaction_timestamp timeofday localtimestamp date_trunc date_part ' +
    'date_bin extract age make_date make_time make_timestamp make_timestamptz make_interval to_timestamp to_date ' +
    'to_char to_number justify_days justify_hours justify_interval isfinite lower upper initcap length ' +
    'char_length character_length octet_length bit_length substr substring position strpos overlay trim btrim ' +
    'ltrim rtrim lpad rpad replace translate split_part concat concat_ws format left right reverse repeat ' +
    'starts_with regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table ' +
    'regexp_like regexp_count regexp_instr regexp_substr quote_ident quote_literal quote_nullable md5 sha224 ' +
    'sha256 sha384 sha512 encode decode convert_from convert_to to_hex ascii chr abs ceil ceiling floor round ' +
    'trunc sign sqrt cbrt power pow exp ln log log10 mod div pi degrees radians sin cos tan asin acos atan ' +
    'atan2 random random_normal gen_random_uuid uuid_generate_v4 width_bucket generate_series ' +
    'generate_subscripts unnest array_length array_lower array_upper array_dims array_ndims array_position ' +
    'array_positions array_remove array_replace array_append array_prepend array_cat array_to_string ' +
    'string_to_array cardinality array_fill json_build_object jsonb_build_object json_build_array ' +
    'jsonb_build_array to_json to_jsonb row_to_json array_to_json json_array_length jsonb_array_length ' +
    'json_each jsonb_each json_each_text jsonb_each_text json_extract_path jsonb_extract_path ' +
    'json_extract_path_text jsonb_extract_path_text json_object_keys jsonb_object_keys json_array_elements ' +
    'jsonb_array_elements json_array_elements_text jsonb_array_elements_text json_typeof jsonb_typeof ' +
    'jsonb_set jsonb_insert jsonb_strip_nulls jsonb_pretty jsonb_path_query jsonb_path_exists ' +
    'jsonb_path_match jsonb_path_query_array jsonb_path_query_first json_populate_record ' +
    'jsonb_populate_record json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset ' +
    'to_tsvector to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery ts_rank ts_rank_cd ' +
    'ts_headline setweight pg_is_in_recovery pg_last_wal_replay_lsn pg_last_wal_receive_lsn ' +
    'pg_last_xact_replay_timestamp pg_wal_lsn_diff inet_server_port inet_server_addr inet_client_addr ' +
    'inet_client_port pg_backend_pid current_setting current_database current_schema current_schemas ' +
    'current_user session_user version pg_postmaster_start_time pg_conf_load_time pg_size_pretty ' +
    'pg_total_relation_size pg_relation_size pg_table_size pg_indexes_size pg_database_size pg_column_size ' +
    'pg_typeof format_type obj_description col_description has_table_privilege has_schema_privilege ' +
    'has_database_privilege has_function_privilege pg_get_viewdef pg_get_indexdef pg_get_constraintdef ' +
    'pg_get_functiondef pg_get_expr pg_get_userbyid pg_sleep pg_sleep_for pg_sleep_until pg_xact_commit_timestamp ' +
    'txid_snapshot_xmin txid_snapshot_xmax pg_snapshot_xmin pg_snapshot_xmax pg_visible_in_snapshot ' +
    'pg_current_snapshot txid_current_snapshot pg_stat_get_activity pg_blocking_pids pg_is_wal_replay_paused ' +
    'pg_get_wal_replay_pause_state numeric int4 int8 text bool float8 date timestamp timestamptz interval ' +
    'point box circle inet cidr host masklevel family network netmask broadcast isempty lower_inc upper_inc ' +
    'range_merge int4range int8range numrange tsrange tstzrange daterange row'
  ).split(' '),
);

/**
 * Keywords that may stand right before `(` without being a function call (`IN (…)`, `EXISTS (…)`,
 * `VALUES (…)`, `OVER (…)`, `AS (…)` of a CTE, `FILTER (WHERE …)`, …).
 */
export const NON_CALL_KEYWORDS = new Set(
  (
    'all and any array as asc between by case cast cross cube desc distinct do else end except exists filter ' +
    'from full grouping group having ilike in inner intersect into is join lateral left like limit materialized ' +
    'natural not null nulls offset on only or order outer over partition recursive returning right rollup ' +
    'select set sets similar some table then union using values when where window with within ' +
    // Type names with a modifier, e.g. CAST(x AS varchar(20)) or ::numeric(10,2), after AS / :: already.
    'varchar character char decimal time timestamp interval bit varbit float'
  ).split(' '),
);

/** The bare name of a possibly schema-qualified, possibly quoted function name. */
function bareName(name: string): string {
  const dot = name.lastIndexOf('.');
  const last = dot < 0 ? name : name.slice(dot + 1);
  return last.startsWith('"') && last.endsWith('"') ? last.slice(1, -1) : last;
}

/** True when calling the function has side effects or needs the primary's session or WAL state. */
export function hasSideEffects(name: string): boolean {
  const bare = bareName(name).toLowerCase();
  if (SIDE_EFFECT_FUNCTIONS.has(bare)) return true;
  for (const prefix of SIDE_EFFECT_PREFIXES) if (bare.startsWith(prefix)) return true;
  return false;
}

/**
 * True when the function is a built-in known to be safe on a replica, so no catalog look-up is needed.
 * A name qualified with a schema other than `pg_catalog` is never taken for a built-in.
 */
export function isKnownReadOnlyBuiltin(name: string): boolean {
  const dot = name.lastIndexOf('.');
  if (dot >= 0 && name.slice(0, dot) !== 'pg_catalog') return false;
  return READ_ONLY_BUILTINS.has(bareName(name));
}
