// @ts-check
/**
 * `npm run build`: compiles src/ into a fresh dist/, then gives every declaration file a CommonJS twin.
 *
 * dist/ is emptied first so a module moved or deleted in src/ cannot linger in the published package.
 *
 * The twins exist for TypeScript's `module: node16` in a CommonJS project: there a `.d.ts` of this ESM package
 * may not be imported (TS1479: "cannot be imported with 'require'"), although Node >= 20.19 runs that
 * `require()`. package.json's `require` condition points at `*.d.cts` files, which TypeScript reads as CommonJS
 * declarations; each is its `.d.ts` with relative imports pointing at the twins. `nodenext` and `bundler`
 * would manage without them.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});

/** `from './x.js'` and `import("./x.js")` as tsc writes them in declarations. */
const RELATIVE_JS = /((?:from\s+|import\()(['"])\.{1,2}\/[^'"]*?)\.js\2/g;

for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.d.ts')) continue;
  const path = join(dist, file);
  const text = readFileSync(path, 'utf8');
  writeFileSync(path.replace(/\.d\.ts$/, '.d.cts'), text.replace(RELATIVE_JS, '$1.cjs$2'));
}
