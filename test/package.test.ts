import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Manifest {
  name: string;
  type: string;
  engines: { node: string };
  exports: Record<string, unknown>;
  bin: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Manifest;

describe('the published package', () => {
  it('maps its entry point, for import and for require, to a built ES module and its declarations', () => {
    expect(pkg.name).toBe('pg-query-router');
    expect(pkg.type).toBe('module');
    // require() gets the same ES module (Node >= 20.19 loads it synchronously); TypeScript reads the .d.cts twin
    // as CommonJS declarations, without which `module: node16` refuses a require of an ES module.
    expect(pkg.exports['.']).toEqual({
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.js' },
    });
    for (const ext of ['js', 'd.ts', 'd.cts']) {
      expect(existsSync(new URL(`../dist/index.${ext}`, import.meta.url)), `index.${ext}`).toBe(true);
    }
    expect(existsSync(new URL(`../${pkg.bin['pg-query-router']}`, import.meta.url))).toBe(true);
    // The first Node 20 and 22 releases that require() an ES module without a flag.
    expect(pkg.engines.node).toBe('^20.19.0 || >=22.12.0');
  });

  it('resolves its main entry by name', async () => {
    // A package may import itself by name through its "exports" map, exactly as a dependent project would.
    const self = (await import('pg-query-router')) as Record<string, unknown>;
    for (const name of [
      'QueryRouter',
      'classifyQuery',
      'startLocalCluster',
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
  });

  it('builds no source maps: they would point at src/, which is not published', () => {
    const files = readdirSync(new URL('../dist/', import.meta.url), { recursive: true, encoding: 'utf8' });
    expect(files.length).toBeGreaterThan(0);
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
  });
});
