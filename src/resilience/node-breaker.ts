import CircuitBreaker from 'opossum';
import { CircuitOpenError } from '../errors.js';
import { isNodeFailure } from './error-classification.js';
import { rollingWindow } from './opossum-internals.js';

/** Circuit breaker settings, the same for every node. */
export interface BreakerOptions {
  /**
   * A statement running longer than this, in milliseconds, is cancelled on the server; if the node does not
   * even answer the cancel, the statement fails as a node failure (`PGR_NODE_TIMEOUT`) and counts against the
   * breaker — that is how a frozen node is told from a slow statement. `0` disables it. Per call: `timeoutMs`.
   * Checked by one timer per pool at 1/20 of the shortest timeout in flight (25 ms to 1 s), so a timeout fires at
   * most 5 % (and 1 s) late. Default `30_000`.
   */
  timeoutMs?: number;
  /** Percentage of failed calls in the rolling window that opens the breaker. Default `50`. */
  errorThresholdPercentage?: number;
  /** How long an open breaker rejects calls before letting one trial call through, in milliseconds. Default `5_000`. */
  resetTimeoutMs?: number;
  /** Calls in the rolling window before the breaker may open at all. Default `5`. */
  volumeThreshold?: number;
  /** Length of the rolling window the percentages are computed over, in milliseconds. Default `10_000`. */
  rollingWindowMs?: number;
  /**
   * Node failures in a row that open the breaker whatever the window's percentage, so a node that dies after
   * thousands of good calls is cut off at once instead of when the good calls have aged out. Default `5`.
   */
  consecutiveFailures?: number;
}

/** Breaker states, as a tagged union so no impossible combination can be written. */
export type BreakerState =
  | { readonly state: 'closed' }
  | { readonly state: 'open'; readonly openedAt: number; readonly retryAt: number }
  | { readonly state: 'halfOpen' };

/** What a breaker reports to its owner. */
export interface BreakerListener {
  onOpen?(retryAt: number): void;
  onHalfOpen?(): void;
  onClose?(): void;
}

/** Defaults of {@link BreakerOptions}. */
export const BREAKER_DEFAULTS: Readonly<Required<BreakerOptions>> = Object.freeze({
  timeoutMs: 30_000,
  errorThresholdPercentage: 50,
  resetTimeoutMs: 5_000,
  volumeThreshold: 5,
  rollingWindowMs: 10_000,
  consecutiveFailures: 5,
});

type Action<A extends unknown[], T> = (...args: A) => Promise<T>;

// What 'fire' and 'failure' carry for a call run by its caller: opossum's listeners (its counters) read no arguments.
const NO_ARGS: readonly unknown[] = Object.freeze([]);

/**
 * One node's circuit breaker (opossum), created once and shared by every call to that node. Only node failures
 * (see `blame`) count: a syntax error or a unique violation, however many, never opens it. While open, calls
 * fail at once with {@link CircuitOpenError}; after `resetTimeoutMs` one trial call decides whether it closes.
 *
 * Calls go through `fire(action, …args)` with the action and its arguments passed separately, so the hot path
 * allocates no closure per call.
 */
export class NodeBreaker {
  private readonly breaker: CircuitBreaker<[Action<unknown[], unknown>, ...unknown[]], unknown>;
  private current: BreakerState = { state: 'closed' };
  private failuresInARow = 0;
  private readonly errorThresholdPercentage: number;
  /** opossum's rolling window, where a call told of directly is counted (see opossum-internals.ts); else events. */
  private readonly window: ReturnType<typeof rollingWindow>;
  opens = 0;

  constructor(
    readonly node: string,
    options: Readonly<Required<BreakerOptions>>,
    listener: BreakerListener = {},
  ) {
    this.errorThresholdPercentage = options.errorThresholdPercentage;
    this.breaker = new CircuitBreaker((action: Action<unknown[], unknown>, ...args: unknown[]) => action(...args), {
      // Statement timeouts are enforced by the pool (which also cancels on the server); opossum's own timer
      // would abandon a query that keeps running.
      timeout: false,
      errorThresholdPercentage: options.errorThresholdPercentage,
      resetTimeout: options.resetTimeoutMs,
      volumeThreshold: options.volumeThreshold,
      rollingCountTimeout: options.rollingWindowMs,
      // opossum counts an error as a failure unless the filter says otherwise.
      errorFilter: (error: unknown) => !isNodeFailure(error),
      name: node,
      // Latency percentiles are computed by sorting every latency of the window, once a second and on every
      // failure: a 54 ms stall at 100k calls per window. Nothing here reads them.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    });
    this.window = rollingWindow(this.breaker as unknown as Parameters<typeof rollingWindow>[0]);
    this.breaker.on('failure', () => {
      if (++this.failuresInARow >= options.consecutiveFailures && this.current.state === 'closed') this.breaker.open();
    });
    this.breaker.on('success', () => {
      this.failuresInARow = 0;
    });
    this.breaker.on('open', () => {
      this.failuresInARow = 0;
      const openedAt = Date.now();
      this.opens++;
      this.current = { state: 'open', openedAt, retryAt: openedAt + options.resetTimeoutMs };
      listener.onOpen?.(this.current.retryAt);
    });
    this.breaker.on('halfOpen', () => {
      this.current = { state: 'halfOpen' };
      listener.onHalfOpen?.();
    });
    this.breaker.on('close', () => {
      this.current = { state: 'closed' };
      listener.onClose?.();
    });
  }

  /** The breaker's state now. */
  get state(): BreakerState {
    return this.current;
  }

  /** True while calls are rejected without being tried. */
  get isOpen(): boolean {
    return this.current.state === 'open';
  }

  /** The error a call gets while the breaker is open. */
  openError(): CircuitOpenError {
    const state = this.current;
    return new CircuitOpenError(this.node, state.state === 'open' ? state.retryAt : Date.now());
  }

  /**
   * Runs `action(...args)` through the breaker. While it is open the promise rejects with opossum's own
   * `EOPENBREAKER` error: pass what it rejects with through {@link translate} (done on the failure path only, so
   * a successful call pays for no extra promise). {@link call} does both.
   */
  fire<A extends unknown[], T>(action: Action<A, T>, ...args: A): Promise<T> {
    if (!this.admit(args)) return this.breaker.fire(action as Action<unknown[], unknown>, ...args) as Promise<T>;
    let pending: Promise<T>;
    try {
      pending = action(...args);
    } catch (error) {
      pending = Promise.reject(error as Error);
    }
    return pending.then(
      (result) => {
        this.succeeded(result);
        return result;
      },
      (error: unknown) => {
        this.failed(error, args);
        throw error;
      },
    );
  }

  /**
   * The closed breaker's side of {@link fire}, for a caller that runs its call itself (saving fire()'s promise and
   * closures on the hot path): true when the breaker is closed, the call then counted as fired; the caller must
   * then report its outcome with {@link succeeded} or {@link failed}. False while open or half-open: use
   * {@link fire}, which lets opossum decide. The outcome is reported to opossum with the very events its own fire()
   * emits, in the same order ('fire', then 'success' or 'failure' with the threshold check), so opossum's rolling
   * window, thresholds and state stay the only authority. Latency is reported as 0: rolling percentiles are off,
   * nothing reads it.
   */
  admit(args: readonly unknown[] = NO_ARGS): boolean {
    const breaker = this.breaker;
    if (!breaker.closed || breaker.pendingClose) return false;
    if (this.window !== undefined) this.window[0]!.fires++;
    else breaker.emit('fire', args);
    return true;
  }

  /** Reports a call {@link admit} let through as having succeeded. */
  succeeded(result: unknown): void {
    if (this.window === undefined) {
      this.breaker.emit('success', result, 0);
      return;
    }
    // What opossum's 'success' listeners do: count it (its latency is kept only for percentiles, which are off),
    // and end a run of failures.
    this.window[0]!.successes++;
    this.failuresInARow = 0;
  }

  /**
   * Reports a call {@link admit} let through as having failed with `error`: opossum's own handling of a rejected
   * call (`handleError` and `fail` in its circuit.js). Only node failures count against the node.
   */
  failed(error: unknown, args: readonly unknown[] = NO_ARGS): void {
    const breaker = this.breaker;
    if (!isNodeFailure(error)) {
      breaker.emit('success', error, 0);
      return;
    }
    breaker.emit('failure', error, 0, args);
    if (breaker.warmUp || !breaker.closed) return;
    const stats = breaker.stats;
    if (stats.fires < breaker.volumeThreshold) return;
    if ((stats.failures / stats.fires) * 100 > this.errorThresholdPercentage) breaker.open();
  }

  /** {@link fire}, rejecting with {@link CircuitOpenError} while the breaker is open. */
  call<A extends unknown[], T>(action: Action<A, T>, ...args: A): Promise<T> {
    return this.fire(action, ...args).catch(this.rethrowTranslated);
  }

  /** The error a caller should see for what {@link fire} rejected with: {@link CircuitOpenError} for an open breaker. */
  translate(error: unknown): unknown {
    return (error as { code?: unknown })?.code === 'EOPENBREAKER' ? this.openError() : error;
  }

  // Bound once, so a call allocates no closure for its error path.
  private readonly rethrowTranslated = (error: unknown): never => {
    throw this.translate(error);
  };

  /** Closes the breaker at once, e.g. when a health check shows the node answering again. */
  close(): void {
    if (this.current.state !== 'closed') this.breaker.close();
  }

  /** Stops the breaker's timers. */
  shutdown(): void {
    this.breaker.shutdown();
  }
}
