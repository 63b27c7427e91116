import { execFileSync } from 'node:child_process';
import { lchownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The OS identity the servers run as. */
export interface ServerUser {
  readonly uid: number;
  readonly gid: number;
}

let cached: ServerUser | undefined;

function idOf(flag: '-u' | '-g'): number {
  return Number(
    execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
  );
}

/**
 * `undefined` when this process is not root; otherwise the `postgres` OS user, created when missing,
 * because initdb and postgres refuse to run as root.
 */
export function serverUser(): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (cached !== undefined) return cached;
  try {
    idOf('-u');
  } catch {
    try {
      execFileSync('useradd', ['--system', '--no-create-home', 'postgres'], { stdio: 'ignore' });
    } catch (err) {
      throw new Error('Running as root: PostgreSQL must run as another user, and creating the "postgres" user failed', {
        cause: err,
      });
    }
  }
  cached = { uid: idOf('-u'), gid: idOf('-g') };
  return cached;
}

/** Gives `path` and everything below it to `user` (lchown: symlinks themselves, never their targets). */
export function chownTree(path: string, user: ServerUser): void {
  lchownSync(path, user.uid, user.gid);
  if (!lstatSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), user);
}
