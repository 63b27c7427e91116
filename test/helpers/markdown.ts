import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Languages of the fenced blocks the docs test runs; every other block (sh, sql, text, json) is not run. */
const RUNNABLE = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);

/** `<!-- not run: reason -->` on the line above a block (blank lines between allowed) keeps it from running. */
const NOT_RUN = /^<!--\s*not run:\s*(.*?)\s*-->$/;
/** `<!-- output -->` above a `text` block: what the runnable block before it prints on stdout. */
const OUTPUT = /^<!--\s*output\s*-->$/;

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The file, relative to the repository root (`docs/routing.md`). */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's language (`ts`, `sh`, …), lower case; `''` when none. */
  readonly lang: string;
  readonly code: string;
  /** Whether the docs test runs it: a runnable language and no `not run` marker. */
  readonly runnable: boolean;
  /** The reason given by a `<!-- not run: … -->` marker, if any (`''` when the marker gives none). */
  readonly notRunReason: string | undefined;
  /** For a runnable block: the text of the `<!-- output -->` block that follows it, if any. */
  readonly expectedOutput: string | undefined;
  /** The nearest non-blank line above the fence, when it is not another block's closing fence. */
  readonly marker: string | undefined;
}

/** The Markdown files of the user documentation: README.md, CHANGELOG.md and every `.md` under docs/. */
export function documentationFiles(): string[] {
  const files = ['README.md', 'CHANGELOG.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (path !== 'docs/api') walk(path);
      } else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files;
}

/** Reads a file relative to the repository root. */
export function readRepoFile(file: string): string {
  return readFileSync(join(REPO_ROOT, file), 'utf8');
}

/** The fenced code blocks of `markdown` (the contents of `file`), in order. */
export function codeBlocks(file: string, markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const raw: { line: number; lang: string; code: string; marker: string | undefined }[] = [];
  let lastNonBlank: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/.exec(lines[i]!);
    if (open === null) {
      if (lines[i]!.trim() !== '') lastNonBlank = lines[i]!.trim();
      continue;
    }
    const [, indent, fence, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trim().startsWith(fence!)) {
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!);
      j++;
    }
    raw.push({ line: i + 1, lang: lang!.toLowerCase(), code: body.join('\n'), marker: lastNonBlank });
    lastNonBlank = undefined;
    i = j;
  }
  const blocks: CodeBlock[] = [];
  for (const [index, block] of raw.entries()) {
    const notRun = block.marker === undefined ? null : NOT_RUN.exec(block.marker);
    const runnable = RUNNABLE.has(block.lang) && notRun === null;
    const next = raw[index + 1];
    const expectedOutput =
      runnable && next !== undefined && next.marker !== undefined && OUTPUT.test(next.marker) ? next.code : undefined;
    blocks.push({
      file,
      line: block.line,
      lang: block.lang,
      code: block.code,
      runnable,
      notRunReason: notRun === null ? undefined : (notRun[1] ?? ''),
      expectedOutput,
      marker: block.marker,
    });
  }
  return blocks;
}

/** Whether `block` is marked as the output of the block before it. */
export function isOutputBlock(block: CodeBlock): boolean {
  return block.marker !== undefined && OUTPUT.test(block.marker);
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks), with GitHub's `-1`, `-2` for repeats. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined) {
      if (fence === undefined) fence = marker;
      else if (marker.startsWith(fence)) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const slug = headingSlug(heading[1]!);
    const count = seen.get(slug) ?? 0;
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
    seen.set(slug, count + 1);
  }
  return anchors;
}

/** Relative links of a Markdown file (`[text](target)`, outside code), with the line they are on. */
export function relativeLinks(markdown: string): { line: number; target: string }[] {
  const links: { line: number; target: string }[] = [];
  let fence: string | undefined;
  for (const [index, line] of markdown.split('\n').entries()) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined) {
      if (fence === undefined) fence = marker;
      else if (marker.startsWith(fence)) fence = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const text = line.replace(/`[^`]*`/g, '');
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) links.push({ line: index + 1, target });
    }
  }
  return links;
}

/**
 * The rows of the Markdown tables in `markdown` whose header's first cell is `firstHeader`: each row's cells,
 * trimmed.
 */
export function tableRows(markdown: string, firstHeader: string): string[][] {
  const rows: string[][] = [];
  const lines = markdown.split('\n');
  const cells = (line: string): string[] =>
    line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1]!)) continue;
    if (cells(lines[i]!)[0] !== firstHeader) continue;
    let j = i + 2;
    while (j < lines.length && lines[j]!.trim().startsWith('|')) rows.push(cells(lines[j++]!));
    i = j;
  }
  return rows;
}

/** `file` relative to the repository root, for messages. */
export function repoRelative(path: string): string {
  return relative(REPO_ROOT, path);
}
