#!/usr/bin/env node
/**
 * The `pg-query-router` command. Each command is one entry of {@link COMMANDS}: a name of one or
 * more words, its usage line, a summary, and a `run` that returns the exit code.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { startLocalCluster, type NodeSelector } from './testing.js';
import { runDemo } from './demo.js';

/** A command of the CLI. */
interface Command {
  /** Words that select it, e.g. `cluster start`. */
  readonly name: string;
  /** Everything after the program name, e.g. `cluster start [--replicas N]`. */
  readonly usage: string;
  readonly summary: string;
  /** Runs with the arguments after the command's words; resolves to the exit code. */
  run(args: string[]): Promise<number>;
}

/** Bad arguments: the message and the usage go to stderr, exit code 2. */
class UsageError extends Error {}

const PROGRAM = 'pg-query-router';

/** Runs parseArgs, turning its complaints (unknown option, missing value) into a {@link UsageError}. */
function parsing<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** Single-quotes a value for POSIX shells. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Resolves on the first SIGINT or SIGTERM. Installed before anything slow, so an early Ctrl-C is not lost. */
function nextStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * `--cascade replica2=replica1` (repeatable) as `startLocalCluster`'s `cascade` option; names or node indices on
 * either side. The cluster itself checks that the nodes exist and form no loop.
 */
function cascadeOption(pairs: readonly string[]): Record<string, NodeSelector> | undefined {
  if (pairs.length === 0) return undefined;
  const cascade: Record<string, NodeSelector> = {};
  for (const pair of pairs) {
    const match = /^([^=\s]+)=([^=\s]+)$/.exec(pair);
    if (match === null)
      throw new UsageError(`--cascade: expected REPLICA=UPSTREAM (e.g. replica2=replica1), got "${pair}"`);
    const upstream = match[2]!;
    cascade[match[1]!] = /^\d+$/.test(upstream) ? Number(upstream) : upstream;
  }
  return cascade;
}

const clusterStart: Command = {
  name: 'cluster start',
  usage: 'cluster start [--replicas N] [--cascade REPLICA=UPSTREAM]… [--pg-bin DIR] [--verbose]',
  summary: 'start a local primary and N streaming replicas (default 2), print their URLs, run until Ctrl-C',
  async run(args) {
    const { values } = parsing(() =>
      parseArgs({
        args,
        strict: true,
        allowPositionals: false,
        options: {
          replicas: { type: 'string', short: 'r' },
          cascade: { type: 'string', multiple: true },
          'pg-bin': { type: 'string' },
          verbose: { type: 'boolean', short: 'v' },
        },
      }),
    );
    if (values.replicas !== undefined && !/^\d+$/.test(values.replicas)) {
      throw new UsageError(`--replicas: expected a whole number, got "${values.replicas}"`);
    }
    const replicas = values.replicas === undefined ? 2 : Number(values.replicas);
    const cascade = cascadeOption(values.cascade ?? []);
    const stopSignal = nextStopSignal();
    // The servers are unref'ed; this timer is what keeps the command running until a signal.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      const started = Date.now();
      const cluster = await startLocalCluster({
        replicas,
        ...(cascade === undefined ? {} : { cascade }),
        ...(values['pg-bin'] === undefined ? {} : { pgBin: values['pg-bin'] }),
        ...(values.verbose === true ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
      });
      const width = Math.max(...cluster.nodes.map((n) => n.name.length));
      for (const node of cluster.nodes) process.stdout.write(`${node.name.padEnd(width)}  ${node.url}\n`);
      process.stdout.write(
        `\nexport DATABASE_URL=${shellQuote(cluster.primaryUrl)} DATABASE_REPLICA_URLS=${shellQuote(cluster.replicaUrls.join(','))}\n\n`,
      );
      process.stderr.write(
        `PostgreSQL ${cluster.version} from ${cluster.binDir}, started in ${Date.now() - started} ms; data in ${cluster.dir}.\n` +
          'Press Ctrl-C to stop.\n',
      );
      const signal = await stopSignal;
      process.stderr.write(`${signal}: stopping the cluster…\n`);
      await cluster.stop();
      process.stderr.write('stopped.\n');
      return 0;
    } finally {
      clearInterval(keepAlive);
    }
  },
};

const demo: Command = {
  name: 'demo',
  usage: 'demo [--seconds N] [--concurrency N] [--port N]',
  summary: 'start a local primary + 2 replicas and drive a live mixed workload through the router (npm start)',
  async run(args) {
    const { values } = parsing(() =>
      parseArgs({
        args,
        strict: true,
        allowPositionals: false,
        options: { seconds: { type: 'string' }, concurrency: { type: 'string' }, port: { type: 'string' } },
      }),
    );
    const whole = (name: string, value: string | undefined): number | undefined => {
      if (value === undefined) return undefined;
      if (!/^[1-9]\d*$/.test(value))
        throw new UsageError(`--${name}: expected a positive whole number, got "${value}"`);
      return Number(value);
    };
    const seconds = whole('seconds', values.seconds ?? process.env['DEMO_SECONDS']);
    const concurrency = whole('concurrency', values.concurrency);
    const port = whole('port', values.port ?? process.env['DEMO_PORT']);
    await runDemo({
      ...(seconds === undefined ? {} : { seconds }),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(port === undefined ? {} : { port }),
    });
    return 0;
  },
};

const COMMANDS: readonly Command[] = [clusterStart, demo];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    `  ${'--help'.padEnd(width)}  show this help`,
    '',
  ].join('\n');
}

/** The command whose words start `argv`; the longest name wins. */
function findCommand(argv: readonly string[]): Command | undefined {
  return [...COMMANDS]
    .sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => c.name.split(' ').every((word, i) => argv[i] === word));
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  const command = findCommand(argv);
  if (command === undefined) {
    process.stderr.write(
      `${argv.length === 0 ? 'No command given.' : `Unknown command: ${argv.join(' ')}`}\n\n${usage()}`,
    );
    return 2;
  }
  const args = argv.slice(command.name.split(' ').length);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage: ${PROGRAM} ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${err.message}\n\nUsage: ${PROGRAM} ${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`${PROGRAM} ${command.name}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Exits once output is flushed (process.exit can cut async pipe writes), or after 2 s if something lingers. */
function exitWith(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2_000).unref();
}

main(process.argv.slice(2)).then(exitWith, (err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  exitWith(1);
});
