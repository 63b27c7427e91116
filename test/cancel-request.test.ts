import { createServer, type Server, type Socket } from 'node:net';
import type { PoolClient } from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../src/cluster/free-port.js';
import { sendCancelRequest } from '../src/pool/cancel-request.js';

/** A client as pg leaves it after connecting: the backend key and the server's address. */
const clientFor = (port: number): PoolClient =>
  ({ processID: 7, secretKey: 9, connectionParameters: { host: '127.0.0.1', port } }) as unknown as PoolClient;

/**
 * The CancelRequest on the wire, against a stand-in server: what matters here is when the client hangs up, which a
 * real PostgreSQL hides (it closes at once). PgBouncer before 1.19.1 exits when the client hangs up first; the
 * test/pgbouncer suite runs the same against a real one.
 */
describe('sendCancelRequest', () => {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const listen = async (onSocket: (socket: Socket) => void): Promise<number> => {
    server = createServer((socket) => {
      sockets.add(socket);
      onSocket(socket);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    return port;
  };
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    server = undefined;
  });

  it('writes the request, then waits for the server to close the connection before closing its own', async () => {
    const received: Buffer[] = [];
    let clientEnded = false;
    let connection: Socket | undefined;
    let arrive = (): void => undefined;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    const port = await listen((socket) => {
      connection = socket;
      socket.on('data', (chunk) => {
        received.push(chunk);
        if (Buffer.concat(received).length >= 16) arrive();
      });
      socket.on('end', () => (clientEnded = true));
    });
    let settled: boolean | undefined;
    const sending = sendCancelRequest(clientFor(port), 30_000).then((sent) => (settled = sent));
    await arrived;
    const message = Buffer.concat(received);
    expect(message.readInt32BE(0)).toBe(16);
    expect(message.readInt32BE(4)).toBe(80877102);
    expect([message.readInt32BE(8), message.readInt32BE(12)]).toEqual([7, 9]);
    // The client holds on: no FIN from it, and no answer yet (a hang-up would reach the server well within this).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(clientEnded).toBe(false);
    expect(settled).toBeUndefined();
    connection!.end();
    expect(await sending).toBe(true);
  });

  it('gives up at its timeout, and reports false when the request could not be written', async () => {
    const port = await listen(() => undefined); // accepts, never answers, never closes
    expect(await sendCancelRequest(clientFor(port), 300)).toBe(true);
    const nobody = await freePort();
    expect(await sendCancelRequest(clientFor(nobody), 5_000)).toBe(false);
  });
});
