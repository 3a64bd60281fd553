/**
 * Durability of the outbox under SIGKILL: a child process appends 1000 movements in batches of
 * 10 to the compiled outbox (dist/, built by `npm run build`; vitest's TS transform is not
 * available to a plain `node` child) and prints each committed lastSeq. It is killed mid-way;
 * every seq it reported as committed must then be on disk, gapless from 1, and the next append
 * must continue after the highest.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { Movement } from '../../../protocols/mqtt/index.js';

const DIST = resolve(import.meta.dirname, '../../../dist/edge/outbox/sqlite.js');
const built = existsSync(DIST);
if (!built) console.warn(`sigkill.test.ts: skipped, ${DIST} does not exist (run \`npm run build\` first)`);

const CHILD = `
import { writeSync } from 'node:fs';
const [url, path] = process.argv.slice(1);
const { SqliteOutbox } = await import(url);
const outbox = new SqliteOutbox({ path, site: 'site-K', edge: 'edge-K' });
const draft = (i) => ({ ts: new Date().toISOString(), location: 'DOCK-1', kind: 'receive', sku: 'SKU-' + i, qty: 1, uom: 'ea',
  device: { id: 'dock1', type: 'scanner' }, raw: 'SKU-' + i });
for (let b = 0; b < 100; b++) {
  outbox.append(Array.from({ length: 10 }, (_, i) => draft(b * 10 + i + 1)));
  writeSync(1, outbox.lastSeq() + '\\n');
}
writeSync(1, 'done\\n');
`;

describe.skipIf(!built)('SqliteOutbox survives SIGKILL (dist build)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every seq reported as committed, gapless, and continues after the highest', async () => {
    dir = mkdtempSync(join(tmpdir(), 'stockgate-sigkill-'));
    const path = join(dir, 'outbox.db');
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(DIST).href, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const printed: number[] = [];
    let stderr = '';
    let buf = '';
    let sawDone = false;
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
      child.on('exit', (code, signal) => res({ code, signal })),
    );
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        if (line === 'done') sawDone = true;
        else if (/^\d+$/.test(line)) {
          printed.push(Number(line));
          // Kill mid-way, with most of the work still ahead, wherever the child happens to be.
          if (Number(line) >= 100 && !child.killed) child.kill('SIGKILL');
        }
      }
    });
    const { code, signal } = await exit;
    expect(stderr).toBe('');
    expect(sawDone, 'the child finished all 1000 before it could be killed').toBe(false);
    expect(signal).toBe('SIGKILL');
    expect(code).toBeNull();

    // What the child reported: whole batches, in order.
    expect(printed.length).toBeGreaterThanOrEqual(10);
    expect(printed).toEqual(printed.map((_, i) => (i + 1) * 10));
    const highest = printed[printed.length - 1]!;
    expect(highest).toBeLessThan(1000);

    const outbox = new SqliteOutbox({ path, site: 'site-K', edge: 'edge-K' });
    try {
      const entries = outbox.read(0, 10_000);
      const seqs = entries.map((e) => e.seq);
      // Gapless from 1, and a multiple of 10: a batch is one transaction, never half on disk.
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(seqs.length % 10).toBe(0);
      // Every reported seq is there; at most the one batch in flight at the kill is extra.
      expect(seqs.length).toBeGreaterThanOrEqual(highest);
      expect(seqs.length).toBeLessThanOrEqual(highest + 10);
      expect(outbox.lastSeq()).toBe(seqs.length);
      for (const e of entries) expect(Movement.safeParse(JSON.parse(e.json)).success).toBe(true);
      expect(new Set(entries.map((e) => e.id)).size).toBe(entries.length);

      const [next] = outbox.append([
        { ts: new Date().toISOString(), location: 'DOCK-1', kind: 'receive', sku: 'AFTER', qty: 1, uom: 'ea', device: { id: 'dock1', type: 'scanner' }, raw: 'AFTER' },
      ]);
      expect(next!.seq).toBe(seqs.length + 1);
    } finally {
      outbox.close();
    }
  });
});
