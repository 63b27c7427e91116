import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { QueryRouter, isQueryError } from '../src/index.js';
import { startLocalCluster, type LocalCluster } from '../src/testing.js';
import {
  MAX_CONNECT_RETRY_DELAY_MS,
  connectRetryDelayMs,
  isRetryableConnectError,
  loginRefusal,
  retryConnect,
} from '../src/pool/connect-retry.js';

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
const badPassword = (): Error =>
  Object.assign(new Error('password authentication failed for user "app"'), { code: '28P01', severity: 'FATAL' });

describe('which connection failures are retried', () => {
  it('retries the node being unreachable or not ready', () => {
    for (const code of [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EHOSTUNREACH',
      'EAI_AGAIN',
      '57P03',
      '57P01',
      '53300',
      '08006',
    ]) {
      expect(isRetryableConnectError({ code }), code).toBe(true);
    }
    expect(isRetryableConnectError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('never retries authentication or configuration errors, a pool timeout, or anything unknown', () => {
    for (const code of ['28P01', '28000', '3D000', 'ENOTFOUND', '42501', '0A000', 'PGR_ACQUIRE_TIMEOUT']) {
      expect(isRetryableConnectError({ code }), code).toBe(false);
    }
    expect(isRetryableConnectError(new Error('timeout exceeded when trying to connect'))).toBe(false);
    expect(isRetryableConnectError(new Error('Connection terminated due to connection timeout'))).toBe(false);
    expect(isRetryableConnectError(new Error('The server does not support SSL connections'))).toBe(false);
    expect(isRetryableConnectError(undefined)).toBe(false);
  });

  it('explains a refused login, keeping its SQLSTATE and cause', () => {
    const error = loginRefusal(badPassword(), 'primary');
    expect(isQueryError(error)).toBe(true);
    expect(error).toMatchObject({ code: '28P01', node: 'primary' });
    expect(error!.message).toMatch(
      /primary refused the connection \(28P01: password authentication failed for user "app"\); check the user name and password\. Not retried/,
    );
    expect(error!.cause).toBeInstanceOf(Error);
    expect(loginRefusal({ code: '3D000', message: 'database "nope" does not exist' }, 'replica-0')!.message).toMatch(
      /the database does not exist/,
    );
    expect(loginRefusal(refused(), 'primary')).toBeUndefined();
  });
});

describe('connect retry delays (fake clock)', () => {
  it('doubles from the base delay, half of each delay random, so each is at least the previous one', () => {
    for (const random of [() => 0, () => 0.5, () => 0.999, Math.random]) {
      const delays = [1, 2, 3, 4, 5, 6].map((retry) => connectRetryDelayMs(retry, 100, random));
      delays.forEach((delay, i) => {
        const ceiling = 100 * 2 ** i;
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
        if (i > 0) expect(delay).toBeGreaterThanOrEqual(delays[i - 1]!);
      });
    }
  });

  it('caps a delay at MAX_CONNECT_RETRY_DELAY_MS', () => {
    expect(connectRetryDelayMs(30, 100, () => 1)).toBe(MAX_CONNECT_RETRY_DELAY_MS);
  });

  it('retries the configured number of times with growing delays, then fails with the last error', async () => {
    const slept: number[] = [];
    const retries: number[] = [];
    let attempts = 0;
    const errors = [
      refused(),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      refused(),
      refused(),
    ];
    const failing = retryConnect(
      async () => {
        throw errors[++attempts]!;
      },
      errors[0],
      { retries: 3, delayMs: 50 },
      { sleep: async (ms) => void slept.push(ms), onRetry: (retry) => retries.push(retry), random: () => 0.5 },
    );
    await expect(failing).rejects.toBe(errors[3]);
    expect(attempts).toBe(3);
    expect(retries).toEqual([1, 2, 3]);
    expect(slept).toEqual([37.5, 75, 150]);
  });

  it('stops at once on an error that is not retryable, and resolves with the first success', async () => {
    let attempts = 0;
    const refusedLogin = retryConnect(
      async () => {
        attempts++;
        throw badPassword();
      },
      refused(),
      { retries: 5, delayMs: 1 },
      { sleep: async () => undefined },
    );
    await expect(refusedLogin).rejects.toMatchObject({ code: '28P01' });
    expect(attempts).toBe(1);

    let tries = 0;
    const connected = await retryConnect(
      async () => {
        if (++tries < 3) throw refused();
        return 'client';
      },
      refused(),
      { retries: 5, delayMs: 1 },
      { sleep: async () => undefined },
    );
    expect(connected).toBe('client');
    expect(tries).toBe(3);
  });

  it('starts no retry that would end past the deadline', async () => {
    let now = 0;
    const slept: number[] = [];
    const failing = retryConnect(
      async () => {
        throw refused();
      },
      refused(),
      { retries: 10, delayMs: 100 },
      {
        deadline: 1_000,
        now: () => now,
        sleep: async (ms) => {
          slept.push(ms);
          now += ms;
        },
        random: () => 1,
      },
    );
    await expect(failing).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(slept).toEqual([100, 200, 400]); // 100 + 200 + 400 = 700; another 800 would end at 1,500
  });
});

describe('a pending connect retry', () => {
  it('keeps the process alive until the statement settles (a script does not exit mid-backoff)', () => {
    // A program whose only work is one statement, against a port where nothing listens.
    const script = `
      import { QueryRouter } from './src/index.ts';
      const router = new QueryRouter({ primary: 'postgres://app:pw@127.0.0.1:1/app', pool: { connectRetries: 3, connectRetryDelayMs: 100, acquireTimeoutMs: 30000 } });
      const error = await router.query('SELECT 1').catch((e) => e);
      console.log('settled with ' + error.code);
      await router.close();
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(dirname(fileURLToPath(import.meta.url)), '..'),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stdout).toContain('settled with ECONNREFUSED');
    expect(run.status).toBe(0);
  });
});

describe('a wrong password', () => {
  it('fails at once with a clear message, never retried', async () => {
    const url = new URL(inject('primaryUrl'));
    url.password = 'not-the-password';
    const router = new QueryRouter({
      primary: url.toString(),
      pool: { connectRetries: 5, connectRetryDelayMs: 1_000 },
      applicationName: 'retry-bad-password',
    });
    const retries: unknown[] = [];
    router.on('connectRetry', (event) => retries.push(event));
    router.on('connectionError', () => undefined); // the background pre-warm fails the same way
    try {
      const error = await router.query('SELECT 1').catch((caught: unknown) => caught);
      expect(isQueryError(error)).toBe(true);
      expect(error).toMatchObject({ code: '28P01', node: 'primary' });
      expect((error as Error).message).toMatch(
        /^primary refused the connection \(28P01: password authentication failed for user "postgres"\); check the user name and password\. Not retried/,
      );
      expect((error as Error).message).not.toContain('not-the-password');
      expect(retries).toEqual([]);
      expect(router.stats().nodes[0]!.connectRetries).toBe(0);
    } finally {
      await router.close();
    }
  });
});

describe('connect retries with the primary stopped', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startLocalCluster({ replicas: 0 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('retries the configured number of times with growing delays, then fails with the last error', async () => {
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { connectRetries: 3, connectRetryDelayMs: 50, healthCheckIntervalMs: 0 },
      applicationName: 'retry-stopped',
    });
    router.on('connectionError', () => undefined);
    const retries: { node: string; retry: number; delayMs: number; error: Error }[] = [];
    router.on('connectRetry', (event) => retries.push(event));
    try {
      await cluster.stopNode(0);
      const error = await router.query('SELECT 1').catch((caught: unknown) => caught);
      expect(isQueryError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'ECONNREFUSED', node: 'primary' });
      expect(retries.map((event) => event.retry)).toEqual([1, 2, 3]);
      expect(
        retries.every(
          (event) => event.node === 'primary' && (event.error as { code?: string }).code === 'ECONNREFUSED',
        ),
      ).toBe(true);
      for (let i = 1; i < retries.length; i++)
        expect(retries[i]!.delayMs).toBeGreaterThanOrEqual(retries[i - 1]!.delayMs);
      expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(25);
      expect(retries[2]!.delayMs).toBeLessThanOrEqual(200);
      expect(router.stats().nodes[0]!.connectRetries).toBe(3);
    } finally {
      await router.close();
      await cluster.startNode(0);
    }
  });

  it('connects as soon as the primary is back while retrying', async () => {
    const router = new QueryRouter({
      primary: cluster.primaryUrl,
      pool: { connectRetries: 8, connectRetryDelayMs: 200, healthCheckIntervalMs: 0 },
      applicationName: 'retry-restart',
    });
    router.on('connectionError', () => undefined);
    let restarting: Promise<void> | undefined;
    let retries = 0;
    router.on('connectRetry', () => {
      retries++;
      restarting ??= cluster.startNode(0);
    });
    try {
      await cluster.stopNode(0);
      const { rows } = await router.query<{ n: number }>('SELECT 1 AS n');
      expect(rows).toEqual([{ n: 1 }]);
      expect(retries).toBeGreaterThanOrEqual(1);
      expect(retries).toBeLessThanOrEqual(8);
    } finally {
      await restarting;
      await router.close();
    }
  });
});
