import { createRequire } from 'node:module';
import type { PoolConfig } from 'pg';
import { parse } from 'pg-connection-string';
import { ConfigError } from '../errors.js';

/*
 * OpenTelemetry spans through `@opentelemetry/api`, an optional peer dependency: loaded only when `tracing` is on,
 * and typed here by the few members used, so the router's own types never name a package an app may not have.
 * The attributes follow OpenTelemetry's database conventions; the statement text is the fingerprint (literals
 * replaced), never the SQL as written, which may carry secrets.
 */

type AttributeValue = string | number | boolean;

interface OtelSpan {
  setAttribute(key: string, value: AttributeValue): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error): unknown;
  end(): void;
}

interface OtelTracer {
  startSpan(name: string, options: { kind: number; attributes: Record<string, AttributeValue> }): OtelSpan;
}

interface OtelApi {
  trace: { getTracer(name: string, version?: string): OtelTracer };
}

const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;
const TRACER_NAME = 'pg-query-router';

/** The node a span ran on, as the conventions name it. */
export interface TracedNode {
  readonly node: { readonly name: string; readonly config: PoolConfig };
}

/** What a statement's span says of it. */
export interface TracedStatement {
  /** The statement's fingerprint (literals replaced by `?`). */
  readonly fingerprint: string;
  readonly tables: readonly string[];
  /** Why it was routed where it was. */
  readonly reason: string;
}

/** One span: ended once, with the error it failed with, if any. */
export interface TraceSpan {
  end(error?: unknown): void;
}

/** Each node's attributes, read from its settings once (a connection string is parsed as pg parses it). */
const attributesOfNode = new WeakMap<object, Readonly<Record<string, AttributeValue>>>();

function nodeAttributes({ node }: TracedNode): Record<string, AttributeValue> {
  let known = attributesOfNode.get(node);
  if (known === undefined) {
    const { config } = node;
    const parsed: { host?: string | null; port?: string | null; database?: string | null } =
      typeof config.connectionString === 'string' ? parse(config.connectionString) : {};
    const host = config.host ?? parsed.host ?? undefined;
    const port = config.port ?? (parsed.port === null || parsed.port === undefined ? undefined : Number(parsed.port));
    const database = config.database ?? parsed.database ?? undefined;
    const attributes: Record<string, AttributeValue> = { 'db.system.name': 'postgresql', 'pgrouter.node': node.name };
    if (typeof host === 'string') attributes['server.address'] = host;
    if (typeof port === 'number' && Number.isFinite(port)) attributes['server.port'] = port;
    if (typeof database === 'string') attributes['db.namespace'] = database;
    known = Object.freeze(attributes);
    attributesOfNode.set(node, known);
  }
  return { ...known };
}

function ended(span: OtelSpan): TraceSpan {
  return {
    end: (error?: unknown) => {
      if (error !== undefined) {
        const code = (error as { code?: unknown })?.code;
        span.setAttribute('error.type', typeof code === 'string' ? code : ((error as Error)?.name ?? 'Error'));
        span.setStatus({ code: STATUS_ERROR, message: error instanceof Error ? error.message : String(error) });
        if (error instanceof Error) span.recordException(error);
      }
      span.end();
    },
  };
}

/**
 * The router's spans: one per `query()` (`{operation} {table}`), per `transaction()` and per pipeline batch, each a
 * CLIENT span with the node it ran on (`server.address`, `server.port`, `db.namespace`) and the router's own
 * `pgrouter.*` attributes (node, route, reason, classification cache hit, read-your-writes decision).
 */
export class RouterTracing {
  private readonly tracer: OtelTracer;

  /**
   * Loads `@opentelemetry/api` with `load` (Node's `require` from this module; another only in tests); throws
   * {@link ConfigError} when it is not installed.
   */
  constructor(load: (id: string) => unknown = createRequire(import.meta.url)) {
    let api: OtelApi;
    try {
      api = load('@opentelemetry/api') as OtelApi;
    } catch {
      throw new ConfigError(
        'tracing',
        'needs the @opentelemetry/api package (npm install @opentelemetry/api), and an OpenTelemetry SDK to export the spans',
      );
    }
    // The package's own version (dist/metrics/ and src/metrics/ are both two folders below it).
    const { version } = load('../../package.json') as { version?: string };
    this.tracer = api.trace.getTracer(TRACER_NAME, version);
  }

  /** A `query()` on `target`. */
  statement(
    statement: TracedStatement,
    target: TracedNode & { readonly role: 'primary' | 'replica' },
    cacheHit: boolean,
    consistency: string | undefined,
  ): TraceSpan {
    const operation = /^[a-z]+/i.exec(statement.fingerprint)?.[0]?.toUpperCase() ?? 'QUERY';
    const collection = statement.tables.length === 1 ? statement.tables[0] : undefined;
    const attributes = nodeAttributes(target);
    attributes['db.query.text'] = statement.fingerprint;
    attributes['db.operation.name'] = operation;
    if (collection !== undefined) attributes['db.collection.name'] = collection;
    attributes['pgrouter.route'] = target.role;
    attributes['pgrouter.reason'] = statement.reason;
    attributes['pgrouter.classifier_cache_hit'] = cacheHit;
    if (consistency !== undefined) attributes['pgrouter.consistency'] = consistency;
    const name = collection === undefined ? operation : `${operation} ${collection}`;
    return ended(this.tracer.startSpan(name, { kind: SPAN_KIND_CLIENT, attributes }));
  }

  /** A `transaction()` on `target`, `begin` being its BEGIN statement. */
  transaction(target: TracedNode, begin: string): TraceSpan {
    const attributes = nodeAttributes(target);
    attributes['db.operation.name'] = 'TRANSACTION';
    attributes['pgrouter.begin'] = begin;
    return ended(this.tracer.startSpan('TRANSACTION', { kind: SPAN_KIND_CLIENT, attributes }));
  }

  /** A pipelined batch of `size` statements on `target` (the primary). */
  batch(target: TracedNode, size: number): TraceSpan {
    const attributes = nodeAttributes(target);
    attributes['db.operation.name'] = 'BATCH';
    attributes['db.operation.batch.size'] = size;
    return ended(this.tracer.startSpan('BATCH', { kind: SPAN_KIND_CLIENT, attributes }));
  }
}
