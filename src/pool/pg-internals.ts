import { createRequire } from 'node:module';
import type pg from 'pg';
import type { PoolClient, QueryConfig } from 'pg';

/**
 * The parts of `pg`'s client internals the statement cache relies on (pg 8.x, `lib/connection.js` and
 * `lib/query.js`). They are not public API, so every access goes through this one file.
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

interface ResizablePool {
  options?: { max?: number; min?: number };
}

/**
 * Changes the most connections a `pg.Pool` opens. pg-pool reads `options.max` each time it decides whether to
 * open a connection, so a new value applies at once. Callers already waiting are not served by raising it
 * (pg-pool would hand each one a connection of its own still to be opened): the caller opens connections for
 * them. Connections above a lowered ceiling stay until they are closed.
 * With `keepIdle`, also sets `options.min`, below which pg-pool's idle timeout closes nothing.
 * Returns false when the pool does not look as expected (the ceiling then stays as configured).
 */
export function setPoolCeiling(pool: pg.Pool, max: number, keepIdle?: number): boolean {
  const internals = pool as unknown as ResizablePool;
  if (typeof internals.options?.max !== 'number') return false;
  internals.options.max = max;
  // pg-pool's idle timeout closes only connections above options.min: raising it keeps that many warm.
  if (keepIdle !== undefined) internals.options.min = keepIdle;
  return true;
}

/**
 * pg's own conversion of a parameter to its wire form (`lib/utils.js`: dates, arrays, JSON, Buffers, `toPostgres`):
 * `null`, a string (text format) or a Buffer (binary). Used by code that writes Bind messages itself, so parameters
 * travel exactly as pg would send them.
 */
export const prepareValue = (
  createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(value: unknown): unknown }
).prepareValue;

/**
 * Cuts a client's socket at once. pg's `end()` sends Terminate and waits for the server to close, which a frozen or
 * unreachable node never does; destroying the socket fails the client's pending queries with a connection error.
 */
export function destroySocket(client: pg.ClientBase): void {
  (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
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

/** True when pg hands a Submittable a connection whose socket {@link submitRaw} can write to. */
export function supportsRawSubmit(client: PoolClient): boolean {
  const stream = (client as unknown as { connection?: { stream?: { write?: unknown } } }).connection?.stream;
  return typeof client.query === 'function' && typeof stream?.write === 'function';
}
