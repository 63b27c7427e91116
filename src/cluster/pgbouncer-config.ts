import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** PgBouncer's pooling modes: when a server connection goes back to its pool. */
export type PgBouncerPoolMode = 'session' | 'transaction' | 'statement';

/** Where one PgBouncer sends its clients: a PostgreSQL node, and the login it uses there. */
export interface PgBouncerTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/** Everything one PgBouncer's ini file says. */
export interface PgBouncerIni {
  readonly listenPort: number;
  readonly target: PgBouncerTarget;
  readonly poolMode: PgBouncerPoolMode;
  readonly poolSize: number;
  readonly authFile: string;
  /** Extra `[pgbouncer]` settings, after ours (so they win). */
  readonly settings: Readonly<Record<string, string | number>>;
}

const NAME = /^[a-z_][a-z0-9_]*$/;

function iniValue(key: string, value: string | number): string {
  const text = String(value);
  if (/[\r\n\0]/.test(text)) throw new TypeError(`settings.${key}: a value may not contain line breaks or NUL`);
  return text;
}

/** A libpq-style `key=value` of the `[databases]` section; quoted so spaces and quotes survive. */
function connValue(value: string | number): string {
  return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * pgbouncer.ini for one node. Logs go to stderr (no logfile, no syslog), there is no Unix socket (its default
 * directory may belong to a system PgBouncer) and no pidfile. Clients log in with the node's own user and password
 * (SCRAM, checked against the auth file); PgBouncer logs in to the node with the same password, which the auth
 * file holds in plain text so that SCRAM works on both legs.
 */
export function pgBouncerIni(ini: PgBouncerIni): string {
  const { target } = ini;
  const settings: Record<string, string | number> = {
    listen_addr: '127.0.0.1',
    listen_port: ini.listenPort,
    unix_socket_dir: '',
    auth_type: 'scram-sha-256',
    auth_file: ini.authFile,
    admin_users: target.user,
    pool_mode: ini.poolMode,
    default_pool_size: ini.poolSize,
    max_client_conn: 1000,
    // pg sends none of these unless asked; a client that does must not be refused for it.
    ignore_startup_parameters: 'extra_float_digits,options',
    logfile: '',
    syslog: 0,
    log_connections: 0,
    log_disconnections: 0,
    // Tests stop nodes and PgBouncers: waits are bounded as the router's own are.
    server_login_retry: 1,
    ...ini.settings,
  };
  const lines = ['[databases]'];
  lines.push(
    `* = ${Object.entries({ host: target.host, port: target.port, dbname: target.database })
      .map(([k, v]) => `${k}=${connValue(v)}`)
      .join(' ')}`,
  );
  lines.push('', '[pgbouncer]');
  for (const [key, value] of Object.entries(settings)) {
    if (!NAME.test(key)) throw new TypeError(`settings: "${key}" is not a PgBouncer setting name`);
    lines.push(`${key} = ${iniValue(key, value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** userlist.txt: one `"user" "password"` line, double quotes doubled. */
export function pgBouncerUserlist(users: ReadonlyMap<string, string>): string {
  const quote = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  return [...users].map(([user, password]) => `${quote(user)} ${quote(password)}`).join('\n') + '\n';
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The PgBouncer binary: `explicit`, else the `PGBOUNCER_BIN` environment variable, else `/usr/sbin/pgbouncer`
 * (Debian's and Ubuntu's package), else `pgbouncer` on the `PATH`. `undefined` when none is found.
 */
export function findPgBouncer(explicit?: string): string | undefined {
  if (explicit !== undefined) return executable(explicit) ? explicit : undefined;
  const fromEnv = process.env.PGBOUNCER_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return executable(fromEnv) ? fromEnv : undefined;
  const candidates = ['/usr/sbin/pgbouncer', '/usr/local/sbin/pgbouncer', '/usr/bin/pgbouncer'];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir !== '') candidates.push(join(dir, 'pgbouncer'));
  return candidates.find(executable);
}

/** `1.18.0` from `pgbouncer --version` ("PgBouncer 1.18.0" on its first line). */
export function readPgBouncerVersion(bin: string): string {
  const text = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const match = /PgBouncer\s+(\d+\.\d+(?:\.\d+)?)/i.exec(text);
  if (match?.[1] === undefined) throw new Error(`${bin} --version did not name a PgBouncer version: ${text.trim()}`);
  return match[1];
}

/** Whether `version` (`1.18.0`) is at least `major.minor`. */
export function pgBouncerAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}
