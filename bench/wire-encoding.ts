/**
 * Section `wireEncoding` of `npm run bench` (issue 14 §1: "JSON vs a compact encoding negotiated
 * within the wire contract's versioning"): what the cloud's door costs per movement for a batch
 * as the wire carries it today, against a candidate compact form, before anything is committed.
 *
 * - `v1objects`: the wire contract's batch envelope (protocols/mqtt), one JSON object per movement
 *   with its field names; the ingester's path: `guardJson` on the bytes, `JSON.parse`,
 *   `fastMovementBatch`, `fastMovement` per movement.
 * - `positional` (a candidate, not a contract): the same batch with the fields the edge's batch
 *   shares (v, site, edge, device) once in the envelope, and per movement an array of the other
 *   fields in a column order the envelope names. Still JSON, so the same guard; a reader of it
 *   rebuilds each movement object (what the ledger path takes) and runs the same validator.
 *
 * Same movements (the ingest section's shape, `--batch` a message), CPU time of this thread,
 * `--wire-rounds` rounds after one warm-up. Both payloads are checked to yield every movement,
 * and the same ones.
 */
import { monotonicFactory } from 'ulid';
import { guardJson } from '../protocols/mqtt/json-guard.js';
import { fastMovement, fastMovementBatch } from '../protocols/mqtt/movement-fast.js';
import type { Movement } from '../protocols/mqtt/index.js';
import { draft } from './common.js';
import type { BenchSection } from './section.js';

const SITE = 'bench';
const EDGE = 'bench-e1';
/** The per-movement fields of the positional form, in order. */
const COLUMNS = ['id', 'seq', 'ts', 'location', 'kind', 'sku', 'qty', 'uom', 'operator', 'raw'] as const;

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The ingest section's movements (`draft`, what its simulated edges append), as the edge sends them. */
function movements(n: number): Movement[] {
  const ulid = monotonicFactory();
  return Array.from({ length: n }, (_, i) => ({ ...draft(i, 1), v: 1, id: ulid(), edge: EDGE, seq: i + 1, site: SITE }) as Movement);
}

/** Today's path: guard, parse, envelope, each movement. */
function readObjects(payload: Buffer): Movement[] {
  if (guardJson(payload, 1 << 24)) throw new Error('v1objects: refused by the guard');
  const env = fastMovementBatch(JSON.parse(payload.toString('utf8')));
  if (!env) throw new Error('v1objects: envelope refused');
  const out: Movement[] = [];
  for (const m of env.movements) {
    const ok = fastMovement(m, { site: env.site, edge: env.edge });
    if (ok) out.push(ok);
  }
  return out;
}

/** The candidate: guard, parse, rebuild each movement from its row, the same validator. */
function readPositional(payload: Buffer): Movement[] {
  if (guardJson(payload, 1 << 24)) throw new Error('positional: refused by the guard');
  const b = JSON.parse(payload.toString('utf8')) as { site: string; edge: string; device: { id: string; type: string }; rows: unknown[][] };
  const out: Movement[] = [];
  for (const r of b.rows) {
    const m = { v: 1, id: r[0], edge: b.edge, seq: r[1], ts: r[2], site: b.site, location: r[3], kind: r[4], sku: r[5], qty: r[6], uom: r[7], operator: r[8], device: { id: b.device.id, type: b.device.type }, raw: r[9] };
    const ok = fastMovement(m, { site: b.site, edge: b.edge });
    if (ok) out.push(ok);
  }
  return out;
}

export const wireEncodingSection: BenchSection = {
  name: 'wireEncoding',
  about: "the cloud's door per movement (guard + JSON.parse + validate): the wire's JSON objects vs a candidate positional form, bytes and CPU µs",
  byDefault: true,
  options: { batch: { type: 'string', default: '500' }, 'wire-rounds': { type: 'string', default: '400' } },
  async run(ctx) {
    const batch = Number(ctx.flags.batch);
    const rounds = Number(ctx.flags['wire-rounds']);
    const ms = movements(batch);
    const sentAt = new Date().toISOString();
    const v1 = Buffer.from(JSON.stringify({ v: 1, site: SITE, edge: EDGE, sentAt, movements: ms }));
    const pos = Buffer.from(JSON.stringify({ v: 1, form: 'positional', site: SITE, edge: EDGE, sentAt, device: ms[0]!.device, cols: COLUMNS, rows: ms.map((m) => COLUMNS.map((c) => m[c])) }));
    // Both forms must carry the same movements, all of them valid.
    const a = readObjects(v1);
    const b = readPositional(pos);
    const same = a.length === batch && JSON.stringify(a) === JSON.stringify(b);
    const time = (read: (p: Buffer) => Movement[], p: Buffer) => {
      read(p);
      const c0 = cpuUs();
      let n = 0;
      for (let i = 0; i < rounds; i++) n += read(p).length;
      return (cpuUs() - c0) / n;
    };
    // Alternate the two, three times each: the machine is shared.
    const objUs: number[] = [];
    const posUs: number[] = [];
    for (let k = 0; k < 3; k++) {
      objUs.push(time(readObjects, v1));
      posUs.push(time(readPositional, pos));
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1]!;
    const figures = {
      batch,
      rounds,
      bytesPerMovement: { v1objects: Math.round(v1.length / batch), positional: Math.round(pos.length / batch) },
      cpuUsPerMovement: { v1objects: round3(median(objUs)), positional: round3(median(posUs)) },
      runs: { v1objects: objUs.map(round3), positional: posUs.map(round3) },
      positionalPerV1: round3(median(posUs) / median(objUs)),
      sameMovements: same,
    };
    return {
      figures,
      ok: same,
      table: [
        ['wire: bytes per movement, JSON objects / positional', `${figures.bytesPerMovement.v1objects} / ${figures.bytesPerMovement.positional}`],
        ['wire: guard + parse + validate, CPU µs per movement, objects / positional', `${figures.cpuUsPerMovement.v1objects} / ${figures.cpuUsPerMovement.positional} (${figures.positionalPerV1}x)`],
        ['wire: both forms yield the same movements', same ? 'yes' : 'NO'],
      ],
    };
  },
};
