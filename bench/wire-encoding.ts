/**
 * Section `wireEncoding` of `npm run bench` (issue 14 §1: "JSON vs a compact encoding negotiated
 * within the wire contract's versioning"): what a batch costs at the cloud's door and at the edge's
 * outbox read, per movement, in the two batch versions the wire contract has.
 *
 * - `v1objects`: version 1 (protocols/mqtt/movement.ts), one JSON object per movement with its
 *   field names; the ingester's path: `guardJson` on the bytes, `JSON.parse`, `fastMovementBatch`,
 *   `fastMovement` per movement.
 * - `v2rows`: version 2, the rows form (protocols/mqtt/movement-rows.ts), what an edge sends to a
 *   cloud that offers it: the columns named once, a JSON array per movement. The ingester's path:
 *   the same guard and parse, `fastMovementRowsBatch`, `rowsAsVersion1` (the rows as version 1
 *   movements), then the same `fastMovement`.
 *
 * Both payloads are made the way the edge makes them: the ingest section's movements (`draft`)
 * appended to a real SQLite outbox, read back by `readBatch` and `readRows` and wrapped in the
 * publisher's envelopes. The run fails unless both yield every movement, and the same ones. CPU
 * time of this thread, `--wire-rounds` rounds after one warm-up, the two alternated three times
 * (the median reported).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteOutbox } from '../edge/outbox/sqlite.js';
import { guardJson } from '../protocols/mqtt/json-guard.js';
import { fastMovement, fastMovementBatch } from '../protocols/mqtt/movement-fast.js';
import { BATCH_VERSIONS, ROW_COLUMNS, fastMovementRowsBatch, rowsAsVersion1 } from '../protocols/mqtt/movement-rows.js';
import type { Movement } from '../protocols/mqtt/index.js';
import { draft } from './common.js';
import type { BenchSection } from './section.js';

const SITE = 'bench';
const EDGE = 'bench-e1';

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const round3 = (x: number) => Math.round(x * 1000) / 1000;

function validate(env: ReturnType<typeof fastMovementBatch>, what: string): Movement[] {
  if (!env) throw new Error(`${what}: envelope refused`);
  const out: Movement[] = [];
  for (const m of env.movements) {
    const ok = fastMovement(m, { site: env.site, edge: env.edge });
    if (ok) out.push(ok);
  }
  return out;
}

/** Version 1 at the cloud: guard, parse, envelope, each movement. */
function readObjects(payload: Buffer): Movement[] {
  if (guardJson(payload, 1 << 24)) throw new Error('v1objects: refused by the guard');
  return validate(fastMovementBatch(JSON.parse(payload.toString('utf8'))), 'v1objects');
}

/** Version 2 at the cloud, as cloud/ingest/ingester.ts reads it. */
function readRows(payload: Buffer): Movement[] {
  if (guardJson(payload, 1 << 24)) throw new Error('v2rows: refused by the guard');
  const rows = fastMovementRowsBatch(JSON.parse(payload.toString('utf8')));
  if (!rows) throw new Error('v2rows: envelope refused');
  return validate(rowsAsVersion1(rows).envelope, 'v2rows');
}

export const wireEncodingSection: BenchSection = {
  name: 'wireEncoding',
  about: "batch version 1 (JSON objects) vs 2 (rows): bytes, the cloud's door (guard + JSON.parse + validate) and the edge's outbox read, CPU µs per movement",
  byDefault: true,
  options: { batch: { type: 'string', default: '500' }, 'wire-rounds': { type: 'string', default: '400' } },
  async run(ctx) {
    const batch = Number(ctx.flags.batch);
    const rounds = Number(ctx.flags['wire-rounds']);
    const dir = mkdtempSync(join(tmpdir(), 'sg-wire-'));
    const outbox = new SqliteOutbox({ path: join(dir, 'outbox.db'), site: SITE, edge: EDGE });
    try {
      outbox.append(Array.from({ length: batch }, (_, i) => draft(i, 1)));
      // The publisher's envelopes (edge/publisher.ts) around the outbox's two reads.
      const sentAt = new Date().toISOString();
      const ids = `"site":"${SITE}","edge":"${EDGE}","batchVersions":${JSON.stringify(BATCH_VERSIONS)},`;
      const v1 = Buffer.from(`{"v":1,${ids}"sentAt":"${sentAt}","movements":[${outbox.readBatch(0, batch)!.json}]}`);
      const v2 = Buffer.from(`{"v":2,${ids}"cols":${JSON.stringify(ROW_COLUMNS)},"sentAt":"${sentAt}","rows":[${outbox.readRows(0, batch)!.json}]}`);
      const a = readObjects(v1);
      const b = readRows(v2);
      const same = a.length === batch && JSON.stringify(a) === JSON.stringify(b);

      const time = (f: () => number) => {
        f();
        const c0 = cpuUs();
        let n = 0;
        for (let i = 0; i < rounds; i++) n += f();
        return (cpuUs() - c0) / n;
      };
      const runs = { cloud: { v1objects: [] as number[], v2rows: [] as number[] }, edge: { v1objects: [] as number[], v2rows: [] as number[] } };
      // Alternated, three times each: the machine is shared.
      for (let k = 0; k < 3; k++) {
        runs.cloud.v1objects.push(time(() => readObjects(v1).length));
        runs.cloud.v2rows.push(time(() => readRows(v2).length));
        runs.edge.v1objects.push(time(() => outbox.readBatch(0, batch)!.count));
        runs.edge.v2rows.push(time(() => outbox.readRows(0, batch)!.count));
      }
      const median = (xs: number[]) => round3([...xs].sort((x, y) => x - y)[1]!);
      const cloud = { v1objects: median(runs.cloud.v1objects), v2rows: median(runs.cloud.v2rows) };
      const edge = { v1objects: median(runs.edge.v1objects), v2rows: median(runs.edge.v2rows) };
      const figures = {
        batch,
        rounds,
        bytesPerMovement: { v1objects: Math.round(v1.length / batch), v2rows: Math.round(v2.length / batch) },
        cloudCpuUsPerMovement: cloud,
        edgeReadCpuUsPerMovement: edge,
        v2PerV1: { cloud: round3(cloud.v2rows / cloud.v1objects), edge: round3(edge.v2rows / edge.v1objects) },
        runs: { cloud: { v1objects: runs.cloud.v1objects.map(round3), v2rows: runs.cloud.v2rows.map(round3) }, edge: { v1objects: runs.edge.v1objects.map(round3), v2rows: runs.edge.v2rows.map(round3) } },
        sameMovements: same,
      };
      return {
        figures,
        ok: same,
        table: [
          ['wire: bytes per movement, batch v1 objects / v2 rows', `${figures.bytesPerMovement.v1objects} / ${figures.bytesPerMovement.v2rows}`],
          ["wire: cloud's door (guard + parse + validate), CPU µs per movement, v1 / v2", `${cloud.v1objects} / ${cloud.v2rows} (${figures.v2PerV1.cloud}x)`],
          ["wire: edge's outbox read, CPU µs per movement, v1 / v2", `${edge.v1objects} / ${edge.v2rows} (${figures.v2PerV1.edge}x)`],
          ['wire: both versions yield the same movements', same ? 'yes' : 'NO'],
        ],
      };
    } finally {
      outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
