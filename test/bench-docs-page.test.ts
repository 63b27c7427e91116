import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  docsPagePath,
  GENERATED_END,
  GENERATED_START,
  isWriteDocsRun,
  newPage,
  replaceGeneratedPart,
  writtenByLine,
  type BenchFamily,
} from '../bench/lib/docs-page.js';

const FAMILIES: readonly BenchFamily[] = [
  'router',
  'pipeline',
  'faults',
  'adaptive',
  'orms',
  'consistency',
  'scopes',
  'overhead',
];

describe('benchmark docs pages (bench/lib/docs-page.ts)', () => {
  it('writes only on request: BENCH_WRITE_DOCS=1 or --write-docs', () => {
    expect(isWriteDocsRun({}, ['node', 'bench.ts'])).toBe(false);
    expect(isWriteDocsRun({ BENCH_WRITE_DOCS: '0' }, ['node', 'bench.ts'])).toBe(false);
    expect(isWriteDocsRun({ BENCH_WRITE_DOCS: '1' }, ['node', 'bench.ts'])).toBe(true);
    expect(isWriteDocsRun({ BENCH_WRITE_DOCS: 'true' }, ['node', 'bench.ts'])).toBe(true);
    expect(isWriteDocsRun({}, ['node', 'bench.ts', '--write-docs'])).toBe(true);
  });

  it('replaces the generated part and keeps the hand-written text around it', () => {
    const page = `# Title\n\nWhat it measures.\n\n${GENERATED_START}\n\nold report\n\n${GENERATED_END}\n\nWhat it means.\n`;
    const byLine = writtenByLine('router', false, new Date('2026-12-01T10:20:30Z'));
    expect(byLine).toBe('_Written by `npm run bench:router` on 2026-12-01 10:20 UTC._');
    const updated = replaceGeneratedPart(page, byLine, '## New report\n\n| a |\n| - |\n| 1 |\n');
    expect(updated).toBe(
      `# Title\n\nWhat it measures.\n\n${GENERATED_START}\n\n${byLine}\n\n## New report\n\n| a |\n| - |\n| 1 |\n\n` +
        `${GENERATED_END}\n\nWhat it means.\n`,
    );
    // Writing again replaces the part again, so repeated runs never stack reports.
    expect(replaceGeneratedPart(updated, byLine, 'third')).toBe(
      `# Title\n\nWhat it measures.\n\n${GENERATED_START}\n\n${byLine}\n\nthird\n\n${GENERATED_END}\n\nWhat it means.\n`,
    );
    expect(writtenByLine('scopes', true, new Date('2026-12-01T10:20:30Z'))).toContain('`BENCH_QUICK=1 npm run');
  });

  it('refuses a page without its markers, or with two generated parts, instead of guessing', () => {
    expect(() => replaceGeneratedPart('# Title\n\nno markers\n', 'by', 'report')).toThrow(/no generated part/);
    expect(() => replaceGeneratedPart(`${GENERATED_END}\n${GENERATED_START}\n`, 'by', 'report')).toThrow(
      /no generated part/,
    );
    const twice = `${GENERATED_START}\n${GENERATED_END}\n${GENERATED_START}\n${GENERATED_END}\n`;
    expect(() => replaceGeneratedPart(twice, 'by', 'report')).toThrow(/more than one/);
    expect(() => replaceGeneratedPart(newPage('orms'), 'by', 'report')).not.toThrow();
  });

  it('finds a committed page with one generated part for every family', () => {
    for (const family of FAMILIES) {
      const page = readFileSync(docsPagePath(family), 'utf8');
      expect(page.split(GENERATED_START), family).toHaveLength(2);
      expect(page.split(GENERATED_END), family).toHaveLength(2);
      expect(page, family).toMatch(new RegExp(`_Written by \`npm run bench:${family}\` on \\d{4}-\\d{2}-\\d{2}`));
      const generated = page.slice(page.indexOf(GENERATED_START), page.indexOf(GENERATED_END));
      expect(generated, `${family}: a committed page comes from a full run`).not.toContain('BENCH_QUICK');
    }
  });
});
