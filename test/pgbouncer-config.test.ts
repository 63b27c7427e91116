import { describe, expect, it } from 'vitest';
import { findPgBouncer, pgBouncerAtLeast, pgBouncerIni, pgBouncerUserlist } from '../src/cluster/pgbouncer-config.js';
import { startPgBouncer } from '../src/testing.js';
import { preparedStatementLost, StatementCacheSwitch } from '../src/pool/statement-cache-switch.js';

/** What PostgreSQL sends (pg's DatabaseError carries `code` and `message`). */
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('preparedStatementLost: the errors of a pooler that moves statements between server connections', () => {
  it('recognises a missing (26000) or taken (42P05) statement of the given name only', () => {
    expect(preparedStatementLost(pgError('26000', 'prepared statement "s_1a2b" does not exist'), 's_1a2b')).toBe(
      '26000',
    );
    expect(preparedStatementLost(pgError('42P05', 'prepared statement "s_1a2b" already exists'), 's_1a2b')).toBe(
      '42P05',
    );
    // Another name: the caller's own EXECUTE or DEALLOCATE, not ours.
    expect(
      preparedStatementLost(pgError('26000', 'prepared statement "mine" does not exist'), 's_1a2b'),
    ).toBeUndefined();
    expect(preparedStatementLost(pgError('26000', 'cursor "s_1a2b" does not exist'), 's_1a2b')).toBeUndefined();
    expect(preparedStatementLost(pgError('23505', 'duplicate key'), 's_1a2b')).toBeUndefined();
    expect(preparedStatementLost(undefined, 's_1a2b')).toBeUndefined();
    expect(preparedStatementLost('26000', 's_1a2b')).toBeUndefined();
  });

  it('turns a node switch off once, tells once, and survives a listener that throws', () => {
    const told: string[] = [];
    const cacheSwitch = new StatementCacheSwitch('replica-0', (_disabled, message) => {
      told.push(message);
      throw new Error('a listener bug');
    });
    expect(cacheSwitch.noteFailure(pgError('23505', 'duplicate key'), 's_1')).toBe(false);
    expect(cacheSwitch.noteFailure(pgError('26000', 'prepared statement "s_1" does not exist'), undefined)).toBe(false);
    expect(cacheSwitch.disabled).toBeUndefined();
    expect(cacheSwitch.noteFailure(pgError('26000', 'prepared statement "s_1" does not exist'), 's_1')).toBe(true);
    expect(cacheSwitch.noteFailure(pgError('42P05', 'prepared statement "s_2" already exists'), 's_2')).toBe(true);
    expect(cacheSwitch.disabled?.code).toBe('26000');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatch(/^replica-0: prepared statements turned off: .*statementCache: \{ max: 0 \}/);
  });
});

describe('PgBouncer configuration for the local cluster', () => {
  const target = { host: '127.0.0.1', port: 5433, user: 'postgres', password: 'se"cret', database: 'postgres' };

  it('writes an ini that listens on 127.0.0.1 only, in the pool mode asked, with extra settings last', () => {
    const ini = pgBouncerIni({
      listenPort: 6500,
      target,
      poolMode: 'transaction',
      poolSize: 7,
      authFile: '/tmp/x/userlist.txt',
      settings: { max_prepared_statements: 100, pool_mode: 'session' },
    });
    expect(ini).toContain("* = host='127.0.0.1' port='5433' dbname='postgres'\n");
    expect(ini).toContain('listen_addr = 127.0.0.1\n');
    expect(ini).toContain('listen_port = 6500\n');
    expect(ini).toContain('default_pool_size = 7\n');
    expect(ini).toContain('max_prepared_statements = 100\n');
    // An extra setting wins over a generated one.
    expect(ini).toContain('pool_mode = session\n');
    expect(ini).not.toContain('pool_mode = transaction');
    expect(ini).not.toContain('cret');
  });

  it('rejects a setting name or value that would break the ini', () => {
    const base = { listenPort: 1, target, poolMode: 'transaction' as const, poolSize: 1, authFile: 'a' };
    expect(() => pgBouncerIni({ ...base, settings: { 'bad name': 1 } })).toThrow(TypeError);
    expect(() => pgBouncerIni({ ...base, settings: { admin_users: 'x\n[databases]' } })).toThrow(TypeError);
  });

  it('quotes the auth file as PgBouncer reads it', () => {
    expect(pgBouncerUserlist(new Map([['postgres', 'se"cret']]))).toBe('"postgres" "se""cret"\n');
  });

  it('compares versions by major and minor', () => {
    expect(pgBouncerAtLeast('1.18.0', 1, 21)).toBe(false);
    expect(pgBouncerAtLeast('1.21.0', 1, 21)).toBe(true);
    expect(pgBouncerAtLeast('1.22', 1, 21)).toBe(true);
    expect(pgBouncerAtLeast('2.0.0', 1, 21)).toBe(true);
  });

  it('finds no binary at a path that is not one, and startPgBouncer names bad options before starting anything', async () => {
    expect(findPgBouncer('/nonexistent/pgbouncer')).toBeUndefined();
    await expect(startPgBouncer({})).rejects.toThrow(/give `cluster` or a non-empty `targets`/);
    await expect(startPgBouncer({ targets: ['postgres://u@h/db'], poolSize: 0 })).rejects.toThrow(RangeError);
    await expect(startPgBouncer({ targets: ['postgres://u@h/db'], poolMode: 'sessions' as 'session' })).rejects.toThrow(
      /poolMode/,
    );
    await expect(startPgBouncer({ targets: ['not a url'] })).rejects.toThrow(/targets\[0\]/);
    await expect(startPgBouncer({ targets: ['postgres://u@h/db'], bin: '/nonexistent/pgbouncer' })).rejects.toThrow(
      /not an executable/,
    );
  });
});
