import type pg from 'pg';
import type { PoolClient } from 'pg';
import { connectRetryDelayMs } from './connect-retry.js';
import { isConnectionRefusal } from './connection-errors.js';

/** The longest pause between two attempts to open a connection on a node that refuses for lack of room, in ms. */
export const MAX_REFUSAL_BACKOFF_MS = 2_000;

/** What {@link RefusalBackoff} needs of its pool. */
export interface RefusalBackoffOptions {
  /** Delay before the first probe after a refusal, in milliseconds; doubles (jittered) per refused probe. */
  readonly delayMs: number;
  /**
   * How long callers may wait for a connection, in milliseconds (`0`: forever). The backoff stays well below it,
   * so a caller sees several probes before its deadline.
   */
  readonly acquireTimeoutMs: number;
  /** Sets (a number) or lifts (`undefined`) the cap on the pool's connections; returns the ceiling now in force. */
  readonly cap: (ceiling: number | undefined) => number;
  /**
   * Connections open now, not counting those still being opened: the cap. Attempts in flight are not room the
   * node has, and counting them would keep the pool's own attempts going in a loop.
   */
  readonly established: () => number;
  readonly random?: () => number;
}

/**
 * Back-pressure for a node that refuses new connections because it is full (53300 "too many clients", 53400): the
 * pool's ceiling is capped at the connections it holds, so callers queue for the next one a caller releases instead
 * of each trying (and failing) to open its own; a single probe opens one connection after a jittered, capped
 * backoff, and each probe that succeeds lifts the cap further (1, 2, 4, … more) until the pool is back to its own
 * ceiling. A refused probe lowers the cap again and doubles the backoff. Nothing here fails a caller: the caller's
 * acquisition deadline does.
 */
export class RefusalBackoff {
  /** Connection attempts the node refused for lack of room, since start. */
  refusals = 0;
  /** The last refusal, kept as the cause of a caller's acquisition timeout while the cap holds. */
  lastRefusal: Error | undefined;
  /** The cap in force, or `undefined` when there is none. */
  private capped: number | undefined;
  private step = 1;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: RefusalBackoffOptions,
  ) {}

  /** True while the pool's ceiling is held down by refusals. */
  get active(): boolean {
    return this.capped !== undefined;
  }

  /**
   * Notes a refused attempt: caps the pool at the connections it holds and schedules the next probe. Returns true
   * when the cap holds (the pool is full: a caller queues), false when a new attempt would start at once.
   */
  refused(error: unknown): boolean {
    this.refusals++;
    this.lastRefusal = error instanceof Error ? error : new Error(String(error));
    if (this.stopped) return false;
    this.capped = this.options.established();
    const ceiling = this.options.cap(this.capped);
    this.step = 1;
    this.schedule();
    return ceiling <= this.pool.totalCount;
  }

  /** Stops probing (the pool is ending). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.probing || this.stopped) return;
    const { acquireTimeoutMs } = this.options;
    const longest =
      acquireTimeoutMs > 0 ? Math.min(MAX_REFUSAL_BACKOFF_MS, acquireTimeoutMs / 4) : MAX_REFUSAL_BACKOFF_MS;
    const delayMs = Math.min(
      longest,
      connectRetryDelayMs(++this.attempt, Math.max(1, this.options.delayMs), this.options.random),
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.probe();
    }, delayMs);
    // The callers waiting keep the process alive; a cap with nobody waiting must not.
    this.timer.unref();
  }

  /** Lifts the cap by `step` connections and opens them; all opened: the step doubles, one refused: capped again. */
  private async probe(): Promise<void> {
    if (this.capped === undefined || this.stopped) return;
    if (this.pool.waitingCount === 0) {
      // Nobody waits: lift the cap; the next caller that is refused sets it again.
      this.lift();
      return;
    }
    const before = this.options.established();
    if (this.pool.totalCount > before) {
      // Attempts still in flight (a caller's): their outcome comes first.
      this.schedule();
      return;
    }
    const ceiling = this.options.cap(before + this.step);
    if (ceiling <= before) {
      // The pool's own ceiling (adaptive target, budget) is no higher: nothing to probe.
      this.lift();
      return;
    }
    this.capped = ceiling;
    this.probing = true;
    const opening = ceiling - before;
    const outcomes = await Promise.allSettled(Array.from({ length: opening }, () => this.pool.connect()));
    this.probing = false;
    let refused: unknown;
    for (const outcome of outcomes) {
      // Released at once: the connection goes to the first caller in line.
      if (outcome.status === 'fulfilled') (outcome.value as PoolClient).release();
      else refused ??= outcome.reason;
    }
    if (this.stopped || this.capped === undefined) return;
    if (refused !== undefined) {
      // Any other failure is not back-pressure: the cap goes, and callers meet the failure as they connect.
      if (isConnectionRefusal(refused)) this.refused(refused);
      else this.lift();
      return;
    }
    this.attempt = 0;
    this.step *= 2;
    this.schedule();
  }

  private lift(): void {
    this.capped = undefined;
    this.attempt = 0;
    this.step = 1;
    this.options.cap(undefined);
  }
}
