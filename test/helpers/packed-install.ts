import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, renameSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root folder. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** What `npm pack --json` says of the tarball it wrote. */
export interface PackedTarball {
  /** Absolute path of the `.tgz`. */
  readonly file: string;
  /** Bytes of the `.tgz`. */
  readonly size: number;
  /** Bytes of its files once extracted. */
  readonly unpackedSize: number;
  /** Paths of the files in it, relative to the package root (`dist/index.js`, `package.json`, …). */
  readonly files: readonly string[];
}

/** The fields of package.json that decide what an application installs along. */
export interface PackageManifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
}

/** Reads `<dir>/package.json`. */
export function readManifest(dir: string): PackageManifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageManifest;
}

/**
 * Packs the repository as `npm publish` would, into `destination`. Lifecycle scripts are skipped: `prepare`
 * would rebuild dist/ while other test files read it, so the suite's `npm run build` must have run first.
 */
export function packRepository(destination: string): PackedTarball {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [result] = JSON.parse(out) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  if (result === undefined) throw new Error(`npm pack printed no result: ${out}`);
  return {
    file: join(destination, result.filename),
    size: result.size,
    unpackedSize: result.unpackedSize,
    files: result.files.map((f) => f.path),
  };
}

/** The packages an installation of `manifest` must bring: its dependencies and its peers that are not optional. */
export function requiredPackages(manifest: PackageManifest): string[] {
  const optionalPeer = (name: string): boolean => manifest.peerDependenciesMeta?.[name]?.optional === true;
  return [
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}).filter((name) => !optionalPeer(name)),
  ];
}

/**
 * Installs a packed tarball into `<root>/node_modules` the way npm lays it out, without a registry: the tarball is
 * extracted as `node_modules/<name>`, and each package it requires ({@link requiredPackages}), and each of `extra`
 * (optional peers, type packages an application would add), becomes a symlink to the repository's installed copy.
 * Node and TypeScript follow a symlink to its real path, so those packages find their own dependencies in the
 * repository; the tarball's files find only what is linked here, so an import of a package its package.json does
 * not declare fails as it would in an application.
 *
 * @returns the installed package's folder.
 */
export function installTarball(tarball: string, root: string, extra: readonly string[] = []): string {
  const modules = join(root, 'node_modules');
  mkdirSync(modules, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', root]);
  const manifest = readManifest(join(root, 'package'));
  const installed = join(modules, manifest.name);
  renameSync(join(root, 'package'), installed);
  const repoModules = realpathSync(join(REPO, 'node_modules'));
  for (const name of [...requiredPackages(manifest), ...extra]) {
    const link = join(modules, name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(repoModules, name), link, 'dir');
  }
  return installed;
}
