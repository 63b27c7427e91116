import { describe, expect, inject, it } from 'vitest';
import { DEFAULTS, PROFILES, QueryRouter, isConfigError, type ProfileName } from '../src/index.js';
import { optionsFromEnv, resolveOptions } from '../src/config/index.js';

const primary = 'postgres://app@db.example:5432/app';
const names = Object.keys(PROFILES) as ProfileName[];

describe('configuration profiles', () => {
  it('offers development, production, highThroughput, lowLatency and reliable, as QueryRouter.profiles', () => {
    expect(names).toEqual(['development', 'production', 'highThroughput', 'lowLatency', 'reliable']);
    expect(QueryRouter.profiles).toBe(PROFILES);
  });

  it.each(names)('%s passes the same validation as user options, spread or named', (name) => {
    const spread = resolveOptions({ ...QueryRouter.profiles[name], primary });
    const named = resolveOptions({ profile: name, primary });
    expect(named.profile).toBe(name);
    expect(spread.profile).toBeUndefined();
    // Naming a profile and spreading it give the same settings.
    const { profile: _named, primary: _p1, ...namedSettings } = named;
    const { profile: _spread, primary: _p2, ...spreadSettings } = spread;
    expect(namedSettings).toEqual(spreadSettings);
    // Every setting it makes is in force; the rest keep their defaults.
    for (const [section, values] of Object.entries(PROFILES[name])) {
      if (typeof values !== 'object') expect(named[section as keyof typeof named]).toBe(values);
      else expect(named[section as keyof typeof named]).toMatchObject(values as object);
    }
    expect(named.pool.min).toBeLessThanOrEqual(named.pool.max);
  });

  it('sets pool sizes, timeouts, pre-ping, breaker and leak detection where they matter', () => {
    const resolved = Object.fromEntries(
      names.map((name) => [name, resolveOptions({ profile: name, primary })]),
    ) as Record<ProfileName, ReturnType<typeof resolveOptions>>;
    expect(resolved.development.pool).toMatchObject({ max: 5, prePing: true, leakStackTraces: true });
    expect(resolved.development.slowQueryMs).toBeGreaterThan(0);
    expect(resolved.production.pool).toMatchObject({ prePing: false, leakStackTraces: false });
    expect(resolved.production.pool.maxLifetimeMs).toBeGreaterThan(0);
    expect(resolved.production.adaptive.enabled).toBe(true);
    expect(resolved.highThroughput.pool.max).toBeGreaterThan(resolved.production.pool.max);
    expect(resolved.lowLatency.pool.acquireTimeoutMs).toBeLessThan(DEFAULTS.pool.acquireTimeoutMs);
    expect(resolved.lowLatency.breaker.timeoutMs).toBeLessThan(DEFAULTS.breaker.timeoutMs);
    expect(resolved.lowLatency.pool.connectRetries).toBe(0);
    expect(resolved.reliable.pool).toMatchObject({ prePing: true, leakStackTraces: true });
    expect(resolved.reliable.pool.connectRetries).toBeGreaterThan(resolved.production.pool.connectRetries);
    expect(resolved.reliable.pool.healthThreshold).toBeGreaterThan(DEFAULTS.pool.healthThreshold);
    for (const name of names)
      expect(resolved[name].pool.leakTimeoutMs > 0 || name === 'highThroughput' || name === 'lowLatency').toBe(true);
  });

  it('lets the caller’s own options win, key by key within a section when the profile is named', () => {
    const named = resolveOptions({
      profile: 'production',
      primary,
      pool: { max: 50 },
      breaker: { timeoutMs: 5_000 },
      slowQueryMs: 9,
    });
    expect(named.pool).toMatchObject({
      max: 50,
      min: PROFILES.production.pool!.min,
      maxLifetimeMs: PROFILES.production.pool!.maxLifetimeMs,
      connectRetries: 2,
    });
    expect(named.breaker).toMatchObject({ timeoutMs: 5_000, volumeThreshold: 10 });
    expect(named.slowQueryMs).toBe(9);
    expect(named.adaptive.enabled).toBe(true);

    // Spread, a section the caller writes replaces the profile's (plain object spread), other sections stay.
    const spread = resolveOptions({ ...QueryRouter.profiles.production, primary, pool: { max: 50 } });
    expect(spread.pool).toMatchObject({ max: 50, min: DEFAULTS.pool.min, maxLifetimeMs: DEFAULTS.pool.maxLifetimeMs });
    expect(spread.adaptive.enabled).toBe(true);

    // An explicit undefined does not erase the profile's value.
    expect(resolveOptions({ profile: 'development', primary, pool: { max: undefined } }).pool.max).toBe(5);
  });

  it('validates what the caller adds on top of a profile', () => {
    expect(() => resolveOptions({ profile: 'production', primary, pool: { min: 30 } })).toThrow(
      /pool\.min: must not exceed pool\.max \(20\), got 30/,
    );
    expect(() => resolveOptions({ profile: 'lowLatency', primary, pool: { bogus: 1 } })).toThrow(
      /pool\.bogus: unknown option/,
    );
  });

  it('rejects an unknown or mistyped profile with a ConfigError naming the choices', () => {
    for (const profile of ['prod', 'Production', '', 3, null, {}]) {
      let caught: unknown;
      try {
        resolveOptions({ profile, primary });
      } catch (error) {
        caught = error;
      }
      expect(isConfigError(caught), String(profile)).toBe(true);
      expect(caught).toMatchObject({ key: 'profile' });
      expect((caught as Error).message).toMatch(
        /must be one of development, production, highThroughput, lowLatency, reliable/,
      );
    }
  });

  it('cannot be changed by a caller', () => {
    expect(Object.isFrozen(PROFILES)).toBe(true);
    expect(Object.isFrozen(PROFILES.production.pool)).toBe(true);
    expect(() => {
      (PROFILES.production.pool as { max: number }).max = 1;
    }).toThrow(TypeError);
    expect(resolveOptions({ profile: 'production', primary }).pool.max).toBe(20);
  });

  it('is read from PGROUTER_PROFILE, and the new pool options from the environment', () => {
    const options = optionsFromEnv({
      DATABASE_URL: primary,
      PGROUTER_PROFILE: 'reliable',
      PGROUTER_POOL_CONNECT_RETRIES: '7',
      PGROUTER_POOL_HEALTH_THRESHOLD: '40',
      PGROUTER_POOL_CONNECT_RETRY_DELAY_MS: '25',
    });
    const resolved = resolveOptions(options);
    expect(resolved.profile).toBe('reliable');
    expect(resolved.pool).toMatchObject({
      connectRetries: 7,
      healthThreshold: 40,
      connectRetryDelayMs: 25,
      prePing: true,
    });
    expect(() => resolveOptions(optionsFromEnv({ DATABASE_URL: primary, PGROUTER_PROFILE: 'fast' }))).toThrow(
      /profile: must be one of/,
    );
  });

  it('validates the health threshold and connect retry options', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ healthThreshold: 101 }, /pool\.healthThreshold: must be a number ≥ 0 and ≤ 100, got 101/],
      [{ healthThreshold: -1 }, /pool\.healthThreshold/],
      [{ healthThreshold: '50' }, /pool\.healthThreshold/],
      [{ connectRetries: -1 }, /pool\.connectRetries: must be an integer ≥ 0, got -1/],
      [{ connectRetries: 1.5 }, /pool\.connectRetries/],
      [{ connectRetryDelayMs: 0 }, /pool\.connectRetryDelayMs: must be an integer ≥ 1, got 0/],
    ];
    for (const [pool, message] of bad) expect(() => resolveOptions({ primary, pool })).toThrow(message);
    expect(resolveOptions({ primary }).pool).toMatchObject({
      healthThreshold: 50,
      connectRetries: 0,
      connectRetryDelayMs: 100,
    });
    expect(resolveOptions({ primary, pool: { healthThreshold: 0 } }).pool.healthThreshold).toBe(0);
  });

  it('builds a working router from a named profile', async () => {
    const router = new QueryRouter({
      profile: 'production',
      primary: inject('primaryUrl'),
      pool: { min: 1, max: 3 },
      applicationName: 'profiles-router',
    });
    try {
      expect(router.options.profile).toBe('production');
      expect(router.options.pool).toMatchObject({ min: 1, max: 3, maxLifetimeMs: 1_800_000 });
      const { rows } = await router.query<{ n: number }>('SELECT 1 AS n');
      expect(rows).toEqual([{ n: 1 }]);
    } finally {
      await router.close();
    }
  });
});
