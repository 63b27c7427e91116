/**
 * The reference pages cannot drift from the code: every option and its default, every environment variable, every
 * `PGR_*` error code, and every relative link and anchor of README.md and docs/.
 */
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, ENV_OPTIONS, resolveOptions } from '../src/config/index.js';
import {
  documentationFiles,
  headingAnchors,
  readRepoFile,
  relativeLinks,
  REPO_ROOT,
  tableRows,
} from './helpers/markdown.js';

/** Every leaf of `DEFAULTS` as a dotted key (`pool.min`, `breaker.timeoutMs`, `consistency`) and its value. */
function flatten(value: object, prefix = ''): [string, unknown][] {
  return Object.entries(value).flatMap(([key, inner]): [string, unknown][] =>
    typeof inner === 'object' && inner !== null
      ? flatten(inner as object, `${prefix}${key}.`)
      : [[`${prefix}${key}`, inner]],
  );
}

/** A default as the configuration page writes it: `30000`, `false`, `'eventual'`, `—` for none. */
function written(value: unknown): string {
  if (value === undefined) return '—';
  if (typeof value === 'string') return `'${value}'`;
  return String(value);
}

const unquote = (cell: string): string => cell.replace(/^`|`$/g, '');

describe('docs/configuration.md', () => {
  const page = readRepoFile('docs/configuration.md');
  const rows = new Map(tableRows(page, 'option').map((cells) => [unquote(cells[0]!), cells]));

  it('has a row for every option in DEFAULTS, with the same default', () => {
    const defaults = flatten(DEFAULTS);
    expect(defaults.length).toBeGreaterThan(30);
    for (const [key, value] of defaults) {
      const row = rows.get(key);
      expect(row, `no row for ${key}`).toBeDefined();
      expect(unquote(row![1]!), `default of ${key}`).toBe(written(value));
      expect(row![2], `unit of ${key}`).not.toBe('');
    }
  });

  it('has a row for every option resolveOptions accepts, those without a default in DEFAULTS included', () => {
    const source = readRepoFile('src/config/resolve.ts');
    const names = (list: string): string[] => [...list.matchAll(/'(\w+)'/g)].map((match) => match[1]!);
    const topLevel = names(/const TOP_LEVEL_KEYS = \[([^\]]+)\]/.exec(source)?.[1] ?? '');
    expect(topLevel).toContain('primary');
    const sections = new Map<string, string[]>(
      Object.entries(DEFAULTS)
        .filter(([, value]) => typeof value === 'object' && value !== null)
        .map(([key, value]) => [key, Object.keys(value as object)]),
    );
    for (const [, key, fields] of source.matchAll(/section\(input, '(\w+)', \[([^\]]*)\]\)/g)) {
      sections.set(key!, names(fields!));
    }
    for (const key of topLevel) {
      for (const option of sections.has(key) ? sections.get(key)!.map((field) => `${key}.${field}`) : [key]) {
        expect(rows.has(option), `no row for ${option}`).toBe(true);
      }
    }
  });

  it('lists only options the router accepts', () => {
    const primary = 'postgres://app@localhost:5432/app';
    for (const key of rows.keys()) {
      if (key === 'primary') continue; // required: set below for every other key
      const [section, field] = key.split('.');
      // Each option set to `undefined` (its default): an unknown key is refused whatever its value.
      const options = field === undefined ? { [section!]: undefined } : { [section!]: { [field]: undefined } };
      expect(() => resolveOptions({ primary, ...options }), key).not.toThrow();
    }
    expect(() => resolveOptions({ primary, pool: { maxx: 1 } })).toThrow(/unknown option/);
  });

  it('lists every environment variable fromEnv reads, with its option', () => {
    const envRows = new Map(tableRows(page, 'variable').map((cells) => [unquote(cells[0]!), cells[1]!]));
    for (const [variable, { option }] of Object.entries(ENV_OPTIONS)) {
      expect(envRows.get(variable), variable).toBe(`\`${option}\``);
    }
    expect(envRows.has('DATABASE_URL') && envRows.has('DATABASE_REPLICA_URLS')).toBe(true);
    for (const variable of envRows.keys()) {
      if (variable.startsWith('PGROUTER_')) expect(Object.keys(ENV_OPTIONS), variable).toContain(variable);
    }
  });
});

describe('docs/errors.md', () => {
  it('explains every PGR_* code of RouterErrorCode', () => {
    const source = readRepoFile('src/errors.ts');
    const union = /export type RouterErrorCode =([^;]+);/.exec(source)?.[1] ?? '';
    const codes = [...union.matchAll(/'(PGR_[A-Z_]+)'/g)].map((match) => match[1]!);
    expect(codes.length).toBeGreaterThan(10);
    const documented = new Set(
      tableRows(readRepoFile('docs/errors.md'), 'error').flatMap((cells) => cells[1]!.match(/PGR_[A-Z_]+/g) ?? []),
    );
    for (const code of codes) expect(documented, code).toContain(code);
  });
});

describe('links in README.md and docs/', () => {
  it('point to files that exist and headings that exist', () => {
    const broken: string[] = [];
    for (const file of documentationFiles()) {
      for (const { line, target } of relativeLinks(readRepoFile(file))) {
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : normalize(join(dirname(file), decodeURI(path)));
        if (!existsSync(join(REPO_ROOT, resolved))) {
          broken.push(`${file}:${line}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith('.md') && !headingAnchors(readRepoFile(resolved)).has(anchor)) {
          broken.push(`${file}:${line}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
