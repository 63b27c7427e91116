import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HourlyProfile } from './hourly-profile.js';

/** Marks a file as ours, so a foreign JSON file is recognised as such. */
const FORMAT = 'pg-query-router/adaptive-state';
const VERSION = 1;

/** What is saved per node, keyed by its `host:port/database` (never credentials). */
export interface SavedNode {
  readonly arrivals: HourlyProfile;
  readonly busy: HourlyProfile;
}

/** The outcome of reading a state file. */
export type StateFileRead =
  | { readonly ok: true; readonly nodes: ReadonlyMap<string, SavedNode>; readonly savedAt: string }
  | { readonly ok: false; readonly missing: boolean; readonly reason: string };

/**
 * Reads a state file written by {@link writeStateFile}. Never throws: a missing file, unreadable JSON, another
 * format or version, or a malformed profile come back as `{ ok: false, reason }` so the caller can warn and go on.
 */
export function readStateFile(path: string): StateFileRead {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const missing = (error as { code?: unknown }).code === 'ENOENT';
    return {
      ok: false,
      missing,
      reason: missing ? 'no state file yet' : `cannot read it: ${(error as Error).message}`,
    };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { ok: false, missing: false, reason: `not JSON (${(error as Error).message})` };
  }
  const { format, version, savedAt, nodes } = (typeof data === 'object' && data !== null ? data : {}) as Record<
    string,
    unknown
  >;
  if (format !== FORMAT)
    return { ok: false, missing: false, reason: `not a pg-query-router state file (format ${JSON.stringify(format)})` };
  if (version !== VERSION)
    return { ok: false, missing: false, reason: `state file version ${JSON.stringify(version)}, expected ${VERSION}` };
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes))
    return { ok: false, missing: false, reason: 'no nodes in it' };
  const read = new Map<string, SavedNode>();
  try {
    for (const [label, value] of Object.entries(nodes as Record<string, unknown>)) {
      const saved = (value ?? {}) as Record<string, unknown>;
      read.set(label, {
        arrivals: HourlyProfile.fromJSON(saved['arrivals']),
        busy: HourlyProfile.fromJSON(saved['busy']),
      });
    }
  } catch (error) {
    return { ok: false, missing: false, reason: `malformed profile: ${(error as Error).message}` };
  }
  return { ok: true, nodes: read, savedAt: typeof savedAt === 'string' ? savedAt : 'unknown' };
}

/** Writes the profiles atomically (a temporary file renamed over the old one), creating the directory if needed. */
export function writeStateFile(path: string, nodes: ReadonlyMap<string, SavedNode>, now: number): void {
  const body = {
    format: FORMAT,
    version: VERSION,
    savedAt: new Date(now).toISOString(),
    nodes: Object.fromEntries(
      [...nodes].map(([label, saved]) => [label, { arrivals: saved.arrivals.toJSON(), busy: saved.busy.toJSON() }]),
    ),
  };
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(body, null, 1)}\n`);
  renameSync(temporary, path);
}
