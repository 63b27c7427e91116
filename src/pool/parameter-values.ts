import { QueryError } from '../errors.js';
import { prepareValue } from './pg-internals.js';

/**
 * `values` as pg will send them, converted before anything is sent: a value pg cannot convert (an object holding a
 * BigInt for JSON, a circular object, a `toPostgres()` that throws) is the caller's error, so it must not reach pg,
 * which would close the prepared statement in flight, and whose bare TypeError reads like a lost connection.
 *
 * Numbers, strings, booleans, bigints, `null` and `undefined` always convert and are left for pg; objects (arrays,
 * dates, JSON, `toPostgres()`) are replaced by their wire form (text or a Buffer), exactly what pg makes of them, so
 * pg converts nothing twice. Returns `values` itself when nothing needed converting.
 *
 * @throws QueryError `PGR_INVALID_QUERY`, naming the parameter, with the conversion's error as `cause`.
 */
export function sendableValues(values: readonly unknown[] | undefined): readonly unknown[] | undefined {
  if (values === undefined) return values;
  let converted: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) continue;
    let sendable: unknown;
    try {
      sendable = prepareValue(value);
    } catch (error) {
      throw new QueryError(
        'PGR_INVALID_QUERY',
        `parameter $${i + 1} cannot be sent to PostgreSQL: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    (converted ??= values.slice())[i] = sendable;
  }
  return converted ?? values;
}
