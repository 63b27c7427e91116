/**
 * Text of the configuration files each node gets. The shared settings are appended to the
 * primary's postgresql.conf before its data directory is copied, so every node has them; the
 * per-node file (port, primary_conninfo) is included last, so nothing can override it.
 */

/** File in each data directory that holds the node's own settings. */
export const NODE_CONF_FILE = 'pgrouter-node.conf';

/** Why each value: a fast, disposable cluster that replicates and never touches system paths. */
const BASE_SETTINGS: Readonly<Record<string, string | number | boolean>> = {
  listen_addresses: '127.0.0.1',
  // No Unix socket: /var/run/postgresql may be missing or owned by a system server.
  unix_socket_directories: '',
  wal_level: 'replica',
  max_wal_senders: 10,
  hot_standby: true,
  // Throwaway data: durability costs time and buys nothing.
  fsync: false,
  synchronous_commit: false,
  full_page_writes: false,
  max_connections: 200,
  shared_buffers: '32MB',
  hot_standby_feedback: true,
  wal_receiver_status_interval: '1s',
  // A replica whose primary restarted reconnects after this, not after the default 5 s.
  wal_retrieve_retry_interval: '500ms',
  // Log lines go to stderr, which we pipe; a collector would hide them and add a process.
  logging_collector: false,
  huge_pages: 'off',
  password_encryption: 'scram-sha-256',
};

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/** A postgresql.conf value: booleans as on/off, numbers bare, strings single-quoted. */
export function confValue(key: string, value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`settings.${key}: expected a finite number, got ${String(value)}`);
    return String(value);
  }
  if (/[\r\n\0]/.test(value)) throw new TypeError(`settings.${key}: a value may not contain line breaks or NUL`);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function lines(settings: Readonly<Record<string, string | number | boolean>>): string {
  return Object.entries(settings)
    .map(([key, value]) => {
      if (!NAME.test(key)) throw new TypeError(`settings: "${key}" is not a configuration parameter name`);
      return `${key} = ${confValue(key, value)}`;
    })
    .join('\n');
}

/** Throws the TypeError {@link sharedConf} would, before anything is created. */
export function validateSettings(settings: Readonly<Record<string, string | number | boolean>>): void {
  lines(settings);
}

/** The block appended to the primary's postgresql.conf (and so inherited by every replica). */
export function sharedConf(version: number, extra: Readonly<Record<string, string | number | boolean>> = {}): string {
  // Replicas have no slots; kept WAL lets a killed replica catch up again (wal_keep_size is 13+).
  const keep: Record<string, string | number> = version >= 13 ? { wal_keep_size: '512MB' } : { wal_keep_segments: 32 };
  return [
    '',
    '# --- pg-query-router local cluster ---',
    lines({ ...BASE_SETTINGS, ...keep }),
    lines(extra),
    `include_if_exists = '${NODE_CONF_FILE}'`,
    '',
  ].join('\n');
}

/** A libpq conninfo value, quoted so spaces, quotes and backslashes in it survive. */
function conninfoValue(value: string | number): string {
  return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The node's own settings: its port and, for a replica, where it streams from. */
export function nodeConf(port: number, upstream?: { port: number; password: string; applicationName: string }): string {
  const settings: Record<string, string | number> = { port };
  if (upstream !== undefined) {
    settings.primary_conninfo = Object.entries({
      host: '127.0.0.1',
      port: upstream.port,
      user: 'postgres',
      password: upstream.password,
      application_name: upstream.applicationName,
    })
      .map(([k, v]) => `${k}=${conninfoValue(v)}`)
      .join(' ');
  }
  return `${lines(settings)}\n`;
}

/** pg_hba.conf: password (SCRAM) logins and replication over 127.0.0.1 only; no local socket exists. */
export function hbaConf(): string {
  return [
    '# TYPE  DATABASE     USER  ADDRESS       METHOD',
    'local   all          all                 trust',
    'host    all          all   127.0.0.1/32  scram-sha-256',
    'host    replication  all   127.0.0.1/32  scram-sha-256',
    '',
  ].join('\n');
}
