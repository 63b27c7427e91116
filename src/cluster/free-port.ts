import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host` by binding port 0, then releases it.
 *
 * Someone else may take the port before the caller binds it; callers retry with a new port when
 * their server then fails to bind.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close((err) => (err ? reject(err) : port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
