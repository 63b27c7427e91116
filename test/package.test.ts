import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

describe('the published package', () => {
  it('resolves by its own name through package.json exports to the built ESM entry with types', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      name: string;
      type: string;
      exports: Record<string, { types: string; import: string }>;
      bin: Record<string, string>;
    };
    expect(pkg.name).toBe('pg-query-router');
    expect(pkg.type).toBe('module');
    for (const file of [pkg.exports['.']!.import, pkg.exports['.']!.types, pkg.bin['pg-query-router']!]) {
      expect(existsSync(new URL(`../${file}`, import.meta.url)), file).toBe(true);
    }
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
});
