/**
 * DESIGN.md's routing rules as examples: every case of the corpus, then the fingerprint contract, empty input
 * and input that must never make `classifyQuery` throw.
 */
import { describe, expect, it } from 'vitest';
import { classifyQuery } from '../src/sql/classify.js';
import type { Classification, StatementKind } from '../src/sql/classification.js';
import { classificationCorpus, type CorpusCase } from './fixtures/classification-corpus.js';

const KINDS: readonly StatementKind[] = [
  'read',
  'write',
  'ddl',
  'transaction',
  'session',
  'utility',
  'empty',
  'unknown',
];
const HASH = /^[0-9a-f]{16}$/;

/** Shape checks that hold for every classification of every string. */
function expectWellFormed(c: Classification): void {
  expect(['primary', 'replica']).toContain(c.route);
  expect(KINDS).toContain(c.kind);
  expect(typeof c.reason).toBe('string');
  expect(c.reason.length).toBeGreaterThan(0);
  expect(typeof c.fingerprint).toBe('string');
  expect(c.fingerprintHash).toMatch(HASH);
  expect(Array.isArray(c.tables)).toBe(true);
  expect(Array.isArray(c.functions)).toBe(true);
  expect(Number.isInteger(c.statementCount)).toBe(true);
  expect(c.statementCount).toBeGreaterThanOrEqual(0);
  expect(Number.isInteger(c.paramCount)).toBe(true);
  expect(c.paramCount).toBeGreaterThanOrEqual(0);
  expect(c.cached).toBe(false);
  // `read` is the only kind that may go to a replica.
  if (c.route === 'replica') expect(c.kind).toBe('read');
  // Nothing but a read may go to a replica, and `empty` / `unknown` never do.
  if (c.kind !== 'read') expect(c.route).toBe('primary');
}

function label(k: CorpusCase): string {
  return JSON.stringify(k.sql).slice(0, 120);
}

describe('classification corpus (DESIGN.md routing rules)', () => {
  it('has enough cases, without duplicates', () => {
    expect(classificationCorpus.length).toBeGreaterThanOrEqual(170);
    const seen = new Set<string>();
    const dupes = classificationCorpus.map((k) => k.sql).filter((s) => (seen.has(s) ? true : (seen.add(s), false)));
    expect(dupes).toEqual([]);
  });

  it('covers both directions', () => {
    expect(classificationCorpus.filter((k) => k.route === 'replica').length).toBeGreaterThanOrEqual(60);
    expect(classificationCorpus.filter((k) => k.route === 'primary').length).toBeGreaterThanOrEqual(100);
  });

  describe.each(classificationCorpus.map((k) => [`[${k.category}] ${label(k)}`, k] as const))('%s', (_name, k) => {
    it(`goes to the ${k.route}: ${k.why}`, () => {
      const c = classifyQuery(k.sql);
      expect(c.route, `${label(k)} -> ${c.kind}: ${c.reason}`).toBe(k.route);
      expectWellFormed(c);
      if (k.kind !== undefined) expect(c.kind, `${label(k)}: ${c.reason}`).toBe(k.kind);
      if (k.statementCount !== undefined) expect(c.statementCount).toBe(k.statementCount);
      if (k.paramCount !== undefined) expect(c.paramCount).toBe(k.paramCount);
      if (k.tables !== undefined) {
        expect(c.tables).toEqual(expect.arrayContaining([...k.tables]));
        if (k.exactTables === true) expect(c.tables).toHaveLength(k.tables.length);
      }
      if (k.functions !== undefined) expect(c.functions).toEqual(expect.arrayContaining([...k.functions]));
    });
  });
});

describe('tables and functions', () => {
  it('does not list CTE names as tables', () => {
    const c = classifyQuery('WITH recent AS (SELECT * FROM orders) SELECT * FROM recent');
    expect(c.tables).toContain('orders');
    expect(c.tables).not.toContain('recent');
  });

  it('does not list aliases as tables', () => {
    const c = classifyQuery('SELECT * FROM users u JOIN orders o ON o.user_id = u.id');
    expect(c.tables).not.toContain('u');
    expect(c.tables).not.toContain('o');
  });

  it('does not list known built-ins as user functions', () => {
    const c = classifyQuery("SELECT count(*), now(), lower(name), coalesce(name, 'x'), sum(total) FROM users");
    for (const builtin of ['count', 'now', 'lower', 'coalesce', 'sum']) expect(c.functions).not.toContain(builtin);
  });

  it('does not list words inside literals or comments as tables or functions', () => {
    const c = classifyQuery("SELECT 'my_func(1) FROM secret_table' /* other_func(2) FROM hidden */ FROM users");
    expect(c.tables).toEqual(['users']);
    expect(c.functions).toEqual([]);
  });
});

describe('fingerprints', () => {
  const sameShape = [
    "SELECT * FROM users WHERE id = 1 AND name = 'bob'",
    "select   *  from users\n where id = 42 and name = 'alice'",
    "SELECT * /* a comment */ FROM users WHERE id = 7 -- trailing\n AND name = 'x'",
    "SeLeCt * FrOm users WhErE id = 99999 AnD name = 'it''s'",
    "\t\tSELECT *\r\nFROM users\r\nWHERE id = 1.5\r\nAND name = ''",
    'SELECT * FROM users WHERE id = 3 AND name = $$dollar$$',
    'SELECT * FROM users WHERE id = 3 AND name = $q$tagged$q$',
    "SELECT * FROM users WHERE id = 3 AND name = E'esc\\'aped'",
  ];

  it('folds literals, whitespace, comments and keyword case into one fingerprint and one hash', () => {
    const results = sameShape.map((sql) => classifyQuery(sql));
    const first = results[0]!;
    for (const [i, r] of results.entries()) {
      expect(r.fingerprint, sameShape[i]).toBe(first.fingerprint);
      expect(r.fingerprintHash, sameShape[i]).toBe(first.fingerprintHash);
    }
  });

  it('is deterministic', () => {
    const sql = 'SELECT a, b FROM t WHERE c = $1 ORDER BY a LIMIT 10';
    expect(classifyQuery(sql).fingerprint).toBe(classifyQuery(sql).fingerprint);
    expect(classifyQuery(sql).fingerprintHash).toBe(classifyQuery(sql).fingerprintHash);
  });

  it.each([
    ['SELECT a FROM t', 'SELECT b FROM t'],
    ['SELECT * FROM users', 'SELECT * FROM orders'],
    ['SELECT * FROM t WHERE a = 1', 'SELECT * FROM t WHERE a > 1'],
    ["SELECT 'a'", 'SELECT "a"'],
    ['SELECT * FROM t WHERE a = $1', 'SELECT * FROM t WHERE a = $2'],
    ['SELECT * FROM t WHERE a = $1', 'SELECT * FROM t WHERE a = 1'],
    ['SELECT * FROM "Users"', 'SELECT * FROM "users"'],
    ['SELECT * FROM t', 'DELETE FROM t'],
    ['SELECT * FROM t WHERE id = 1', 'SELECT * FROM t WHERE id = 1 FOR UPDATE'],
    ['SELECT 1', 'SELECT 1; SELECT 1'],
  ])('tells different shapes apart: %s | %s', (a, b) => {
    const ca = classifyQuery(a);
    const cb = classifyQuery(b);
    expect(ca.fingerprint).not.toBe(cb.fingerprint);
    expect(ca.fingerprintHash).not.toBe(cb.fingerprintHash);
  });

  it.each([
    ["SELECT * FROM users WHERE password = 'secret'", 'secret'],
    ["SELECT * FROM users WHERE password = E'secret'", 'secret'],
    ['SELECT * FROM users WHERE password = $$secret$$', 'secret'],
    ['SELECT * FROM users WHERE password = $pw$secret$pw$', 'secret'],
    ["INSERT INTO users (name, email) VALUES ('secret', 'x@example.com')", 'secret'],
    ["UPDATE users SET note = 'secret' WHERE id = 1", 'secret'],
    ["SELECT 1; SELECT 'secret'", 'secret'],
    ['SELECT * FROM cards WHERE number = 4111111111111111', '4111111111111111'],
    ['SELECT * FROM t WHERE x = 3.14159', '3.14159'],
    ['SELECT * FROM t /* hunter2 */ WHERE a = 1', 'hunter2'],
    ['SELECT * FROM t -- hunter2\nWHERE a = 1', 'hunter2'],
  ])('never contains a literal or comment: %s', (sql, secret) => {
    const c = classifyQuery(sql);
    expect(c.fingerprint).not.toContain(secret);
  });

  it('keeps $n parameters', () => {
    expect(classifyQuery('SELECT * FROM t WHERE a = $1 AND b = $2').fingerprint).toContain('$2');
  });

  it('folds lists of literals: IN (1,2,3) and IN (4,5) share a fingerprint', () => {
    const a = classifyQuery('SELECT * FROM t WHERE id IN (1, 2, 3)');
    const b = classifyQuery('SELECT * FROM t WHERE id IN (4,5)');
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprintHash).toBe(b.fingerprintHash);
    expect(a.fingerprint).toContain('?, ...');
    const s1 = classifyQuery("SELECT * FROM t WHERE name IN ('a', 'b')");
    const s2 = classifyQuery("SELECT * FROM t WHERE name IN ('c', 'd', 'e', 'f')");
    expect(s1.fingerprint).toBe(s2.fingerprint);
  });

  it('lower-cases unquoted words and folds whitespace', () => {
    const c = classifyQuery('SELECT   Id\n\tFROM   Users');
    expect(c.fingerprint).not.toMatch(/\s{2,}|[\t\n\r]/);
    expect(c.fingerprint).toContain('users');
    expect(c.fingerprint).not.toContain('Users');
  });

  it('gives a 16-hex-digit hash', () => {
    for (const sql of ['SELECT 1', 'DELETE FROM t', '', ')))', "SELECT 'unterminated"]) {
      expect(classifyQuery(sql).fingerprintHash).toMatch(HASH);
    }
  });
});

describe('empty input', () => {
  it.each(['', '   ', '-- only a comment', ';;', ';', '/* only a block comment */', ' ; \n ; \t', '\n-- a\n/* b */;'])(
    '%j is empty and goes to the primary',
    (sql) => {
      const c = classifyQuery(sql);
      expect(c.kind).toBe('empty');
      expect(c.route).toBe('primary');
      expect(c.statementCount).toBe(0);
      expect(c.paramCount).toBe(0);
      expect(c.cached).toBe(false);
      expect(c.fingerprintHash).toMatch(HASH);
    },
  );
});

describe('never throws', () => {
  const unionAll = `SELECT 1${' UNION ALL SELECT 1'.repeat(Math.ceil(100_000 / 17))}`;
  const nasty: ReadonlyArray<readonly [string, string]> = [
    ['lone $', '$'],
    ['$1$', '$1$'],
    ['SELECT $1$', 'SELECT $1$'],
    ['$$', '$$'],
    ['$a$', '$a$'],
    ['lone quote', "'"],
    ['lone double quote', '"'],
    ['"unterminated', '"unterminated'],
    ["E'", "E'"],
    ['U&"', 'U&"'],
    ['backslash', '\\'],
    ['comment opener', '/*'],
    ['comment closer', '*/'],
    ['line comment marker', '--'],
    ['NUL', '\u0000'],
    ['NUL in a read', 'SELECT 1\u0000'],
    ['NUL in a literal', "SELECT '\u0000'"],
    ['emoji', '😀'],
    ['emoji identifier (valid in PostgreSQL: bytes >= 0x80 may start an identifier)', 'SELECT 1 AS 😀'],
    ['lone surrogate', 'SELECT \ud800'],
    ['BOM', '\ufeffSELECT 1'],
    ['line separator', 'SELECT 1\u2028'],
    ['100 KB of UNION ALL', unionAll],
    ['deep parentheses', `SELECT ${'('.repeat(5000)}1${')'.repeat(5000)}`],
    ['unbalanced deep parentheses', `SELECT ${'('.repeat(5000)}`],
    ['many statements', 'SELECT 1;'.repeat(10_000)],
    ['long identifier', `SELECT ${'a'.repeat(100_000)}`],
    ['long literal', `SELECT '${'x'.repeat(100_000)}'`],
    ['many comments', '/* x */'.repeat(10_000)],
    ['deeply nested comment', `${'/*'.repeat(5000)}${'*/'.repeat(5000)} SELECT 1`],
    ['many parameters', `SELECT ${Array.from({ length: 2000 }, (_, i) => `$${i + 1}`).join(', ')}`],
    ['huge parameter number', 'SELECT $99999999999999999999'],
    ['control characters', 'SELECT \u0001\u0002\u0003\u007f'],
  ];

  it.each(nasty)(
    '%s',
    (_name, sql) => {
      let c: Classification | undefined;
      expect(() => {
        c = classifyQuery(sql);
      }).not.toThrow();
      expectWellFormed(c!);
    },
    20_000,
  );

  it('sends unreadable nasty strings to the primary', () => {
    for (const sql of ['$', '$1$', "'", '"unterminated', '/*', '😀', `SELECT ${'('.repeat(5000)}`]) {
      expect(classifyQuery(sql).route, JSON.stringify(sql)).toBe('primary');
    }
  });

  it('does not let a NUL hide a write', () => {
    expect(classifyQuery('SELECT 1\u0000; DELETE FROM t').route).toBe('primary');
    expect(classifyQuery('\u0000DELETE FROM t').route).toBe('primary');
  });

  it('keeps unicode literals a read', () => {
    const c = classifyQuery("SELECT '😀🎉 ünïcödé; DELETE FROM t' FROM t");
    expect(c.route).toBe('replica');
    expect(c.statementCount).toBe(1);
  });

  it('counts 10 000 statements of a read-only script as reads, kept on the primary (one statement per replica call)', () => {
    const c = classifyQuery('SELECT 1;'.repeat(10_000));
    expect(c.statementCount).toBe(10_000);
    expect(c.kind).toBe('read');
    expect(c.route).toBe('primary');
  }, 20_000);

  it('finds the one write among 10 000 reads', () => {
    const c = classifyQuery(`${'SELECT 1;'.repeat(5_000)} DELETE FROM t; ${'SELECT 1;'.repeat(5_000)}`);
    expect(c.route).toBe('primary');
    expect(c.kind).toBe('write');
  }, 20_000);
});
