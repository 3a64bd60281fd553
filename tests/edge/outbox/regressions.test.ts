import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SqliteOutbox } from '../../../edge/outbox/sqlite.js';
import { ScanSession } from '../../../edge/scan-session.js';
import { SeqRanges } from '../../../protocols/mqtt/index.js';
import { tempDir } from '../../helpers/procs.js';

const draft = (sku: string) => ({
  ts: new Date().toISOString(),
  location: 'Lager-Süd',
  kind: 'receive' as const,
  sku,
  qty: 1,
  uom: 'ea',
  device: { id: 'd', type: 'scanner' },
  raw: sku,
});

describe('outbox and session regressions', () => {
  it('backlog.bytes counts UTF-8 bytes, not characters', () => {
    const o = new SqliteOutbox({ path: join(tempDir(), 'o.db'), site: 's', edge: 'e' });
    const [m] = o.append([draft('Schraube-Ø8')]);
    expect(o.backlog().bytes).toBe(Buffer.byteLength(JSON.stringify(m)));
    o.close();
  });

  it('rejected() is newest first even within one millisecond', () => {
    const o = new SqliteOutbox({ path: join(tempDir(), 'o.db'), site: 's', edge: 'e' });
    o.append([draft('a'), draft('b'), draft('c')]);
    o.reject([[3, 3]], 'INVALID_SCHEMA', 'x');
    o.reject([[1, 1]], 'INVALID_SCHEMA', 'x');
    o.reject([[2, 2]], 'INVALID_SCHEMA', 'x');
    expect(o.rejected(10).map((r) => r.seq)).toEqual([2, 1, 3]);
    o.close();
  });

  it('control scans refuse control bytes in their values', () => {
    const s = new ScanSession({ mode: 'receive', location: 'A', uom: 'ea' });
    const out = s.handle({ kind: 'scan', data: 'LOC:A\x1dB', raw: 'LOC:A\x1dB', at: Date.now() }, { id: 'd', type: 'scanner' });
    expect(out).toMatchObject({ type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: 'LOC: control byte 0x1d at position 1' });
    expect(s.context.location).toBe('A');
  });

  it('SeqRanges requires from <= to, ascending and disjoint', () => {
    expect(SeqRanges.safeParse([[1, 3], [5, 5]]).success).toBe(true);
    expect(SeqRanges.safeParse([[3, 1]]).success).toBe(false);
    expect(SeqRanges.safeParse([[5, 6], [1, 2]]).success).toBe(false);
    expect(SeqRanges.safeParse([[1, 3], [3, 4]]).success).toBe(false);
  });
});
