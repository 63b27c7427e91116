import type { EventEmitter } from 'node:events';
import type { QueryResult, QueryResultRow } from 'pg';
import type { QueryOptions, ResolvedOptions } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { PatternLearner } from '../adaptive/index.js';
import type { RouterTracing } from '../metrics/index.js';
import { checkResultOptions } from '../pg-compat/index.js';
import {
  Classifier,
  classifyQuery,
  statementNameFor,
  type Classification,
  type ClassifierEntry,
  type Route,
} from '../sql/index.js';
import { FUNCTION_CATALOG_SQL, FunctionVolatility, type FunctionCatalogRow } from './function-volatility.js';
import type { NodeChoice } from './node-choice.js';
import type { NodeSet, RoutedNode } from './node-set.js';
import { positionOfToken } from './read-consistency.js';
import type { ReadFallback } from './read-fallback.js';
import type { PositionCheck, ReadYourWrites } from './read-your-writes.js';
import type { RouterEvents } from './router-events.js';
import type { RouterWarnings } from './router-warnings.js';
import { StatementCall, execute, fireOn, type SentOptions } from './statement-call.js';
import { checkStatement } from './statement-input.js';
import { enterScopes, leaveScopes, type WorkloadScopes } from './workload-scope.js';

/** Epoch milliseconds at performance.now() 0: the end time the statement path already read, as the learner's time. */
const EPOCH_OF_PERFORMANCE_NOW = performance.timeOrigin;

const QUERY_OPTION_KEYS = new Set(['route', 'fallback', 'timeoutMs', 'signal', 'rowMode', 'types', 'after']);

/** What statement routing works with; each part owns its own state. */
export interface StatementRoutingParts {
  readonly options: ResolvedOptions;
  readonly nodes: NodeSet;
  readonly choice: NodeChoice;
  readonly readYourWrites: ReadYourWrites;
  readonly fallback: ReadFallback;
  readonly scopes: WorkloadScopes;
  readonly learner: PatternLearner | undefined;
  readonly warnings: RouterWarnings;
  readonly events: EventEmitter<RouterEvents>;
  /** Spans, when `tracing` is on. */
  readonly tracing: RouterTracing | undefined;
}

/**
 * The path of one `query()`: the statement's verdict (cached by text), whether its functions let it run on a
 * replica (looked up in the catalog, cached), the node, read-your-writes, the call through the node's breaker, and
 * what happens when it fails. Also the statement facts pipelines and `asPool()` need: verdicts, prepared-statement
 * names.
 */
export class StatementRouting {
  readonly classifier: Classifier;
  readonly volatility: FunctionVolatility;
  /** Whether parameterised statements run as named prepared statements (`statementCache.max > 0`). */
  readonly statementCacheEnabled: boolean;

  constructor(private readonly parts: StatementRoutingParts) {
    const { options, nodes } = parts;
    this.classifier = new Classifier(options.classifierCache.max);
    this.statementCacheEnabled = options.statementCache.max > 0;
    this.volatility = new FunctionVolatility(async (names) => {
      const result = await nodes.primary.pool.execute<FunctionCatalogRow>(FUNCTION_CATALOG_SQL, [names], undefined);
      return result.rows;
    });
  }

  /** The checked, classified entry of a caller's statement (throws the typed input errors). */
  entry(sql: unknown, params: unknown): ClassifierEntry {
    return checkStatement(this.classifier, sql, params);
  }

  /** The prepared-statement name a statement with `paramCount` parameters runs under, if any. */
  statementName(entry: ClassifierEntry, sql: string, paramCount: number): string | undefined {
    return this.statementCacheEnabled && paramCount > 0 ? (entry.statementName ??= statementNameFor(sql)) : undefined;
  }

  /** Runs one statement where the routing rules say (see `QueryRouter.query`). */
  async run<R extends QueryResultRow>(
    sql: string,
    params: readonly unknown[] | undefined,
    options: QueryOptions | undefined,
  ): Promise<QueryResult<R>> {
    const { nodes, choice, readYourWrites, tracing } = this.parts;
    const hitsBefore = this.classifier.hits;
    const entry = checkStatement(this.classifier, sql, params);
    const classification = entry.classification;
    const route = options === undefined ? 'auto' : routeOf(options);
    // Provably a read: anything else that runs on the primary may write, also a SELECT of a VOLATILE function. (A
    // read may still belong on the primary: a multi-statement string, a view of the node's own state.)
    let provableRead = classification.kind === 'read' && !entry.misrouted;
    if (provableRead && classification.functions.length > 0)
      provableRead =
        route === 'auto' && nodes.replicas.length > 0 && (await this.functionsAllowReplica(classification));
    const read =
      nodes.replicas.length > 0 &&
      (route === 'replica' || (route === 'auto' && provableRead && classification.route === 'replica'));
    let target = read ? choice.forRead(route === 'replica') : nodes.primary;
    // Read-your-writes: a read must see a WAL position (the session's writes, a token); a write in such a session
    // learns its position. Both ride a probe in the statement's own round trip.
    const session = readYourWrites.current();
    const check =
      session !== undefined || options?.after !== undefined
        ? readYourWrites.check(session, read, route === 'auto', provableRead, target, options)
        : undefined;
    if (check !== undefined) target = check.target;
    if (nodes.primaryInRecovery && target === nodes.primary && (classification.kind !== 'read' || entry.misrouted))
      throw nodes.noWritablePrimary();
    if (route !== 'auto') choice.counts.forced++;
    choice.count(target);
    const name = params === undefined ? undefined : this.statementName(entry, sql, params.length);
    const call = new StatementCall(entry, sql, params, name, options);
    const scopes = this.parts.scopes.used ? this.parts.scopes.current() : undefined;
    const scopeNode = scopes === undefined ? -1 : nodes.indexOf(target);
    if (scopes !== undefined) enterScopes(scopes, scopeNode);
    let sent: SentOptions | undefined = check?.probe === undefined ? options : { ...options, probe: check.probe };
    if (entry.leavesSession) {
      // Rare by design: the connection is closed after it, so the state never reaches another caller.
      this.parts.warnings.sessionStateSentAlone();
      sent = { ...sent, leavesSession: true };
    }
    const span = tracing?.statement(classification, target, this.classifier.hits > hitsBefore, decisionOf(check));
    // The error the call ends with, for its span: cleared when a fallback answers.
    let spanError: unknown;
    const started = performance.now();
    try {
      let result: QueryResult<R>;
      const breaker = target.breaker;
      if (breaker.admit()) {
        // fireOn() on a closed breaker, written out: the breaker hears the outcome as from fire(), without the
        // promise and closures fire() wraps around the call (the one statement of a query() on the hot path).
        try {
          result = await execute<R>(target.pool, call, sent);
        } catch (error) {
          breaker.failed(error);
          throw error;
        }
        breaker.succeeded(result);
      } else result = await fireOn<R>(target, call, sent);
      this.observe(classification, target, started, true);
      return check === undefined ? result : await readYourWrites.succeeded(check, result, call);
    } catch (error) {
      spanError = error;
      this.observe(classification, target, started, false);
      const failure = target.breaker.translate(error);
      const answer = check === undefined ? undefined : readYourWrites.failed<R>(check, error, failure, call);
      if (answer !== undefined) {
        const answered = await answer;
        spanError = undefined;
        return answered;
      }
      const result = await this.parts.fallback.recover<R>(failure, target, read && route === 'auto', call);
      spanError = undefined;
      // A misrouted write (SQLSTATE 25006) re-run on the primary: its position was not probed.
      if (session?.consistency === 'read-your-writes' && entry.misrouted) readYourWrites.noteWrite(session, undefined);
      return result;
    } finally {
      if (scopes !== undefined) leaveScopes(scopes, scopeNode);
      span?.end(spanError);
    }
  }

  /** How `sql` would be routed, without running it (see `QueryRouter.explain`). */
  explain(sql: string): Classification {
    if (typeof sql !== 'string') return classifyQuery(sql);
    const cached = this.classifier.peek(sql);
    const entry = cached ?? this.classifier.classify(sql);
    let result: Classification = { ...entry.classification, cached: cached !== undefined };
    if (entry.leavesSession) {
      result = {
        ...result,
        reason: `${result.reason}; sent alone, its connection is closed after it, so its session state does not carry to the next call (use transaction() or asPool().connect())`,
      };
    }
    if (cached?.misrouted === true)
      result = {
        ...result,
        route: 'primary',
        kind: 'write',
        reason: 'a replica refused it as a write (SQLSTATE 25006); now sent to the primary',
      };
    if (result.route === 'replica' && result.functions.length > 0) {
      const verdict = this.volatility.known(result.functions);
      if (verdict === undefined)
        result = {
          ...result,
          reason: `${result.reason}; volatility of ${result.functions.join(', ')} not looked up yet`,
        };
      else if (!verdict.safe) result = { ...result, route: 'primary', kind: 'write', reason: verdict.reason };
    }
    return Object.freeze(result);
  }

  /** Hands a statement that began at `started` (performance.now()) to the pattern learner and the slow-query event. */
  private observe(classification: Classification, target: RoutedNode, started: number, ok: boolean): void {
    const ended = performance.now();
    const durationMs = ended - started;
    this.parts.learner?.record(classification, target.role, durationMs, ok, EPOCH_OF_PERFORMANCE_NOW + ended);
    const slowMs = this.parts.options.slowQueryMs;
    if (slowMs > 0 && durationMs >= slowMs)
      this.parts.events.emit('slowQuery', {
        node: target.node.name,
        fingerprint: classification.fingerprint,
        durationMs,
      });
  }

  private async functionsAllowReplica(classification: Classification): Promise<boolean> {
    let verdict = this.volatility.known(classification.functions);
    if (verdict === undefined) {
      try {
        verdict = await this.volatility.check(classification.functions);
      } catch {
        // The catalog cannot be read (the primary is unreachable): the safe answer is the primary.
        this.parts.choice.counts.volatileFunction++;
        return false;
      }
    }
    if (!verdict.safe) this.parts.choice.counts.volatileFunction++;
    return verdict.safe;
  }
}

/** The read-your-writes decision a span reports: where a read that must see a position went, or a tracked write. */
function decisionOf(check: PositionCheck | undefined): string | undefined {
  if (check === undefined) return undefined;
  if (check.probe !== undefined) return check.probe.before ? 'replica-checked' : 'write-tracked';
  if (check.required === undefined) return undefined;
  return check.target.role === 'primary' ? 'primary' : 'replica-known';
}

/** Validates a caller's per-call options (throwing {@link ConfigError} for the first bad one) and returns its route. */
function routeOf(options: QueryOptions): 'auto' | Route {
  if (typeof options !== 'object' || options === null) throw new ConfigError('query options', 'must be an object');
  for (const key in options) {
    if (!QUERY_OPTION_KEYS.has(key))
      throw new ConfigError(`query.${key}`, `unknown option; expected one of ${[...QUERY_OPTION_KEYS].join(', ')}`);
  }
  const route = options.route ?? 'auto';
  if (route !== 'auto' && route !== 'primary' && route !== 'replica') {
    throw new ConfigError('query.route', `must be 'auto', 'primary' or 'replica', got ${JSON.stringify(route)}`);
  }
  if (options.fallback !== undefined && typeof options.fallback !== 'function')
    throw new ConfigError('query.fallback', 'must be a function (error, sql) => result');
  if (
    options.timeoutMs !== undefined &&
    (typeof options.timeoutMs !== 'number' || !Number.isInteger(options.timeoutMs) || options.timeoutMs < 0)
  ) {
    throw new ConfigError('query.timeoutMs', `must be an integer ≥ 0, got ${JSON.stringify(options.timeoutMs)}`);
  }
  checkResultOptions(options);
  if (options.after !== undefined) positionOfToken(options.after, 'query.after');
  return route;
}
