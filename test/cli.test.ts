import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/** Runs the command line with tsx, as `npx pg-query-router …` runs the built file. */
function cli(args: readonly string[]): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
}

describe('pg-query-router cluster start', () => {
  it('rejects a --cascade that is not REPLICA=UPSTREAM with a usage error, before starting anything', () => {
    const run = cli(['cluster', 'start', '--cascade', 'replica2']);
    expect(run.status).toBe(2);
    expect(String(run.stderr)).toContain('--cascade: expected REPLICA=UPSTREAM');
  });

  it('reports a cascade that names no node as the cluster describes it, exit code 1', () => {
    const run = cli(['cluster', 'start', '--replicas', '1', '--cascade', 'replica2=replica1']);
    expect(run.status).toBe(1);
    expect(String(run.stderr)).toMatch(/cascade: key "replica2" names no node/);
  });

  it(
    'starts a chain with --cascade replica2=replica1, prints every URL, and stops on SIGINT',
    { timeout: 120_000 },
    async () => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', CLI, 'cluster', 'start', '--replicas', '2', '--cascade', 'replica2=replica1'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = once(child, 'exit');
      try {
        // The export line is printed once every node accepts connections.
        await new Promise<void>((resolve, reject) => {
          const check = (): void => {
            if (/export DATABASE_URL=/.test(stdout)) resolve();
          };
          child.stdout.on('data', check);
          child.on('exit', () => reject(new Error(`cluster start exited early: ${stderr}`)));
        });
        const urls = new Map(
          [...stdout.matchAll(/^(\S+)\s+(postgres(?:ql)?:\/\/\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const),
        );
        expect([...urls.keys()]).toEqual(['primary', 'replica1', 'replica2']);
        const replica1Port = Number(new URL(urls.get('replica1')!).port);
        const client = new pg.Client({ connectionString: urls.get('replica2')! });
        await client.connect();
        try {
          // The receiver may still be connecting right after start: wait for it, then read its sender.
          let senderPort: number | null = null;
          for (let attempt = 0; attempt < 300 && senderPort === null; attempt++) {
            const { rows } = await client.query<{ sender_port: number | null }>(
              'SELECT sender_port FROM pg_stat_wal_receiver',
            );
            senderPort = rows[0]?.sender_port ?? null;
            if (senderPort === null) await new Promise((r) => setTimeout(r, 100));
          }
          expect(senderPort).toBe(replica1Port);
        } finally {
          await client.end();
        }
      } finally {
        child.kill('SIGINT');
        const [code] = await exited;
        expect(code).toBe(0);
      }
      expect(stderr).toContain('stopped.');
    },
  );
});
