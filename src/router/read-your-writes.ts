import type { QueryResult, QueryResultRow } from 'pg';
import type { QueryOptions, ResolvedOptions } from '../config/index.js';
import { ConfigError, isCircuitOpenError } from '../errors.js';
import type { BatchOutcome, StatementProbe } from '../pool/index.js';
import { isConnectionLevelError } from '../pool/index.js';
import type { PipelineStatement } from '../pipeline/index.js';
import { isNodeFailure, parseLsn } from '../resilience/index.js';
import type { NodeChoice } from './node-choice.js';
import type { NodeSet, RoutedNode } from './node-set.js';
import type { ReadFallback } from './read-fallback.js';
import {
  REPLAY_POSITION_SQL,
  Sessions,
  UNKNOWN_POSITION,
  WRITE_POSITION_SQL,
  laterPosition,
  positionOfToken,
  tokenOfPosition,
  type SessionOptions,
  type SessionState,
} from './read-consistency.js';
import { fireInternal, fireOn, type StatementCall } from './statement-call.js';

/** Read-your-writes counts since start, as `stats().consistency` reports them. */
export interface ConsistencyCounts {
  /** Reads sent to a replica known to have the session's writes. */
  readsOnReplicaKnown: number;
  /** Reads sent to a replica checked in the same round trip. */
  readsOnReplicaChecked: number;
  /** Reads served by a replica after waiting for it (`waitForReplicaMs`). */
  readsOnReplicaAfterWait: number;
  /** Reads sent to the primary because no replica had caught up. */
  readsOnPrimary: number;
  /** Writes whose WAL position a session recorded. */
  writesTracked: number;
}

/** How one statement of a session (or with an `after` token) is checked against the position it must see. */
export interface PositionCheck {
  readonly session: SessionState | undefined;
  /** The node the statement runs on. */
  readonly target: RoutedNode;
  /** The WAL position a read must see; `undefined` for a write, or a read with nothing to wait for. */
  readonly required: bigint | undefined;
  /** The probe riding with the statement: the replica's replay position before a read, the primary's after a write. */
  readonly probe: StatementProbe | undefined;
}

/**
 * Read-your-writes: where each session's writes landed (WAL positions), whether a replica has replayed them (known
 * from health checks, probed in a read's own round trip, or waited for), and the primary for reads no replica can
 * serve yet. Sessions are AsyncLocalStorage scopes; a router that never opens one pays one boolean test per call.
 */
export class ReadYourWrites {
  readonly counts: ConsistencyCounts = {
    readsOnReplicaKnown: 0,
    readsOnReplicaChecked: 0,
    readsOnReplicaAfterWait: 0,
    readsOnPrimary: 0,
    writesTracked: 0,
  };
  private readonly sessions: Sessions;
  /**
   * With the router's `consistency: 'read-your-writes'`, the session of everything that runs outside one: every
   * read of the process sees every write of the process.
   */
  private readonly processWide: SessionState | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly nodes: NodeSet,
    private readonly choice: NodeChoice,
    private readonly fallback: ReadFallback,
  ) {
    this.sessions = new Sessions(options);
    this.processWide =
      options.consistency === 'read-your-writes'
        ? { consistency: 'read-your-writes', waitForReplicaMs: options.waitForReplicaMs, position: undefined }
        : undefined;
  }

  /** The session the caller runs in: its own, else the process-wide one (with `consistency: 'read-your-writes'`). */
  current(): SessionState | undefined {
    return this.sessions.current() ?? this.processWide;
  }

  /** Runs `fn` in a session of its own (see `QueryRouter.session`). */
  async session<T>(fn: () => T | Promise<T>, options: SessionOptions | undefined): Promise<T> {
    if (typeof fn !== 'function') throw new ConfigError('session', 'expects a callback () => Promise');
    const outer = this.current();
    if (outer !== undefined && options === undefined) return fn();
    const state = this.sessions.create(options);
    if (outer !== undefined) state.position = laterPosition(state.position, outer.position);
    try {
      return await this.sessions.run(state, fn);
    } finally {
      if (outer !== undefined) outer.position = laterPosition(outer.position, state.position);
    }
  }

  /** A middleware running each request in a session of its own (see `QueryRouter.sessionMiddleware`). */
  middleware<Request>(
    options: ({ token?: (request: Request) => string | null | undefined } & Omit<SessionOptions, 'after'>) | undefined,
  ): (request: Request, response: unknown, next: (error?: unknown) => void) => void {
    const { token, ...sessionOptions } = options ?? {};
    if (token !== undefined && typeof token !== 'function')
      throw new ConfigError('sessionMiddleware.token', 'must be a function (request) => string | undefined');
    // Validates the options once, up front.
    this.sessions.create(sessionOptions);
    return (request, _response, next) => {
      const raw = token?.(request);
      const after = typeof raw === 'string' && parseLsn(raw) !== undefined ? raw : undefined;
      this.sessions.run(this.sessions.create({ ...sessionOptions, after }), () => next());
    };
  }

  /** The current session's token (see `QueryRouter.consistencyToken`). */
  token(): string | undefined {
    const position = this.current()?.position;
    return position === undefined ? undefined : tokenOfPosition(position);
  }

  /**
   * Where a statement of `session` (or with an `after` token) runs and what rides with it: a read that must see a
   * position goes to a replica known to have it, else keeps `target` with a probe of its replay position (or is
   * counted on the primary); a write of a read-your-writes session (anything not provably a read) learns its
   * position from a probe after it.
   */
  check(
    session: SessionState | undefined,
    read: boolean,
    autoRoute: boolean,
    provableRead: boolean,
    target: RoutedNode,
    options: QueryOptions | undefined,
  ): PositionCheck {
    let required: bigint | undefined;
    let probe: StatementProbe | undefined;
    if (read) {
      if (autoRoute) required = this.requiredPosition(session, options);
      if (required !== undefined) {
        const fresh = this.choice.freshReplica(required);
        if (fresh !== undefined) {
          target = fresh;
          this.counts.readsOnReplicaKnown++;
        } else if (target !== this.nodes.primary) probe = { sql: REPLAY_POSITION_SQL, before: true, value: undefined };
        else this.counts.readsOnPrimary++;
      }
    } else if (session?.consistency === 'read-your-writes' && !provableRead) {
      // Every statement that is not provably a read is a write of the session: a DML or DDL statement, a SELECT of a
      // VOLATILE function, one a replica once refused as a write (misrouted), whatever its classification says.
      probe = { sql: WRITE_POSITION_SQL, before: false, value: undefined };
    }
    return { session, target, required, probe };
  }

  /** After the statement succeeded: a write records its position; a read stands only if its replica was fresh. */
  async succeeded<R extends QueryResultRow>(
    check: PositionCheck,
    result: QueryResult<R>,
    call: StatementCall,
  ): Promise<QueryResult<R>> {
    const { probe, session, target, required } = check;
    if (probe === undefined) return result;
    if (!probe.before) {
      this.noteWrite(session!, probe.value);
      return result;
    }
    // Kept if the replica had replayed the session's writes before the read began (replay only moves forward).
    if (this.replayedBefore(probe, target, required!)) {
      this.counts.readsOnReplicaChecked++;
      return result;
    }
    return this.staleRead<R>(check, call);
  }

  /**
   * After the statement failed with `error` (`failure` as the breaker reports it): the answer when read-your-writes
   * decides what happens next, `undefined` to leave the failure to the read fallback.
   */
  failed<R extends QueryResultRow>(
    check: PositionCheck,
    error: unknown,
    failure: unknown,
    call: StatementCall,
  ): Promise<QueryResult<R>> | undefined {
    const { probe, session, target, required } = check;
    // A write whose connection failed may have committed: its position is unknown, so the session reads the primary.
    if (probe !== undefined && !probe.before && isConnectionLevelError(error)) this.noteWrite(session!, undefined);
    if (
      required !== undefined &&
      target !== this.nodes.primary &&
      (isNodeFailure(failure) || isCircuitOpenError(failure))
    ) {
      // Another replica may be further behind: only the primary surely has the session's writes.
      this.choice.counts.readFallbacks++;
      return this.readOnPrimary<R>(call);
    }
    if (
      probe?.before === true &&
      (failure as { code?: unknown }).code !== '25006' &&
      !this.replayedBefore(probe, target, required!)
    ) {
      // The replica had not replayed the session's writes when the read ran: its error (42P01 for a table the
      // session just created, 42703 for a new column …) says nothing about the read. Run it where they are.
      return this.staleRead<R>(check, call);
    }
    return undefined;
  }

  /** Records a write of the session at `lsn` (a probe's answer); an unknown position sends its later reads to the primary. */
  noteWrite(session: SessionState, lsn: unknown): void {
    const position = parseLsn(lsn) ?? UNKNOWN_POSITION;
    session.position = laterPosition(session.position, position);
    // Process-wide read-your-writes: a request's session writes for the whole process too.
    const { processWide } = this;
    if (processWide !== undefined && session !== processWide)
      processWide.position = laterPosition(processWide.position, position);
    this.counts.writesTracked++;
  }

  /**
   * The read-your-writes sessions of a pipeline batch's statements learn where their writes landed: the primary's
   * position read after the batch committed covers them. A statement whose connection failed may have committed
   * (its session then reads the primary); one that failed otherwise wrote nothing.
   */
  async notePipelineWrites(statements: readonly PipelineStatement[], outcomes: readonly BatchOutcome[]): Promise<void> {
    const committed = new Set<SessionState>();
    statements.forEach((statement, i) => {
      const session = statement.session as SessionState;
      const outcome = outcomes[i]!;
      if (outcome.ok) committed.add(session);
      else if (isConnectionLevelError(outcome.error) || isNodeFailure(outcome.error))
        this.noteWrite(session, undefined);
    });
    if (committed.size === 0) return;
    let lsn: unknown;
    try {
      lsn = (await fireInternal<{ lsn: string }>(this.nodes.primary, WRITE_POSITION_SQL)).rows[0]?.lsn;
    } catch {
      lsn = undefined; // unknown: those sessions read the primary
    }
    for (const session of committed) this.noteWrite(session, lsn);
  }

  /**
   * The WAL position reads of `session` must see: its writes' (with process-wide read-your-writes, also the rest of
   * the process's); `undefined` for an eventual session or one that wrote nothing.
   */
  positionOf(session: SessionState | undefined): bigint | undefined {
    if (session?.consistency !== 'read-your-writes') return undefined;
    const { processWide } = this;
    return processWide === undefined || session === processWide
      ? session.position
      : laterPosition(session.position, processWide.position);
  }

  /** The WAL position a read must see: the session's (in read-your-writes) and the caller's `after` token, whichever is later. */
  private requiredPosition(session: SessionState | undefined, options: QueryOptions | undefined): bigint | undefined {
    const own = this.positionOf(session);
    return options?.after === undefined ? own : laterPosition(own, positionOfToken(options.after, 'query.after'));
  }

  /** Whether `target` had replayed `required` when the probe in front of a read ran (and notes what it had). */
  private replayedBefore(probe: StatementProbe, target: RoutedNode, required: bigint): boolean {
    const replayed = parseLsn(probe.value);
    if (replayed !== undefined) this.nodes.noteReplayed(target, replayed);
    return replayed !== undefined && replayed >= required;
  }

  /**
   * A read that ran on a replica not yet at the required position: after waiting up to the session's
   * `waitForReplicaMs` for that replica to catch up, run again there, else on the primary.
   */
  private async staleRead<R extends QueryResultRow>(
    check: PositionCheck,
    call: StatementCall,
  ): Promise<QueryResult<R>> {
    const { target, required, session } = check;
    const waitMs = session?.waitForReplicaMs ?? this.options.waitForReplicaMs;
    if (waitMs > 0 && (await this.waitForReplay(target, required!, waitMs))) {
      try {
        const again = await fireOn<R>(target, call);
        this.counts.readsOnReplicaAfterWait++;
        this.choice.counts.replica++;
        return again;
      } catch {
        // The replica failed meanwhile: the primary answers.
      }
    }
    return this.readOnPrimary<R>(call);
  }

  /** Polls `target`'s replayed position (1, 2, 4 … 16 ms apart) until it reaches `required` or `waitMs` pass. */
  private async waitForReplay(target: RoutedNode, required: bigint, waitMs: number): Promise<boolean> {
    const deadline = performance.now() + waitMs;
    for (let delay = 1; performance.now() + delay <= deadline; delay = Math.min(delay * 2, 16)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (target.replayed >= required) return true;
      try {
        const { rows } = await target.pool.execute<{ lsn: string | null }>(REPLAY_POSITION_SQL, undefined, undefined);
        const replayed = parseLsn(rows[0]?.lsn);
        if (replayed !== undefined) this.nodes.noteReplayed(target, replayed);
      } catch {
        return false;
      }
      if (target.replayed >= required) return true;
    }
    return false;
  }

  /** A read-your-writes read no replica could serve: the primary has every write. */
  private async readOnPrimary<R extends QueryResultRow>(call: StatementCall): Promise<QueryResult<R>> {
    const { primary } = this.nodes;
    this.counts.readsOnPrimary++;
    this.choice.counts.primary++;
    try {
      return await fireOn<R>(primary, call);
    } catch (error) {
      return this.fallback.recover<R>(primary.breaker.translate(error), primary, false, call);
    }
  }
}
