/**
 * What every benchmark entry shares: progress lines on stderr, one local cluster started for the run and always
 * stopped (also on Ctrl-C), and the servers' last log lines printed if the run fails.
 */
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/testing.js';

/** Writes a progress line to stderr (rewritten in place on a terminal). */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
  else process.stderr.write(`${message}\n`);
}

const SERVER_LOG_LINES = 60;

/**
 * Starts a local cluster, runs `body` with it and stops it whatever happens. The first Ctrl-C stops the cluster
 * and exits 130; a second exits at once (the cluster's own exit hook still kills the servers). A failure prints
 * its stack and the servers' last log lines, since a node that would not start says why only there, and sets
 * exit code 1.
 */
export function runBench(
  options: Omit<LocalClusterOptions, 'log'>,
  body: (cluster: LocalCluster) => Promise<void>,
): void {
  let cluster: LocalCluster | undefined;
  let interrupted = false;
  const serverLog: string[] = [];
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping the local cluster…\n');
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  const main = async (): Promise<void> => {
    process.on('SIGINT', onSigint);
    try {
      cluster = await startLocalCluster({
        ...options,
        log: (line) => {
          serverLog.push(line);
          if (serverLog.length > SERVER_LOG_LINES) serverLog.shift();
        },
      });
      await body(cluster);
    } finally {
      process.off('SIGINT', onSigint);
      await cluster?.stop();
    }
  };
  main().catch((error: unknown) => {
    // After Ctrl-C the statements in flight fail as the servers go away; that is not worth a stack trace.
    if (interrupted) return;
    process.stderr.write(
      `\nbenchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    if (serverLog.length > 0) process.stderr.write(`last server log lines:\n${serverLog.join('\n')}\n`);
    process.exitCode = 1;
  });
}
