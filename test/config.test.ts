import { describe, expect, it } from 'vitest';
import { DEFAULTS, redactSecrets } from '../src/index.js';
import { optionsFromEnv, resolveOptions } from '../src/config/index.js';

describe('options', () => {
  it('applies documented defaults and freezes the result', () => {
    const options = resolveOptions({ primary: 'postgres://app:pw@db:6543/app' });
    expect(options.pool).toEqual(DEFAULTS.pool);
    expect(options.statementCache.max).toBe(500);
    expect(options.classifierCache.max).toBe(10_000);
    expect(options.loadBalancing).toBe('round-robin');
    expect(options.replicas).toEqual([]);
    expect(Object.isFrozen(options)).toBe(true);
    expect(options.primary.label).toBe('db:6543/app');
  });

  it('keeps an explicit 0 instead of replacing it with a default', () => {
    const options = resolveOptions({
      primary: 'postgres://db/app',
      pool: { idleTimeoutMs: 0, acquireTimeoutMs: 0 },
      statementCache: { max: 0 },
    });
    expect(options.pool.idleTimeoutMs).toBe(0);
    expect(options.pool.acquireTimeoutMs).toBe(0);
    expect(options.statementCache.max).toBe(0);
  });

  it('hides passwords from enumeration of a node config', () => {
    const options = resolveOptions({
      primary: { host: 'db', user: 'app', password: 's3cret-pw' },
      replicas: ['postgres://app:other-pw@r1/app'],
    });
    expect(JSON.stringify(options)).not.toMatch(/s3cret-pw|other-pw/);
    expect(options.primary.config.password).toBe('s3cret-pw');
    expect(options.replicas[0]!.label).toBe('r1:5432/app');
  });

  it('reads the environment, with overrides winning', () => {
    const options = optionsFromEnv(
      {
        DATABASE_URL: 'postgres://p/app',
        DATABASE_REPLICA_URLS: 'postgres://r1/app,, postgres://r2/app ',
        PGROUTER_POOL_MAX: '7',
        PGROUTER_STATEMENT_CACHE_MAX: '0',
        HOME: '/root',
      },
      { pool: { min: 1 } },
    );
    expect(options.replicas).toEqual(['postgres://r1/app', 'postgres://r2/app']);
    expect(options.pool).toEqual({ max: 7, min: 1 });
    expect(options.statementCache).toEqual({ max: 0 });
  });

  it('redacts credentials from any text', () => {
    expect(redactSecrets('connect postgres://app:hunter2@db:5432/x failed')).toBe(
      'connect postgres://app:***@db:5432/x failed',
    );
    expect(redactSecrets("host=db password='hunter 2' user=app")).toBe('host=db password=*** user=app');
    expect(redactSecrets('plain message')).toBe('plain message');
  });
});
