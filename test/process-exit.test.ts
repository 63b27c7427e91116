import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sharedCluster } from './helpers/cluster.js';

const cluster = sharedCluster();
const script = fileURLToPath(new URL('./fixtures/exit-without-close.ts', import.meta.url));

describe('a process that never closes its router', () => {
  it('exits by itself once its work is done (idle connections and health checks keep nothing alive), not before', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, cluster.primaryUrl, ...cluster.replicaUrls], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // A bound, not a measurement: the script needs well under a second on an idle machine.
    const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    clearTimeout(bound);
    expect(signal, output).toBeNull();
    expect(code, output).toBe(0);
    expect(output).toContain('answer 42');
  });
});
