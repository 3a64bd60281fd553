/**
 * The import rules of the layering (protocols <- devices <- edge; protocols <- cloud), checked on
 * the parsed import list of every source file. Imports come from the TypeScript compiler's
 * `preProcessFile`, which sees static imports, `export ... from`, `import type`, dynamic
 * `import()` and `require()`, and ignores comments and string contents.
 */
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import ts from 'typescript';

export interface SourceFile {
  /** Repo-relative path with `/` separators, e.g. `edge/agent.ts`. */
  path: string;
  text: string;
}

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

/** Top-level source folders the rules talk about. */
export const LAYERS = ['protocols', 'devices', 'edge', 'cloud', 'cli', 'dashboards'] as const;

/** npm packages `protocols/` may use: pure code, no I/O. */
export const PROTOCOL_PACKAGES = new Set(['zod', 'epc-tds', 'gtin']);

/** Node built-ins that do I/O (or reach the host): never in `protocols/`. */
export const IO_BUILTINS = new Set([
  'fs',
  'net',
  'child_process',
  'http',
  'https',
  'http2',
  'dgram',
  'tls',
  'os',
  'worker_threads',
  'dns',
  'cluster',
  'readline',
  'repl',
  'inspector',
  'sqlite',
  'tty',
]);

const BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, '')));

/** Every import specifier of one file, in source order. */
export function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

type Target =
  | { type: 'local'; layer: string }
  | { type: 'builtin'; name: string }
  | { type: 'package'; name: string };

/** What a specifier in `file` points at: a top-level folder, a Node built-in or an npm package. */
export function classify(file: string, specifier: string): Target {
  if (specifier.startsWith('.') || specifier.startsWith('/')) {
    const resolved = specifier.startsWith('/') ? specifier.slice(1) : posix.normalize(posix.join(posix.dirname(file), specifier));
    return { type: 'local', layer: resolved.split('/')[0]! };
  }
  if (specifier.startsWith('node:')) return { type: 'builtin', name: specifier.slice(5).split('/')[0]! };
  const parts = specifier.split('/');
  const pkg = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  if (!specifier.startsWith('@') && BUILTINS.has(parts[0]!)) return { type: 'builtin', name: parts[0]! };
  return { type: 'package', name: pkg };
}

/** Layers each layer must not import. */
const FORBIDDEN_LAYERS: Record<string, string[]> = {
  protocols: ['devices', 'edge', 'cloud', 'cli', 'dashboards'],
  devices: ['edge', 'cloud'],
  edge: ['cloud'],
  cloud: ['edge', 'devices'],
};

/** Check the rules on a set of files; returns every violation (empty when clean). */
export function checkImports(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const layer = f.path.split('/')[0]!;
    const forbidden = FORBIDDEN_LAYERS[layer];
    if (!forbidden) continue;
    for (const specifier of importsOf(f.text)) {
      const t = classify(f.path, specifier);
      let rule: string | undefined;
      if (t.type === 'local' && forbidden.includes(t.layer)) rule = `${layer}/ must not import ${t.layer}/`;
      else if (layer === 'protocols' && t.type === 'builtin' && IO_BUILTINS.has(t.name)) rule = `protocols/ must not do I/O (node:${t.name})`;
      else if (layer === 'protocols' && t.type === 'package' && !PROTOCOL_PACKAGES.has(t.name)) {
        rule = `protocols/ may only use ${[...PROTOCOL_PACKAGES].join(', ')} (not ${t.name})`;
      }
      if (rule) out.push({ file: f.path, specifier, rule });
    }
  }
  return out;
}

export const formatViolation = (v: Violation) => `${v.file} -> ${v.specifier}`;
