import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readManifest, requiredPackages } from './packed-install.js';

/** One package of an installed dependency tree. */
export interface InstalledPackage {
  readonly name: string;
  readonly version: string;
  /** Its real folder. */
  readonly dir: string;
  /** Bytes of its files (apparent sizes), not counting a nested node_modules. */
  readonly bytes: number;
}

/** The folder Node's resolution finds for package `name` required from `from`, if any. */
function findPackage(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

function bytesOf(path: string): number {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.size;
  let total = stat.size;
  for (const entry of readdirSync(path)) if (entry !== 'node_modules') total += bytesOf(join(path, entry));
  return total;
}

/**
 * What installing the package in `packageDir` puts on disk, read from the copies installed here: the package, its
 * dependencies and its peers that are not optional, then theirs, transitively; an optional dependency counts
 * when it is installed (npm installs those it can). A required package that cannot be found throws.
 */
export function installTree(packageDir: string): InstalledPackage[] {
  const seen = new Map<string, InstalledPackage>();
  const visit = (dir: string): void => {
    const manifest = readManifest(dir);
    seen.set(dir, { name: manifest.name, version: manifest.version, dir, bytes: bytesOf(dir) });
    const wanted = [
      ...requiredPackages(manifest).map((name) => ({ name, optional: false })),
      ...Object.keys(manifest.optionalDependencies ?? {}).map((name) => ({ name, optional: true })),
    ];
    for (const { name, optional } of wanted) {
      const found = findPackage(dir, name);
      if (found === undefined) {
        if (optional) continue;
        throw new Error(`${manifest.name} needs ${name}, which is not installed`);
      }
      if (!seen.has(found)) visit(found);
    }
  };
  visit(realpathSync(packageDir));
  return [...seen.values()];
}
