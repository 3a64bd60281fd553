/**
 * Reads a `.cpuprofile` (`node --cpu-prof`) and prints where the samples are:
 * `node dist/bench/cpu-profile.js FILE [--top 25] [--under cloud/costing/]`.
 *
 * - self: samples whose top frame is a function (name, file:line), the hot leaves;
 * - inclusive by file: samples with at least one frame of that source file on the stack (a file
 *   of this package, node_modules packages by name), so "cloud/costing/service.ts 30%" means 30% of
 *   the samples were somewhere inside costing's service, including the queries it made;
 * - `--under PATH`: only samples with a frame whose file contains PATH (e.g. one consumer);
 *   then also "by caller in PATH": each sample under the nearest frame of PATH from the top, so
 *   a query's SQLite time is charged to the repo function that made it.
 *
 * Shares of the samples, not µs: the profiler samples wall time of the main thread.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
}

/** A frame's file, short: `cloud/costing/service.ts`, `kysely`, `(native)`. */
export function fileOf(url: string): string {
  if (!url) return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + '/dist/'.length).replace(/\.js$/, '.ts');
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

export function summarise(p: Profile, o: { top: number; under?: string }): { samples: number; self: Array<[string, number]>; files: Array<[string, number]>; callers: Array<[string, number]> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const files = new Map<string, number>();
  const callers = new Map<string, number>();
  let total = 0;
  for (const s of p.samples) {
    const stack: Node[] = [];
    for (let id: number | undefined = s; id !== undefined; id = parent.get(id)) stack.push(byId.get(id)!);
    const fs = new Set(stack.map((n) => fileOf(n.callFrame.url)));
    if (o.under && ![...fs].some((f) => f.includes(o.under!))) continue;
    total++;
    const top = stack[0]!.callFrame;
    const k = `${top.functionName || '(anonymous)'} ${fileOf(top.url)}:${top.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + 1);
    for (const f of fs) files.set(f, (files.get(f) ?? 0) + 1);
    if (o.under) {
      const c = stack.find((n) => fileOf(n.callFrame.url).includes(o.under!))!.callFrame;
      const ck = `${c.functionName || '(anonymous)'} ${fileOf(c.url)}:${c.lineNumber + 1}`;
      callers.set(ck, (callers.get(ck) ?? 0) + 1);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, o.top);
  return { samples: total, self: sorted(self), files: sorted(files), callers: sorted(callers) };
}

if (process.argv[1]?.endsWith('cpu-profile.js')) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, under: { type: 'string' } } });
  const file = positionals[0];
  if (!file) throw new TypeError('usage: cpu-profile FILE [--top N] [--under PATH]');
  const r = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, { top: Number(values.top), ...(values.under ? { under: values.under } : {}) });
  const pct = (n: number) => `${((n / r.samples) * 100).toFixed(1).padStart(5)}%`;
  process.stdout.write(`${r.samples} samples${values.under ? ` under ${values.under}` : ''}\n\nself (top frame):\n`);
  for (const [k, n] of r.self) process.stdout.write(`${pct(n)}  ${k}\n`);
  process.stdout.write('\ninclusive by file (on the stack):\n');
  for (const [k, n] of r.files) process.stdout.write(`${pct(n)}  ${k}\n`);
  if (values.under) {
    process.stdout.write(`\nby caller in ${values.under} (nearest frame of it from the top):\n`);
    for (const [k, n] of r.callers) process.stdout.write(`${pct(n)}  ${k}\n`);
  }
}
