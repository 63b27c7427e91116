import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

/**
 * A connection budget shared by every instance (process, pod) of one application on each node, coordinated through
 * PostgreSQL itself: each instance names its connections `<group>/<instance>` (`application_name`), reads the
 * group's connections from `pg_stat_activity` on its health-check connection every health round, and keeps its
 * pool within its share of the budget (see `docs/operations.md`, "Sizing a deployment").
 */
export interface ConnectionBudgetOptions {
  /**
   * The name every instance of the application shares, 1–20 characters of `A-Z a-z 0-9 . _ -`. Required. Routers
   * with the same group on the same node share one budget.
   */
  group: string;
  /**
   * Connections the whole group may hold on each node, health checks included. `'auto'`: the node's
   * `max_connections` − `superuser_reserved_connections` − `reserved_connections` (PostgreSQL 16+) − `reserve`,
   * read from the server every round. Default `'auto'`.
   */
  perNode?: number | 'auto';
  /** With `perNode: 'auto'`, connections left for everyone else (consoles, migrations, other applications). Default `0`. */
  reserve?: number;
  /**
   * This instance's name within the group, 1–24 characters of `A-Z a-z 0-9 . _ -`; unique per running instance.
   * Default: the host name and process id (`web-7f9c-1234`), shortened to fit, or a random id without a host name.
   */
  instance?: string;
}

/** {@link ConnectionBudgetOptions} after validation. */
export interface ResolvedConnectionBudget {
  readonly group: string;
  readonly perNode: number | 'auto';
  readonly reserve: number;
  readonly instance: string;
}

/** Longest group and instance names: `<group>/<instance>/w=99999,c=99999` fits PostgreSQL's 63-byte application_name. */
export const BUDGET_GROUP_MAX = 20;
export const BUDGET_INSTANCE_MAX = 24;
const NAME = /^[A-Za-z0-9._-]+$/;

const describeValue = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value;

/** The default instance name: host name and process id, or a random id. */
export function defaultInstanceName(host: string = hostname(), pid: number = process.pid): string {
  const suffix = `-${pid}`;
  const cleaned = host.replace(/[^A-Za-z0-9._-]/g, '').slice(0, BUDGET_INSTANCE_MAX - suffix.length);
  return cleaned === '' ? randomBytes(4).toString('hex') : `${cleaned}${suffix}`;
}

/** Validates the `connectionBudget` option (`undefined`: none), throwing {@link ConfigError} naming the bad key. */
export function resolveConnectionBudget(input: unknown): ResolvedConnectionBudget | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ConfigError(
      'connectionBudget',
      `must be an object { group, perNode?, reserve?, instance? }, got ${describeValue(input)}`,
    );
  const value = input as Record<string, unknown>;
  for (const key of Object.keys(value))
    if (!['group', 'perNode', 'reserve', 'instance'].includes(key))
      throw new ConfigError(
        `connectionBudget.${key}`,
        'unknown option; expected one of group, perNode, reserve, instance',
      );
  const { group, perNode = 'auto', reserve = 0, instance = defaultInstanceName() } = value;
  if (typeof group !== 'string' || group.length > BUDGET_GROUP_MAX || !NAME.test(group))
    throw new ConfigError(
      'connectionBudget.group',
      `must be 1–${BUDGET_GROUP_MAX} characters of A-Z a-z 0-9 . _ -, got ${describeValue(group)}`,
    );
  if (typeof instance !== 'string' || instance.length > BUDGET_INSTANCE_MAX || !NAME.test(instance))
    throw new ConfigError(
      'connectionBudget.instance',
      `must be 1–${BUDGET_INSTANCE_MAX} characters of A-Z a-z 0-9 . _ -, got ${describeValue(instance)}`,
    );
  if (perNode !== 'auto' && (typeof perNode !== 'number' || !Number.isInteger(perNode) || perNode < 1))
    throw new ConfigError(
      'connectionBudget.perNode',
      `must be 'auto' or an integer ≥ 1, got ${describeValue(perNode)}`,
    );
  if (typeof reserve !== 'number' || !Number.isInteger(reserve) || reserve < 0)
    throw new ConfigError('connectionBudget.reserve', `must be an integer ≥ 0, got ${describeValue(reserve)}`);
  return Object.freeze({ group, perNode, reserve, instance });
}
