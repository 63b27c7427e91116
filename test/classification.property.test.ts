/**
 * Property tests of DESIGN.md's routing rules: however a statement is dressed up (case, whitespace, comments,
 * neighbouring statements, literal contents), a write never reaches a replica and a read stays a read with the
 * same fingerprint.
 *
 * Every generated string is lexically valid PostgreSQL: standard strings double their quotes, E-strings escape
 * backslashes and quotes, U& strings double their backslashes, dollar tags never occur in their body, quoted
 * identifiers double their double quotes, block comments never contain a stray opener or closer and line
 * comments always end with a newline.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyQuery } from '../src/sql/classify.js';

const RUNS = 600;

// ---------------------------------------------------------------------------------------------------------
// Statement pools. Tokens are separated by single spaces; a space marks every place where whitespace and
// comments may go, and no literal contains a space, so `split(' ')` gives the tokens back.
// ---------------------------------------------------------------------------------------------------------

const WRITE_POOL: readonly string[] = [
  'INSERT INTO t ( a ) VALUES ( 1 )',
  "INSERT INTO users ( id , name ) VALUES ( 1 , 'a' ) ON CONFLICT ( id ) DO UPDATE SET name = EXCLUDED.name",
  'INSERT INTO audit ( user_id ) SELECT id FROM users RETURNING user_id',
  'UPDATE t SET a = 1 WHERE b = 2',
  "UPDATE orders o SET status = 'x' FROM users u WHERE u.id = o.user_id",
  'DELETE FROM t WHERE a = 1',
  'DELETE FROM orders o USING users u WHERE o.user_id = u.id RETURNING o.id',
  'MERGE INTO accounts a USING staging s ON a.id = s.id WHEN MATCHED THEN UPDATE SET balance = s.balance',
  'MERGE INTO accounts a USING staging s ON a.id = s.id WHEN NOT MATCHED THEN INSERT ( id ) VALUES ( s.id )',
  'TRUNCATE t',
  'TRUNCATE TABLE t , t2 RESTART IDENTITY',
  'CREATE TABLE t7 ( a int )',
  'CREATE INDEX ON t ( a )',
  'ALTER TABLE t ADD COLUMN z int',
  'DROP TABLE t7',
  'CREATE TABLE t8 AS SELECT * FROM t',
  "SELECT nextval ( 's' )",
  "SELECT pg_catalog.nextval ( 's' )",
  'SELECT U&"\\006Eextval" ( \'s\' )',
  'SELECT "nextval" ( \'s\' )',
  "SELECT * FROM t WHERE a = nextval ( 's' )",
  "SELECT setval ( 's' , 1 )",
  'SELECT pg_advisory_lock ( 1 )',
  'SELECT * FROM t FOR UPDATE',
  'SELECT * FROM t WHERE a = 1 FOR NO KEY UPDATE SKIP LOCKED',
  'SELECT * FROM t FOR SHARE',
  'SELECT * FROM t FOR KEY SHARE NOWAIT',
  'SELECT * FROM ( SELECT * FROM t FOR UPDATE ) s',
  'WITH d AS ( DELETE FROM t RETURNING * ) SELECT * FROM d',
  'WITH x AS ( SELECT 1 ) INSERT INTO t ( a ) SELECT 1 FROM x',
  'WITH m AS MATERIALIZED ( UPDATE t SET a = 1 RETURNING a ) SELECT * FROM m',
  'SELECT 1 INTO t2',
  'SELECT * INTO t9 FROM t',
  'COPY t FROM STDIN',
  'EXPLAIN ANALYZE DELETE FROM t',
];

const READ_POOL: readonly string[] = [
  'SELECT 1',
  'SELECT * FROM users WHERE id = 1',
  'SELECT u.id , o.total FROM users u JOIN orders o ON o.user_id = u.id WHERE u.active',
  'SELECT status , count ( * ) FROM orders GROUP BY status HAVING count ( * ) > 10',
  'SELECT * FROM orders ORDER BY created_at DESC LIMIT 10 OFFSET 20',
  'SELECT * FROM orders ORDER BY id FETCH FIRST 5 ROWS ONLY',
  'SELECT DISTINCT ON ( user_id ) user_id , total FROM orders ORDER BY user_id',
  'WITH x AS ( SELECT id FROM users ) SELECT * FROM x',
  'WITH RECURSIVE r AS ( SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 5 ) SELECT * FROM r',
  'SELECT id FROM users UNION SELECT user_id FROM orders',
  "VALUES ( 1 , 'a' ) , ( 2 , 'b' )",
  'TABLE users',
  'SELECT total::numeric(10,2) FROM orders',
  'EXPLAIN SELECT * FROM users',
  'SELECT * FROM users WHERE id = $1 AND name = $2',
  'SELECT extract ( epoch FROM created_at ) FROM orders',
  "SELECT 'DELETE;FROM' , $$x;y$$ FROM t",
  'SELECT "update" FROM "delete"',
  'SELECT row_number ( ) OVER ( PARTITION BY org_id ORDER BY id ) FROM users',
  'SELECT * FROM users u CROSS JOIN LATERAL ( SELECT * FROM orders o WHERE o.user_id = u.id LIMIT 1 ) l',
  "SELECT * FROM users WHERE note = 'FOR_UPDATE' AND name <> 'nextval(''s'')'",
];

// ---------------------------------------------------------------------------------------------------------
// Dressing: case, whitespace and comments.
// ---------------------------------------------------------------------------------------------------------

/** Text that tempts a lexer: separators, quotes, dollar signs, reads and writes. */
const TEMPTING = [
  ';',
  "'",
  "''",
  '"',
  '$$',
  '$a$',
  '$1',
  '\\',
  "E'\\'",
  '--',
  'SELECT 1',
  'SELECT * FROM t',
  '; SELECT 1;',
  'DELETE FROM t',
  "'; DELETE FROM t; '",
  'FOR UPDATE',
  "nextval('s')",
  'INTO t2',
  'BEGIN',
  'COMMIT',
  ' ',
];

const tempting = fc.constantFrom(...TEMPTING);

/** Arbitrary text without NUL (PostgreSQL rejects NUL anywhere in a query). */
const anyText = fc
  .array(
    fc.oneof(
      { arbitrary: tempting, weight: 3 },
      { arbitrary: fc.string({ maxLength: 8 }), weight: 2 },
      { arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }), weight: 1 },
      { arbitrary: fc.string({ unit: 'binary', maxLength: 4 }), weight: 1 },
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join('').split(String.fromCharCode(0)).join(''));

const whitespace = fc
  .array(fc.constantFrom(' ', '\t', '\n', '\r\n', '  ', '\r'), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join(''));

/** Line comment text: anything but a line end (PostgreSQL ends a line comment at \n or \r). */
const lineCommentText = anyText.map((t) => t.replace(/[\r\n]/g, ' '));

/** Block comment text: no opener or closer inside, and nothing at its ends that could fuse with one. */
function blockSafe(text: string): string {
  let t = text;
  for (let prev = ''; prev !== t;) {
    prev = t;
    t = t.replace(/\*\//g, '* /').replace(/\/\*/g, '/ *');
  }
  return ` ${t} `;
}

const comment = fc.oneof(
  fc.tuple(lineCommentText, fc.constantFrom('\n', '\r\n', '\r')).map(([t, end]) => `--${t}${end}`),
  anyText.map((t) => `/*${blockSafe(t)}*/`),
  fc.tuple(anyText, anyText, anyText).map(([a, b, c]) => `/*${blockSafe(a)}/*${blockSafe(b)}*/${blockSafe(c)}*/`),
);

/** Whitespace with comments in it; never a comment without whitespace on both sides. */
const richSeparator = fc
  .tuple(whitespace, fc.array(fc.tuple(comment, whitespace), { minLength: 1, maxLength: 2 }))
  .map(([first, rest]) => first + rest.map(([c, w]) => c + w).join(''));

const separator = fc.oneof(
  { arbitrary: fc.constant(' '), weight: 3 },
  { arbitrary: whitespace, weight: 2 },
  { arbitrary: richSeparator, weight: 2 },
);

/** Leading or trailing dressing: nothing, whitespace, or whitespace with comments. */
const edge = fc.oneof(fc.constant(''), whitespace, richSeparator);

/** Re-cases the letters of a token outside any quote, letter by letter, as `mask` says. */
function recase(token: string, mask: number): string {
  if (/['"$]/.test(token)) return token;
  let bit = 0;
  let out = '';
  for (const ch of token) {
    if (/[a-z]/i.test(ch)) {
      out += (mask >>> (bit % 31)) & 1 ? ch.toUpperCase() : ch.toLowerCase();
      bit += 1;
    } else {
      out += ch;
    }
  }
  return out;
}

interface Dressing {
  readonly seps: readonly string[];
  readonly masks: readonly number[];
  readonly recaseOn: boolean;
  readonly before: string;
  readonly after: string;
}

/** Dressing for a list of `n` tokens. */
function dressing(n: number): fc.Arbitrary<Dressing> {
  return fc.record({
    seps: fc.array(separator, { minLength: Math.max(0, n - 1), maxLength: Math.max(0, n - 1) }),
    masks: fc.array(fc.nat(), { minLength: n, maxLength: n }),
    recaseOn: fc.boolean(),
    before: edge,
    after: edge,
  });
}

function dress(tokens: readonly string[], d: Dressing): string {
  let out = d.before;
  tokens.forEach((tok, i) => {
    if (i > 0) out += d.seps[i - 1] ?? ' ';
    out += d.recaseOn ? recase(tok, d.masks[i] ?? 0) : tok;
  });
  return out + d.after;
}

const tokensOf = (sql: string): string[] => sql.split(' ');

/** A statement from the pool together with its tokens. */
const fromPool = (pool: readonly string[]) => fc.constantFrom(...pool).map((sql) => ({ sql, tokens: tokensOf(sql) }));

// ---------------------------------------------------------------------------------------------------------
// Literal forms for property 3.
// ---------------------------------------------------------------------------------------------------------

type LiteralForm = 'standard' | 'escape' | 'unicode' | 'dollar';

const standardLiteral = (s: string): string => `'${s.replace(/'/g, "''")}'`;

function escapeLiteral(s: string, doubleQuotes: boolean): string {
  const body = s.replace(/\\/g, '\\\\').replace(/'/g, doubleQuotes ? "''" : "\\'");
  return `E'${body}'`;
}

const unicodeLiteral = (s: string): string => `U&'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** A dollar-quoted literal whose tag does not occur in (or fuse with the end of) its body. */
function dollarLiteral(s: string, tag: string): string {
  for (let i = 0; ; i++) {
    const t = i === 0 ? tag : `${tag}q${i}`;
    const delim = `$${t}$`;
    if ((s + delim).indexOf(delim) === s.length) return `${delim}${s}${delim}`;
  }
}

/** A quoted identifier (never empty in PostgreSQL). */
const quotedIdentifier = (s: string): string => `"${(s.length > 0 ? s : 'x').replace(/"/g, '""')}"`;

/** A Unicode-escape quoted identifier: backslashes doubled, double quotes doubled. */
const unicodeIdentifier = (s: string): string =>
  `U&"${(s.length > 0 ? s : 'x').replace(/\\/g, '\\\\').replace(/"/g, '""')}"`;

const literalContent = anyText;

const literal = fc
  .record({
    form: fc.constantFrom<LiteralForm>('standard', 'escape', 'unicode', 'dollar'),
    content: literalContent,
    tag: fc.constantFrom('', 'a', 'tag', '_q', 'x1'),
    doubleQuotes: fc.boolean(),
  })
  .map(({ form, content, tag, doubleQuotes }) => {
    switch (form) {
      case 'standard':
        return standardLiteral(content);
      case 'escape':
        return escapeLiteral(content, doubleQuotes);
      case 'unicode':
        return unicodeLiteral(content);
      default:
        return dollarLiteral(content, tag);
    }
  });

const identifier = fc
  .tuple(literalContent, fc.boolean())
  .map(([content, unicode]) => (unicode ? unicodeIdentifier(content) : quotedIdentifier(content)));

/** Read templates: `L` holes take literals, `I` holes take quoted identifiers. */
const LITERAL_TEMPLATES: ReadonlyArray<(l: readonly string[]) => string> = [
  ([a]) => `SELECT ${a} FROM t`,
  ([a]) => `SELECT * FROM users WHERE name = ${a} ORDER BY id`,
  ([a, b]) => `SELECT ${a} AS x, ${b} AS y`,
  ([a, b]) => `SELECT coalesce(name, ${a}) FROM users WHERE note LIKE ${b} LIMIT 5`,
  ([a, b]) => `WITH c AS (SELECT ${a} AS v) SELECT v, ${b} FROM c`,
  ([a, b]) => `SELECT * FROM t WHERE a IN (SELECT b FROM t2 WHERE c = ${a}) AND d <> ${b}`,
  ([a]) => `VALUES (${a})`,
];

const IDENTIFIER_TEMPLATES: ReadonlyArray<(i: readonly string[], l: readonly string[]) => string> = [
  ([i]) => `SELECT 1 AS ${i}`,
  ([i, j]) => `SELECT ${i} FROM ${j}`,
  ([i], [a]) => `SELECT t.${i} FROM t WHERE a = ${a}`,
  ([i, j], [a]) => `SELECT ${i}, ${a} AS ${j} FROM t`,
];

// ---------------------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------------------

describe('property 1: a write never reaches a replica, however it is wrapped', () => {
  const scenario = fc
    .record({
      before: fc.array(fromPool(READ_POOL), { maxLength: 2 }),
      write: fromPool(WRITE_POOL),
      after: fc.array(fromPool(READ_POOL), { maxLength: 2 }),
      trailingSemicolon: fc.boolean(),
    })
    .chain(({ before, write, after, trailingSemicolon }) => {
      const tokens: string[] = [];
      for (const r of before) tokens.push(...r.tokens, ';');
      tokens.push(...write.tokens);
      for (const r of after) tokens.push(';', ...r.tokens);
      if (trailingSemicolon) tokens.push(';');
      const statements = before.length + 1 + after.length;
      return dressing(tokens.length).map((d) => ({ sql: dress(tokens, d), statements, write: write.sql }));
    });

  it('routes every dressed-up write to the primary', () => {
    fc.assert(
      fc.property(scenario, ({ sql }) => {
        const c = classifyQuery(sql);
        expect(c.route, `${JSON.stringify(sql)} -> ${c.kind}: ${c.reason}`).toBe('primary');
      }),
      { numRuns: 1000 },
    );
  });

  it('counts the statements of the dressed-up script', () => {
    fc.assert(
      fc.property(scenario, ({ sql, statements }) => {
        expect(classifyQuery(sql).statementCount, JSON.stringify(sql)).toBe(statements);
      }),
      { numRuns: RUNS },
    );
  });

  it.each(WRITE_POOL)('the plain pool statement goes to the primary: %s', (sql) => {
    expect(classifyQuery(sql).route).toBe('primary');
  });
});

describe('property 2: dressing a read changes neither its route nor its fingerprint', () => {
  it.each(READ_POOL)('the plain pool statement is a read: %s', (sql) => {
    const c = classifyQuery(sql);
    expect(c.route).toBe('replica');
    expect(c.kind).toBe('read');
  });

  const plain = new Map(READ_POOL.map((sql) => [sql, classifyQuery(sql)] as const));

  it('keeps route, kind, fingerprint and fingerprintHash', () => {
    const scenario = fromPool(READ_POOL).chain((r) =>
      dressing(r.tokens.length).map((d) => ({ plain: r.sql, sql: dress(r.tokens, d) })),
    );
    fc.assert(
      fc.property(scenario, ({ plain: original, sql }) => {
        const expected = plain.get(original)!;
        const c = classifyQuery(sql);
        const msg = `${JSON.stringify(sql)} vs ${JSON.stringify(original)}`;
        expect(c.route, msg).toBe(expected.route);
        expect(c.kind, msg).toBe(expected.kind);
        expect(c.fingerprint, msg).toBe(expected.fingerprint);
        expect(c.fingerprintHash, msg).toBe(expected.fingerprintHash);
        expect(c.statementCount, msg).toBe(1);
        expect(c.paramCount, msg).toBe(expected.paramCount);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('property 3: literal, dollar-quoted and quoted-identifier contents never change a read', () => {
  it('keeps a read with arbitrary literals a read, with the fingerprint of a plain literal', () => {
    const scenario = fc.record({
      template: fc.constantFrom(...LITERAL_TEMPLATES),
      literals: fc.array(literal, { minLength: 2, maxLength: 2 }),
    });
    fc.assert(
      fc.property(scenario, ({ template, literals }) => {
        const sql = template(literals);
        const reference = classifyQuery(template(["'x'", "'y'"]));
        const c = classifyQuery(sql);
        const msg = `${JSON.stringify(sql)} -> ${c.kind}: ${c.reason}`;
        expect(c.route, msg).toBe('replica');
        expect(c.kind, msg).toBe('read');
        expect(c.statementCount, msg).toBe(1);
        expect(c.paramCount, msg).toBe(0);
        expect(c.fingerprint, msg).toBe(reference.fingerprint);
        expect(c.fingerprintHash, msg).toBe(reference.fingerprintHash);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps a read with arbitrary quoted identifiers a read', () => {
    const scenario = fc.record({
      template: fc.constantFrom(...IDENTIFIER_TEMPLATES),
      identifiers: fc.array(identifier, { minLength: 2, maxLength: 2 }),
      literals: fc.array(literal, { minLength: 1, maxLength: 1 }),
    });
    fc.assert(
      fc.property(scenario, ({ template, identifiers, literals }) => {
        const sql = template(identifiers, literals);
        const c = classifyQuery(sql);
        const msg = `${JSON.stringify(sql)} -> ${c.kind}: ${c.reason}`;
        expect(c.route, msg).toBe('replica');
        expect(c.kind, msg).toBe('read');
        expect(c.statementCount, msg).toBe(1);
        expect(c.paramCount, msg).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('does not let a literal hide a write that follows it', () => {
    const scenario = fc.record({ lit: literal, write: fc.constantFrom(...WRITE_POOL) });
    fc.assert(
      fc.property(scenario, ({ lit, write }) => {
        const sql = `SELECT ${lit}; ${write}`;
        const c = classifyQuery(sql);
        expect(c.route, JSON.stringify(sql)).toBe('primary');
        expect(c.statementCount, JSON.stringify(sql)).toBe(2);
      }),
      { numRuns: RUNS },
    );
  });
});
