import { afterEach, describe, expect, it } from 'vitest';
import { BREAKER_DEFAULTS, NodeBreaker } from '../src/resilience/index.js';
import { rollingWindow } from '../src/resilience/opossum-internals.js';
import { until } from './helpers/wait.js';

// Pure logic: the breaker's bookkeeping with fake actions (node failures are errors with a connection errno).
const nodeFailure = (): Promise<never> =>
  Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
const callerError = (): Promise<never> => Promise.reject(Object.assign(new Error('syntax error'), { code: '42601' }));
const ok = (value: number): Promise<number> => Promise.resolve(value);

const breakers: NodeBreaker[] = [];
function breaker(options: Partial<typeof BREAKER_DEFAULTS> = {}, events: string[] = []): NodeBreaker {
  const made = new NodeBreaker(
    'primary',
    { ...BREAKER_DEFAULTS, ...options },
    { onOpen: () => events.push('open'), onClose: () => events.push('close') },
  );
  breakers.push(made);
  return made;
}
afterEach(() => {
  for (const made of breakers.splice(0)) made.shutdown();
});

describe('NodeBreaker', () => {
  it('opens on the error percentage over the rolling window, even without failures in a row', async () => {
    const events: string[] = [];
    const b = breaker({ volumeThreshold: 10, errorThresholdPercentage: 40, consecutiveFailures: 100 }, events);
    for (let i = 0; i < 9; i++) {
      // Alternate: 50 % node failures, never two in a row.
      await (i % 2 === 0 ? b.fire(nodeFailure) : b.fire(ok, i)).catch(() => undefined);
      expect(b.isOpen).toBe(false); // below the volume threshold
    }
    await b.fire(nodeFailure).catch(() => undefined);
    expect(b.isOpen).toBe(true);
    expect(events).toEqual(['open']);
    await expect(b.call(ok, 1)).rejects.toMatchObject({ code: 'PGR_CIRCUIT_OPEN', node: 'primary' });
  });

  it('counts the calls and successes of a closed breaker in the percentage: opens at the first failure past it', async () => {
    const b = breaker({ volumeThreshold: 10, errorThresholdPercentage: 50, consecutiveFailures: 100 });
    for (let i = 0; i < 6; i++) expect(await b.fire(ok, i)).toBe(i);
    // Six successes, then failures: 6 of 12 is not above 50 %, 7 of 13 is.
    for (let i = 0; i < 6; i++) await b.fire(nodeFailure).catch(() => undefined);
    expect(b.isOpen).toBe(false);
    await b.fire(nodeFailure).catch(() => undefined);
    expect(b.isOpen).toBe(true);
  });

  it('finds no rolling window in a breaker that does not keep one as opossum 9 does', () => {
    expect(rollingWindow({ status: {} } as never)).toBeUndefined();
    expect(rollingWindow({ status: { [Symbol('window')]: [] } } as never)).toBeUndefined();
  });

  it("counts the caller's own errors as successes: 500 syntax errors open nothing", async () => {
    const b = breaker({ volumeThreshold: 5, errorThresholdPercentage: 10, consecutiveFailures: 5 });
    for (let i = 0; i < 500; i++) await expect(b.fire(callerError)).rejects.toMatchObject({ code: '42601' });
    expect(b.isOpen).toBe(false);
  });

  it('opens after consecutiveFailures node failures in a row, and a success resets the run', async () => {
    const b = breaker({ volumeThreshold: 1_000, consecutiveFailures: 3 });
    await b.fire(nodeFailure).catch(() => undefined);
    await b.fire(nodeFailure).catch(() => undefined);
    expect(await b.fire(ok, 7)).toBe(7);
    await b.fire(nodeFailure).catch(() => undefined);
    await b.fire(nodeFailure).catch(() => undefined);
    expect(b.isOpen).toBe(false);
    await b.fire(nodeFailure).catch(() => undefined);
    expect(b.isOpen).toBe(true);
  });

  it('passes results and errors through unchanged, and a synchronous throw becomes a rejection', async () => {
    const b = breaker();
    expect(await b.fire(ok, 42)).toBe(42);
    const thrown = new Error('thrown before any promise');
    await expect(
      b.fire(() => {
        throw thrown;
      }),
    ).rejects.toBe(thrown);
  });

  it('lets one trial through when half-open and closes on its success', async () => {
    const events: string[] = [];
    const b = breaker({ volumeThreshold: 1, consecutiveFailures: 1, resetTimeoutMs: 50 }, events);
    await b.fire(nodeFailure).catch(() => undefined);
    expect(b.isOpen).toBe(true);
    await until(() => b.state.state === 'halfOpen', 30_000, 5);
    expect(await b.fire(ok, 1)).toBe(1);
    expect(b.state.state).toBe('closed');
    expect(events).toEqual(['open', 'close']);
  });
});
