/** One log method, pino's calling convention: structured fields first, then the message. */
export type LogMethod = (fields: Record<string, unknown>, message: string) => void;

/**
 * Where the router writes what it does (lifecycle, breaker changes, replicas leaving and rejoining, resizes,
 * leaks, slow statements). A pino logger (or a child of one) fits as is; so does anything with these four methods.
 * Messages and fields never hold credentials or SQL text (statements are named by their fingerprint).
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const ignore: LogMethod = () => undefined;

/** The default logger: says nothing. */
export const silentLogger: Logger = Object.freeze({ debug: ignore, info: ignore, warn: ignore, error: ignore });

/** True when `value` has the four methods of a {@link Logger}. */
export function isLogger(value: unknown): value is Logger {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['debug', 'info', 'warn', 'error'].every((method) => typeof candidate[method] === 'function');
}
