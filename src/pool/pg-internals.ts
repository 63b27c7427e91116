import { createRequire } from 'node:module';
import type pg from 'pg';
import type { PoolClient, QueryConfig, QueryResult } from 'pg';
import { supportsPoolCeiling } from './pg-pool-internals.js';

export { setPoolCeiling, supportsPoolCeiling } from './pg-pool-internals.js';

/**
 * The parts of `pg`'s client internals the statement cache relies on (pg 8.x, `lib/connection.js` and
 * `lib/query.js`). They are not public API, so every access goes through this file and its two siblings:
 * `pg-query.ts` (statements as pg's own Query objects) and `pg-pool-internals.ts` (pg-pool's options).
 *
 * - `parsedStatements` / `submittedNamedStatements`: the names pg believes the server has prepared; pg skips
 *   the Parse message for a name found here and never forgets one by itself.
 * - `close({ type: 'S', name })`: writes a Close message. PostgreSQL answers CloseComplete, which pg ignores,
 *   and closing a name that does not exist is not an error, so the message can ride in front of the next query
 *   without a round trip of its own.
 */
interface WireConnection {
  parsedStatements: Record<string, string | undefined>;
  submittedNamedStatements?: Record<string, string | undefined>;
  close(message: { type: 'S' | 'P'; name: string }): void;
}

function wire(client: PoolClient): WireConnection | undefined {
  const connection = (client as unknown as { connection?: Partial<WireConnection> }).connection;
  if (
    connection === undefined ||
    typeof connection.close !== 'function' ||
    typeof connection.parsedStatements !== 'object'
  )
    return undefined;
  return connection as WireConnection;
}

/** True when `client` exposes the internals above (every pg 8 release does); otherwise statements run unnamed. */
export function supportsStatementCache(client: PoolClient): boolean {
  return wire(client) !== undefined;
}

/** Whether pg will skip the Parse message for `name` on this connection. */
export function isPrepared(client: PoolClient, name: string): boolean {
  const connection = wire(client);
  return (
    connection !== undefined &&
    (connection.parsedStatements[name] !== undefined || connection.submittedNamedStatements?.[name] !== undefined)
  );
}

/** Makes pg forget `name` without telling the server (the server no longer has it). */
export function forgetPrepared(client: PoolClient, name: string): void {
  const connection = wire(client);
  if (connection === undefined) return;
  delete connection.parsedStatements[name];
  if (connection.submittedNamedStatements !== undefined) delete connection.submittedNamedStatements[name];
}

/**
 * Closes a prepared statement on the server and makes pg forget it. The Close message is queued on the socket
 * and reaches the server before the next query's messages.
 */
export function closePreparedStatement(client: PoolClient, name: string): void {
  const connection = wire(client);
  if (connection === undefined) return;
  delete connection.parsedStatements[name];
  if (connection.submittedNamedStatements !== undefined) delete connection.submittedNamedStatements[name];
  connection.close({ type: 'S', name });
}

interface PipelineCapable {
  pipeline?: boolean;
  connection?: { stream?: { cork?: () => void; uncork?: () => void } };
}

/** True when this pg client can pipeline (pg ≥ 8.23 has a `pipeline` client mode). */
export function supportsPipelining(client: PoolClient): boolean {
  return typeof (client as unknown as PipelineCapable).pipeline === 'boolean';
}

/**
 * Switches a checked-out, idle client in or out of pg's pipeline mode. In pipeline mode pg writes each query as
 * soon as it is queued instead of waiting for the previous one's ReadyForQuery; every query still ends with its
 * own Sync, so one statement's error does not disturb the next. Only switch back once every query has settled.
 */
export function setPipelineMode(client: PoolClient, on: boolean): void {
  (client as unknown as PipelineCapable).pipeline = on;
}

/** Holds the socket's writes until {@link uncorkSocket}, so a whole batch leaves in one write. */
export function corkSocket(client: PoolClient): void {
  (client as unknown as PipelineCapable).connection?.stream?.cork?.();
}

/** Releases what {@link corkSocket} held. */
export function uncorkSocket(client: PoolClient): void {
  (client as unknown as PipelineCapable).connection?.stream?.uncork?.();
}

/** True when {@link corkSocket} holds writes on this client; otherwise a batch leaves in several writes. */
export function supportsSocketCork(client: pg.ClientBase): boolean {
  const stream = socketOf(client);
  return typeof stream?.cork === 'function' && typeof stream.uncork === 'function';
}

/** pg's socket under `client` (pg `lib/connection.js`: `connection.stream`), as far as it can be seen. */
function socketOf(
  client: pg.ClientBase,
): Partial<Record<'cork' | 'uncork' | 'destroy' | 'write', unknown>> | undefined {
  const stream = (client as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  return typeof stream === 'object' && stream !== null ? stream : undefined;
}

/** pg's `lib/utils.js`, or `undefined` if this pg has none with a `prepareValue` (lean batches are then off). */
const pgUtils = ((): { prepareValue(value: unknown): unknown } | undefined => {
  try {
    const utils = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue?: unknown } | undefined;
    return typeof utils?.prepareValue === 'function' ? (utils as { prepareValue(value: unknown): unknown }) : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * pg's own conversion of a parameter to its wire form (`lib/utils.js`: dates, arrays, JSON, Buffers, `toPostgres`):
 * `null`, a string (text format) or a Buffer (binary). Used by code that writes Bind messages itself, so parameters
 * travel exactly as pg would send them. Throws if pg has none: call it only where {@link supportsLeanBatch} holds.
 */
export const prepareValue: (value: unknown) => unknown =
  pgUtils?.prepareValue ??
  (() => {
    throw new Error('pg/lib/utils.js has no prepareValue: parameters cannot be converted as pg would');
  });

/** The messages of pg-protocol's serializer that the pool writes itself (lean batches, cancel requests). */
export interface ProtocolSerializer {
  bind(config: { statement?: string; values?: unknown[]; valueMapper?: (value: unknown) => unknown }): Buffer;
  execute(config?: { portal?: string; rows?: number }): Buffer;
  sync(): Buffer;
  /** A Parse of `text` (unnamed unless `name`). */
  parse(config: { text: string; name?: string; types?: number[] }): Buffer;
  /** One CopyData message carrying `chunk`. */
  copyData(chunk: Buffer): Buffer;
  copyDone(): Buffer;
  /** A CancelRequest for the backend with this process id and secret key. */
  cancel(processID: number, secretKey: number): Buffer;
}

/**
 * pg-protocol's serializer, taken from the copy pg itself loads (pg-protocol is pg's dependency, not this package's),
 * so the messages are encoded by the very code that encodes pg's own.
 */
export const protocolSerializer = (
  createRequire(createRequire(import.meta.url).resolve('pg'))('pg-protocol') as { serialize: ProtocolSerializer }
).serialize;

/**
 * Cuts a client's socket at once. pg's `end()` sends Terminate and waits for the server to close, which a frozen or
 * unreachable node never does; destroying the socket fails the client's pending queries with a connection error.
 */
export function destroySocket(client: pg.ClientBase): void {
  (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}

/** True when {@link destroySocket} can cut this client's socket; otherwise it does nothing. */
export function supportsSocketDestroy(client: pg.ClientBase): boolean {
  return typeof socketOf(client)?.destroy === 'function';
}

/** What a CancelRequest needs of a connected client: its backend's key and where the server listens. */
export interface BackendKey {
  readonly processID: number;
  readonly secretKey: number;
  readonly host: string;
  readonly port: number;
}

/** `client`'s backend key (sent by the server at startup) and address, or `undefined` if pg does not expose them. */
export function backendKeyOf(client: pg.ClientBase): BackendKey | undefined {
  const target = client as unknown as {
    processID?: unknown;
    secretKey?: unknown;
    connectionParameters?: { host?: unknown; port?: unknown };
  };
  const { processID, secretKey } = target;
  const host = target.connectionParameters?.host;
  const port = target.connectionParameters?.port;
  if (
    typeof processID !== 'number' ||
    typeof secretKey !== 'number' ||
    typeof host !== 'string' ||
    typeof port !== 'number'
  )
    return undefined;
  return { processID, secretKey, host, port };
}

/** What the server answers to messages written with {@link submitRaw}, as pg hands them over. */
export interface RawReplies {
  /** A statement completed with this command tag (`INSERT 0 1`, `UPDATE 7`, …). */
  commandComplete(tag: string): void;
  /**
   * An ErrorResponse, a lost connection or a client that cannot take queries. pg stops treating the messages as
   * its active query here (the server skips to the Sync; its ReadyForQuery then only moves pg's queue on), so
   * nothing more is reported after it.
   */
  error(error: Error): void;
  /** The server's ReadyForQuery after the messages' Sync. */
  readyForQuery(): void;
}

/**
 * Queues `payload`, extended-protocol messages ending with a Sync, on `client` as one query: pg writes it to the
 * socket when the client is free and routes the server's answers to `replies` until its ReadyForQuery. Uses pg's
 * Submittable extension point (the one pg-cursor uses), whose `submit` receives pg's private connection. Only on
 * a client NOT in pipeline mode, and only for messages whose answers carry no rows.
 */
export function submitRaw(client: PoolClient, payload: Buffer, replies: RawReplies): void {
  void client.query(new RawSubmittable(payload, replies) as unknown as QueryConfig);
}

/** The shape pg expects of a Submittable (pg `lib/client.js`: `submit`, then one `handle…` per server message). */
class RawSubmittable {
  constructor(
    private readonly payload: Buffer,
    private readonly replies: RawReplies,
  ) {}

  /** pg's hook to write the query; an Error returned instead is handed to `handleError` by pg. */
  submit(connection: { stream?: { write?: (chunk: Buffer) => boolean } } | undefined): Error | undefined {
    const stream = connection?.stream;
    if (typeof stream?.write !== 'function') return new Error("pg's connection has no writable stream");
    stream.write(this.payload);
    return undefined;
  }

  handleCommandComplete(message: { text: string }): void {
    this.replies.commandComplete(message.text);
  }

  handleError(error: Error): void {
    this.replies.error(error);
  }

  handleReadyForQuery(): void {
    this.replies.readyForQuery();
  }

  // Never sent for messages without rows; present because pg calls whichever the server's messages ask for.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(): void {}
  handleCopyData(): void {}
}

/** pg's `Query` class (public as `pg.Query`), or `undefined` if this pg has none to build on. */
const PgQuery = ((): (new (config: object) => object) | undefined => {
  try {
    const Query = (createRequire(import.meta.url)('pg') as { Query?: unknown }).Query;
    return typeof Query === 'function' ? (Query as new (config: object) => object) : undefined;
  } catch {
    return undefined;
  }
})();

/** What pg's Query hands its callback: a Result with the command tag read (`COPY 1000` → `COPY`, 1000). */
type CopyInCallback = (error: Error | null, result: QueryResult) => void;

/**
 * A `COPY … FROM STDIN` whose data is already known, as one pg query: `payload` holds Parse, Bind, Execute, every
 * CopyData, CopyDone and Sync, and is written at once. PostgreSQL reads the CopyData that follows the Execute
 * without the client waiting for its CopyInResponse, so the COPY needs no round trip of its own.
 *
 * It extends pg's `Query` because pg's pipeline mode refuses any other Submittable (to protect queries that keep a
 * portal open between round trips, e.g. cursors); this one keeps nothing open, and pg's Query already turns
 * CommandComplete, an ErrorResponse and ReadyForQuery into its callback. Only `submit` (write the payload) and the
 * CopyInResponse handler (pg's would send CopyFail: "no source stream") differ.
 */
function copyInQuery(payload: Buffer, callback: CopyInCallback): object {
  if (PgQuery === undefined) throw new Error('pg has no Query class: a COPY cannot be sent');
  class CopyInQuery extends PgQuery {
    submit(connection: { stream?: { write?: (chunk: Buffer) => boolean } } | undefined): Error | null {
      const stream = connection?.stream;
      if (typeof stream?.write !== 'function') return new Error("pg's connection has no writable stream");
      stream.write(payload);
      return null;
    }

    handleCopyInResponse(): void {}
  }
  return new CopyInQuery({ text: 'COPY … FROM STDIN', callback });
}

/**
 * Queues a prepared `COPY … FROM STDIN` payload (see {@link copyInQuery}) on `client`, in pipeline mode or not;
 * resolves with pg's result for it (`command: 'COPY'`, `rowCount`: the rows copied) or rejects with its error.
 */
export function submitCopyIn(client: PoolClient, payload: Buffer): Promise<QueryResult> {
  return new Promise<QueryResult>((resolve, reject) => {
    const query = copyInQuery(payload, (error, result) => (error ? reject(error) : resolve(result)));
    void client.query(query as unknown as QueryConfig);
  });
}

/** True when pg has what {@link submitCopyIn} builds on: its `Query` class (and `prepareValue` for the rows). */
export function supportsCopyIn(): boolean {
  return PgQuery !== undefined && pgUtils !== undefined;
}

/**
 * True when this client can take a lean batch: pg hands a Submittable a connection whose socket {@link submitRaw}
 * can write to, and pg's {@link prepareValue} is there to convert its parameters.
 */
export function supportsLeanBatch(client: pg.ClientBase): boolean {
  return pgUtils !== undefined && typeof client.query === 'function' && typeof socketOf(client)?.write === 'function';
}

/** One of the pg internals the router relies on, each checked once per pool at start when its first connection opens. */
export type InternalFeature =
  /** `connection.parsedStatements` and `close()`: the per-connection prepared-statement cache. */
  | 'statement-cache'
  /** The client's `pipeline` mode: a batch, or a statement and its probe, in one round trip. */
  | 'pipeline-mode'
  /** Corking pg's socket: a pipelined batch in one write. */
  | 'socket-cork'
  /** Destroying pg's socket: cutting a node that answers neither a statement nor its cancel, and a late shutdown. */
  | 'socket-destroy'
  /** The backend's process id and secret key, and its address: cancel requests. */
  | 'backend-key'
  /** pg-pool's `options.max`: resizing the pool (adaptive sizing, reservations). */
  | 'pool-ceiling'
  /** pg's Submittable writing to the socket, and pg's `prepareValue`: `BEGIN … COMMIT` batches sent lean. */
  | 'lean-batch';

/** A pg internal that is not as expected, so the feature built on it is off. */
export interface DisabledInternal {
  readonly feature: InternalFeature;
  /** What was not found, and what the pool does without it. */
  readonly reason: string;
}

/** Each internal's check and what its absence means, in the order {@link probeInternals} reports them. */
const PROBES: readonly {
  readonly feature: InternalFeature;
  readonly available: (client: pg.ClientBase, pool: pg.Pool) => boolean;
  readonly reason: string;
}[] = [
  {
    feature: 'statement-cache',
    available: (client) => supportsStatementCache(client as PoolClient),
    reason: "pg's connection has no parsedStatements or close(): every statement runs unnamed (no statement cache)",
  },
  {
    feature: 'pipeline-mode',
    available: (client) => supportsPipelining(client as PoolClient),
    reason:
      "pg's client has no pipeline mode: a batch's statements, and a statement and its probe, run one after another",
  },
  {
    feature: 'socket-cork',
    available: supportsSocketCork,
    reason: "pg's socket cannot be corked: a pipelined batch leaves in several writes",
  },
  {
    feature: 'socket-destroy',
    available: supportsSocketDestroy,
    reason:
      "pg's socket cannot be destroyed: a node that answers neither a statement nor its cancel is not cut off, and " +
      'a shutdown past its deadline does not cut busy connections',
  },
  {
    feature: 'backend-key',
    available: (client) => backendKeyOf(client) !== undefined,
    reason:
      "pg's client exposes no backend key (processID, secretKey) or address: no cancel request is sent, so a " +
      'statement past its deadline or aborted has its connection cut after the grace period',
  },
  {
    feature: 'pool-ceiling',
    available: (_client, pool) => supportsPoolCeiling(pool),
    reason: 'pg-pool has no options.max: resize() does nothing and the pool stays at max (no adaptive sizing)',
  },
  {
    feature: 'lean-batch',
    available: supportsLeanBatch,
    reason:
      "pg's Submittable cannot write to the socket, or pg has no lib/utils.js prepareValue: BEGIN … COMMIT batches " +
      "of prepared writes go through pg's pipeline mode instead",
  },
];

/** Every feature {@link probeInternals} checks. */
export const INTERNAL_FEATURES: readonly InternalFeature[] = PROBES.map((probe) => probe.feature);

/**
 * Checks each pg internal the router relies on against a connected `client` of `pool` (see {@link InternalFeature})
 * and returns the ones that are not as expected, each with why and what the pool does without it; empty when all
 * are there. Pure and cheap (property reads only): run it once per pool, on its first connection. Each feature
 * also checks its internal where it is used, so a missing one is skipped the same way whether probed or not.
 */
export function probeInternals(client: pg.ClientBase, pool: pg.Pool): DisabledInternal[] {
  const disabled: DisabledInternal[] = [];
  for (const { feature, available, reason } of PROBES)
    if (!safely(() => available(client, pool))) disabled.push({ feature, reason });
  return disabled;
}

/** A check that throws (a getter of a changed pg) counts as a missing internal, not as a failed connection. */
function safely(check: () => boolean): boolean {
  try {
    return check();
  } catch {
    return false;
  }
}

/**
 * Lets the process exit while `client`'s socket is the only thing left (pg's `Client#unref`, which pg-pool's
 * `allowExitOnIdle` uses too). Returns false where pg has no such method.
 */
export function unrefClient(client: pg.ClientBase): boolean {
  const unref = (client as unknown as { unref?: unknown }).unref;
  if (typeof unref !== 'function') return false;
  (unref as () => void).call(client);
  return true;
}

/** What pg calls on the query it runs (pg's Submittable contract, which pg-cursor and pg-query-stream implement). */
interface DrivenSubmittable {
  handleReadyForQuery?: (...args: unknown[]) => unknown;
  handleError?: (...args: unknown[]) => unknown;
}

/**
 * Runs a Submittable (a pg-cursor `Cursor`, a pg-query-stream `QueryStream`, …) on `client` with pg's public
 * `client.query(submittable)`, and calls `settled` once: with `undefined` when pg hands it ReadyForQuery (it is done
 * and the connection is free), or with the error it failed with (a server error: the connection goes on; a
 * connection-level one: it is lost). Watching needs pg's two handler names on the object.
 */
export function submitWatched(client: pg.ClientBase, submittable: object, settled: (error: unknown) => void): void {
  const target = submittable as DrivenSubmittable;
  const own = { ready: Object.hasOwn(target, 'handleReadyForQuery'), error: Object.hasOwn(target, 'handleError') };
  const ready = target.handleReadyForQuery;
  const failed = target.handleError;
  let done = false;
  const finish = (error: unknown): void => {
    if (done) return;
    done = true;
    if (own.ready) target.handleReadyForQuery = ready;
    else delete target.handleReadyForQuery;
    if (own.error) target.handleError = failed;
    else delete target.handleError;
    settled(error);
  };
  target.handleReadyForQuery = function (this: unknown, ...args: unknown[]) {
    try {
      return ready?.apply(this, args);
    } finally {
      finish(undefined);
    }
  };
  target.handleError = function (this: unknown, ...args: unknown[]) {
    const error = args[0];
    try {
      return failed?.apply(this, args);
    } finally {
      // pg drops a query once it has failed (its ReadyForQuery goes to no one): it is done. Statements sent on the
      // connection after it wait in pg's queue for that ReadyForQuery, so the connection may be handed on at once.
      finish(error);
    }
  };
  client.query(submittable as pg.Submittable);
}

/** Fails a Submittable that never reached a connection (its node could not be reached), as pg would fail it. */
export function failSubmittable(submittable: object, error: Error): void {
  const handleError = (submittable as DrivenSubmittable).handleError;
  if (typeof handleError === 'function') handleError.call(submittable, error);
}
