import type { PoolConfig } from 'pg';
import { parse } from 'pg-connection-string';

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
