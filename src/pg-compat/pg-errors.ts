import { QueryError } from '../errors.js';

/**
 * Rethrows a failure the way pg code expects it: a PostgreSQL error as pg's own `DatabaseError` carrying the
 * router's fields (see `QueryError.asServerError`), anything else unchanged.
 */
export function rejectAsPg(error: unknown): never {
  throw QueryError.asServerError(error);
}
