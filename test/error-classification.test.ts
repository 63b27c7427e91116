import { describe, expect, it } from 'vitest';
import { AcquireTimeoutError, QueryError } from '../src/index.js';
import { blame } from '../src/resilience/index.js';

const serverError = (code: string): object => ({ code, severity: 'ERROR', message: 'x' });

describe('error blame by SQLSTATE', () => {
  it.each([
    ['42601', 'syntax error'],
    ['42P01', 'undefined table'],
    ['42501', 'insufficient privilege'],
    ['23505', 'unique violation'],
    ['23503', 'foreign key violation'],
    ['22P02', 'invalid text representation'],
    ['22012', 'division by zero'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock detected'],
    ['P0001', 'RAISE EXCEPTION'],
    ['0A000', 'feature not supported'],
    ['25006', 'read-only transaction (a misroute, handled by the router)'],
    ['28P01', 'bad password: configuration, not a node failure'],
    ['57014', 'query canceled by the caller'],
    ['55P03', 'lock not available'],
  ])("%s (%s) is the caller's", (code) => {
    expect(blame(serverError(code))).toBe('caller');
    expect(blame(new QueryError(code, 'x', { cause: serverError(code) }))).toBe('caller');
  });

  it.each([
    ['08006', 'connection failure'],
    ['08001', 'unable to connect'],
    ['57P01', 'admin shutdown'],
    ['57P02', 'crash shutdown'],
    ['57P03', 'cannot connect now'],
    ['53300', 'too many connections'],
    ['53200', 'out of memory'],
    ['58030', 'I/O error'],
    ['XX000', 'internal error'],
  ])("%s (%s) is the node's", (code) => {
    expect(blame(serverError(code))).toBe('node');
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'])(
    "socket error %s is the node's",
    (code) => {
      expect(blame(Object.assign(new Error('socket'), { code }))).toBe('node');
      expect(blame(QueryError.from(Object.assign(new Error('socket'), { code })))).toBe('node');
    },
  );

  it('blames the node for a dropped connection without any code', () => {
    const dropped = new Error('Connection terminated unexpectedly');
    expect(blame(dropped)).toBe('node');
    expect(blame(QueryError.from(dropped))).toBe('node');
  });

  it("blames the caller for a protocol violation answered with ERROR (the caller's message), the node for a FATAL one", () => {
    expect(blame(serverError('08P01'))).toBe('caller');
    expect(blame(new QueryError('08P01', 'invalid message format', { cause: serverError('08P01') }))).toBe('caller');
    expect(blame({ code: '08P01', severity: 'FATAL', message: 'x' })).toBe('node');
  });

  it("blames the caller for the router's own input errors", () => {
    expect(blame(new QueryError('PGR_PARAMETER_COUNT', 'x'))).toBe('caller');
    expect(blame(new QueryError('PGR_INVALID_QUERY', 'x'))).toBe('caller');
  });

  it('blames the node when no connection could be had in time (stuck, frozen or overloaded)', () => {
    expect(
      blame(new AcquireTimeoutError('primary', 100, { cause: new Error('timeout exceeded when trying to connect') })),
    ).toBe('node');
    expect(
      blame(
        new AcquireTimeoutError('primary', 100, {
          cause: new Error('Connection terminated due to connection timeout'),
        }),
      ),
    ).toBe('node');
  });
});
