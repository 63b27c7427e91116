/**
 * Every TypeScript block of README.md and docs/ that a reader may copy is type-checked and run, as a reader would
 * run it: a file of its own importing the package by its name (the built `dist/`, so `npm run build` first), with
 * `DATABASE_URL` and `DATABASE_REPLICA_URLS` naming the test cluster (a database of its own on it). It must exit 0,
 * and print what the `<!-- output -->` block under it shows. A block marked `<!-- not run: reason -->` is skipped
 * for that reason.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import ts from 'typescript';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { waitForReplicaReplay } from '../src/cluster/index.js';
import {
  codeBlocks,
  documentationFiles,
  isOutputBlock,
  readRepoFile,
  REPO_ROOT,
  type CodeBlock,
} from './helpers/markdown.js';

const DATABASE = 'docs_examples';
const OUT_DIR = join(REPO_ROOT, 'test-artifacts', 'docs-blocks');
const BLOCK_TIMEOUT_MS = 45_000;

const blocks = documentationFiles().flatMap((file) => codeBlocks(file, readRepoFile(file)));
const runnable = blocks.filter((block) => block.runnable);

const blockName = (block: CodeBlock): string => `${block.file}:${block.line}`;
const blockFile = (block: CodeBlock, ext: string): string =>
  join(OUT_DIR, `${block.file.replace(/[/.]/g, '-')}-L${block.line}.${ext}`);

/** The URL `url` with its database replaced by `database`. */
function onDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Runs `file` with node; resolves with its exit code and output (the process is killed after the timeout). */
function runNode(
  file: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS - 5_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const normalise = (text: string): string =>
  text
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .trim();

describe('code blocks of README.md and docs/', () => {
  it('finds the blocks, and every block left out says why', () => {
    expect(runnable.length).toBeGreaterThan(10);
    for (const block of blocks) {
      if (block.notRunReason !== undefined) expect(block.notRunReason, blockName(block)).not.toBe('');
    }
    for (const [index, block] of blocks.entries()) {
      if (!isOutputBlock(block)) continue;
      expect(block.lang, `${blockName(block)}: an output block is a text block`).toBe('text');
      expect(blocks[index - 1]?.runnable, `${blockName(block)}: an output block follows a block that runs`).toBe(true);
    }
  });

  describe('each block type-checks and runs against the test cluster', () => {
    const diagnostics = new Map<string, string>();
    let env: NodeJS.ProcessEnv = {};

    beforeAll(async () => {
      if (!existsSync(join(REPO_ROOT, 'dist', 'index.js')))
        throw new Error('dist/index.js is missing: run `npm run build` first (blocks import the built package)');
      rmSync(OUT_DIR, { recursive: true, force: true });
      mkdirSync(OUT_DIR, { recursive: true });
      for (const block of runnable) {
        // A block without imports is a script; `export {}` makes it a module, where top-level await is allowed.
        const source = /^\s*(import|export)\s/m.test(block.code) ? block.code : `${block.code}\nexport {};\n`;
        writeFileSync(blockFile(block, 'ts'), source);
        const js = ts.transpileModule(source, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        });
        writeFileSync(blockFile(block, 'mjs'), js.outputText);
      }

      // One program over every block: each is checked as a strict TypeScript project would check it.
      const program = ts.createProgram(
        runnable.map((block) => blockFile(block, 'ts')),
        {
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
          target: ts.ScriptTarget.ES2022,
          lib: ['lib.es2022.d.ts'],
          types: ['node'],
          strict: true,
          skipLibCheck: true,
          esModuleInterop: true,
          noEmit: true,
        },
      );
      const host: ts.FormatDiagnosticsHost = {
        getCanonicalFileName: (name) => name,
        getCurrentDirectory: () => REPO_ROOT,
        getNewLine: () => '\n',
      };
      for (const block of runnable) {
        const file = program.getSourceFile(blockFile(block, 'ts'));
        const found = file === undefined ? [] : ts.getPreEmitDiagnostics(program, file);
        if (found.length > 0) diagnostics.set(blockName(block), ts.formatDiagnostics(found, host));
      }

      // A database of their own, so the examples' tables meet no other test's.
      const primaryUrl = inject('primaryUrl');
      const replicaUrls = inject('replicaUrls');
      const client = new pg.Client({ connectionString: primaryUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
        await client.query(`CREATE DATABASE ${DATABASE}`);
      } finally {
        await client.end();
      }
      await waitForReplicaReplay(primaryUrl, replicaUrls);
      // Examples read only the variables they are given (DATABASE_URL, …), none of this process's PGROUTER_*.
      env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PGROUTER_')));
      Object.assign(env, {
        DATABASE_URL: onDatabase(primaryUrl, DATABASE),
        DATABASE_REPLICA_URLS: replicaUrls.map((url) => onDatabase(url, DATABASE)).join(','),
        MONITOR_PORT: '0',
        NODE_ENV: 'test',
      });
    });

    for (const block of runnable) {
      it(
        blockName(block),
        async () => {
          expect(diagnostics.get(blockName(block)) ?? '', 'type errors').toBe('');
          const result = await runNode(blockFile(block, 'mjs'), env);
          expect(
            { code: result.code, signal: result.signal },
            `${blockName(block)} failed:\n${result.stderr}\n${result.stdout}`,
          ).toEqual({ code: 0, signal: null });
          if (block.expectedOutput !== undefined) {
            expect(normalise(result.stdout)).toBe(normalise(block.expectedOutput));
          }
        },
        BLOCK_TIMEOUT_MS,
      );
    }
  });
});
