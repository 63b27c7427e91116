import { QueryError } from '../errors.js';
import { MAX_PARAMETERS } from '../pipeline/index.js';
import type { Classifier, ClassifierEntry } from '../sql/classification-cache.js';

/**
 * Validates a statement and its parameters before anything is sent, and returns its classification.
 * Throws {@link QueryError} (`PGR_INVALID_QUERY`, `PGR_PARAMETER_COUNT`) for input PostgreSQL would reject
 * anyway, so a bad call costs no connection and no round trip.
 */
export function checkStatement(classifier: Classifier, sql: unknown, params: unknown): ClassifierEntry {
  if (typeof sql !== 'string') {
    throw new QueryError('PGR_INVALID_QUERY', `SQL must be a string, got ${sql === null ? 'null' : typeof sql}`);
  }
  const entry = classifier.classify(sql);
  const classification = entry.classification;
  if (classification.kind === 'empty') {
    throw new QueryError('PGR_INVALID_QUERY', 'SQL is empty (nothing but whitespace, comments or semicolons)', {
      context: { fingerprintHash: classification.fingerprintHash },
    });
  }
  if (params !== undefined && params !== null && !Array.isArray(params)) {
    throw new QueryError('PGR_INVALID_QUERY', `parameters must be an array, got ${typeof params}`);
  }
  if (entry.containsNul) {
    // The protocol sends statement text NUL-terminated: PostgreSQL would answer 08P01 (protocol violation).
    throw new QueryError(
      'PGR_INVALID_QUERY',
      'SQL contains a NUL character (\\0), which PostgreSQL cannot accept in a statement',
      {
        context: { fingerprintHash: classification.fingerprintHash },
      },
    );
  }
  const given = (params as readonly unknown[] | undefined | null)?.length ?? 0;
  if (given > MAX_PARAMETERS) {
    // Bind counts parameters in 16 bits: more would be cut short on the wire.
    throw new QueryError(
      'PGR_PARAMETER_COUNT',
      `a statement takes at most ${MAX_PARAMETERS} parameters, got ${given}`,
      {
        context: { fingerprintHash: classification.fingerprintHash },
      },
    );
  }
  // Text the lexer could not read has no known parameter count; PostgreSQL will report what is wrong with it.
  const readable = classification.statementCount > 0;
  if (readable && given !== classification.paramCount) {
    throw new QueryError(
      'PGR_PARAMETER_COUNT',
      `statement expects ${classification.paramCount} parameter${classification.paramCount === 1 ? '' : 's'} ($1…$${classification.paramCount}), got ${given}`,
      { context: { fingerprintHash: classification.fingerprintHash } },
    );
  }
  return entry;
}
