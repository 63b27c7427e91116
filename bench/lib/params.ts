/**
 * How every benchmark picks its parameters: each family defines a full run and a quick one, and its entry reads
 * the environment once, through {@link benchParams}.
 */

/** The environment the parameters are read from (`process.env` unless a test passes its own). */
export type BenchEnv = Readonly<Record<string, string | undefined>>;

/** `BENCH_QUICK` is `1` or `true`: a smoke run of a few seconds whose numbers mean little. */
export function isQuickRun(env: BenchEnv = process.env): boolean {
  const quick = env['BENCH_QUICK'];
  return quick === '1' || quick === 'true';
}

/** The keys of `T` whose values are numbers: the ones an environment variable may override. */
type NumericKey<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];

/** Per numeric parameter, the environment variable that overrides it, e.g. `{ rounds: 'BENCH_ROUNDS' }`. */
export type EnvOverrides<T> = Partial<Record<NumericKey<T>, string>>;

/**
 * `quick` on a quick run ({@link isQuickRun}), else `full`; then every parameter named in `overrides` whose
 * variable is set takes that variable's value, which must be a positive integer.
 */
export function benchParams<T extends object>(
  full: T,
  quick: T,
  overrides: EnvOverrides<T> = {},
  env: BenchEnv = process.env,
): T {
  const base = isQuickRun(env) ? quick : full;
  const entries = Object.entries(overrides) as [NumericKey<T>, string][];
  if (entries.every(([, name]) => env[name] === undefined)) return base;
  const params = { ...base };
  for (const [key, name] of entries)
    (params as Record<PropertyKey, unknown>)[key] = positiveIntFromEnv(env, name, base[key] as number);
  return params;
}

/** The positive integer in the variable `name`, or `fallback` when it is not set; anything else throws. */
export function positiveIntFromEnv(env: BenchEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}
