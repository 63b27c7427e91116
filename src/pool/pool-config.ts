import type { PoolConfig } from 'pg';
import { parse } from 'pg-connection-string';
import type { NodePoolOptions } from './node-pool-options.js';

/**
 * `config` with its connection URL taken apart into pg's own fields, as pg itself does (same parser, and the
 * URL's fields win over the explicit ones, as in pg), so no `connectionString` with a password in it is kept.
 * pg-pool keeps `password` non-enumerable but `connectionString` in plain sight, where `util.inspect` of
 * anything that reaches the pool would show it.
 */
export function withoutConnectionString(config: PoolConfig): PoolConfig {
  const { connectionString } = config;
  // Spread drops non-enumerable secrets (the resolved options hide them): copy the password explicitly.
  const { connectionString: _url, ...rest } = { ...config, password: config.password };
  if (connectionString === undefined) return rest;
  const fromUrl: Record<string, unknown> = {};
  // pg reads an empty or missing field as "not given" and falls back to the environment and its defaults.
  for (const [key, value] of Object.entries(parse(connectionString)))
    if (value !== null && value !== undefined && value !== '') fromUrl[key] = value;
  return { ...rest, ...fromUrl };
}

/**
 * The `pg.Pool` configuration of a node: its connection settings (URL taken apart, see
 * {@link withoutConnectionString}) with the router's sizing and timeouts, unless the connection config sets pg's own.
 */
export function pgPoolConfig(options: NodePoolOptions): PoolConfig {
  const connection = options.connection;
  return {
    application_name: options.applicationName,
    ...withoutConnectionString(connection),
    max: connection.max ?? options.max,
    min: connection.min ?? options.min,
    idleTimeoutMillis: connection.idleTimeoutMillis ?? options.idleTimeoutMs,
    maxLifetimeSeconds: connection.maxLifetimeSeconds ?? Math.ceil(options.maxLifetimeMs / 1000),
    connectionTimeoutMillis: connection.connectionTimeoutMillis ?? options.acquireTimeoutMs,
    // An idle connection does not keep the process alive: a script that never calls close() still exits.
    allowExitOnIdle: connection.allowExitOnIdle ?? true,
  };
}
