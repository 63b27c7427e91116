import { inspect, type InspectOptions } from 'node:util';

/** The key `util.inspect` (and so `console.log`) looks up for an object's own rendering. */
export const INSPECT = inspect.custom;

/**
 * How a public object shows in `util.inspect`/`console.log`: its class name and a few safe fields, never the
 * pools, clients and configurations behind it (pg keeps passwords there, readable with `showHidden`).
 */
export function inspectAs(
  name: string,
  fields: Record<string, unknown>,
  depth: number,
  options: InspectOptions,
): string {
  if (depth < 0) return `[${name}]`;
  return `${name} ${inspect(fields, { ...options, depth: options.depth === null || options.depth === undefined ? null : options.depth - 1 })}`;
}
