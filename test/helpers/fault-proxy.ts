import { createServer, connect, type Server, type Socket } from 'node:net';

/** One message the server sent, as the proxy read it off the wire. */
export interface ServerMessage {
  /** The message type byte: `'C'` CommandComplete, `'Z'` ReadyForQuery, `'E'` ErrorResponse, … */
  readonly type: string;
  /**
   * CommandComplete's tag (`'INSERT 0 1'`, `'COMMIT'`, …), ReadyForQuery's status (`'I'`, `'T'`, `'E'`),
   * RowDescription's column names joined by commas (`'n,ords'`), else `''`.
   */
  readonly text: string;
  /** Which of the proxy's connections it came on (numbered from 1 as they open). */
  readonly connection: number;
  /** The tag of the last CommandComplete before this message on the same connection (`''` if none). */
  readonly lastTag: string;
}

/** Decides, for each server message, whether the connection is cut right before the client receives it. */
export type CutWhen = (message: ServerMessage) => boolean;

/** Cut right after a commit point: the ReadyForQuery (idle) that follows a write's or COMMIT's CommandComplete. */
export const AFTER_COMMIT: CutWhen = ({ type, text, lastTag }) =>
  type === 'Z' && text === 'I' && /^(INSERT|UPDATE|DELETE|COMMIT|MERGE|COPY)\b/.test(lastTag);

/** Cut inside an open transaction, right after a write's CommandComplete reached the client's side of the server. */
export const INSIDE_TRANSACTION: CutWhen = ({ type, text, lastTag }) =>
  type === 'Z' && text === 'T' && /^(INSERT|UPDATE|DELETE|COPY)\b/.test(lastTag);

/** Cut at the `n`-th CommandComplete whose tag starts with `tag` (or matches it), counted from when the cut is armed. */
export function nthCommandComplete(tag: string | RegExp, n: number): CutWhen {
  let seen = 0;
  const matches = (text: string): boolean => (typeof tag === 'string' ? text.startsWith(tag) : tag.test(text));
  return ({ type, text }) => type === 'C' && matches(text) && ++seen === n;
}

/**
 * A TCP proxy in front of a PostgreSQL node that reads the server's messages and can cut a connection at a chosen
 * protocol point: after the server has sent a reply (so it has done the work) but before the client reads it.
 * It can also swallow all traffic (a black hole, as a frozen node looks). Nothing is mocked: both ends are real.
 */
export interface FaultProxy {
  /** `url` with the proxy's port. */
  readonly url: string;
  /** Cuts the first connection on which `when` matches a server message, once; resolves when it did. */
  cutOnce(when: CutWhen): Promise<void>;
  /** Forwards nothing more in either direction (connections stay open) until {@link heal}. */
  blackHole(): void;
  /** Forwards again. */
  heal(): void;
  /** Connections cut so far. */
  readonly cuts: number;
  close(): Promise<void>;
}

/** The column names of a RowDescription's body: Int16 count, then per column a name and 18 bytes of attributes. */
function columnNames(body: Buffer): string {
  const names: string[] = [];
  let offset = 2;
  for (let i = body.readInt16BE(0); i > 0; i--) {
    const end = body.indexOf(0, offset);
    names.push(body.subarray(offset, end).toString('utf8'));
    offset = end + 1 + 18;
  }
  return names.join(',');
}

/** Starts a fault proxy to the node of `targetUrl` on a free loopback port. */
export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  let armed: { when: CutWhen; done: () => void } | undefined;
  let holding = false;
  const held: (() => void)[] = [];
  let cuts = 0;
  let connections = 0;

  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    let cut = false;
    const cutNow = (): void => {
      cut = true;
      cuts++;
      client.destroy();
      upstream.destroy();
    };
    const forward = (to: Socket, chunk: Buffer): void => {
      if (cut) return;
      if (holding) held.push(() => forward(to, chunk));
      else to.write(chunk);
    };
    client.on('data', (chunk: Buffer) => forward(upstream, chunk));

    // Server messages: a type byte and an Int32 length that counts itself. Forwarded whole, one at a time, so a
    // cut can fall between any two of them.
    let pending: Buffer = Buffer.alloc(0);
    let lastTag = '';
    const connection = ++connections;
    upstream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      while (pending.length - offset >= 5) {
        const length = pending.readInt32BE(offset + 1);
        if (pending.length - offset < 1 + length) break;
        const type = String.fromCharCode(pending[offset]!);
        const body = pending.subarray(offset + 5, offset + 1 + length);
        const text =
          type === 'C'
            ? body.subarray(0, body.indexOf(0)).toString('utf8')
            : type === 'Z'
              ? String.fromCharCode(body[0]!)
              : type === 'T'
                ? columnNames(body)
                : '';
        const message = { type, text, lastTag, connection };
        if (type === 'C') lastTag = text;
        if (armed !== undefined && !cut && armed.when(message)) {
          const { done } = armed;
          armed = undefined;
          cutNow();
          done();
          return;
        }
        forward(client, Buffer.from(pending.subarray(offset, offset + 1 + length)));
        offset += 1 + length;
      }
      pending = pending.subarray(offset);
    });
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        (socket === client ? upstream : client).destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);

  return {
    url: url.href,
    cutOnce: (when) =>
      new Promise<void>((resolve) => {
        armed = { when, done: resolve };
      }),
    blackHole: () => {
      holding = true;
    },
    heal: () => {
      holding = false;
      for (const send of held.splice(0)) send();
    },
    get cuts() {
      return cuts;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
