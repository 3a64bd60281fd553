import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BoardHub, type BoardView } from '../../../cloud/board/hub.js';
import { BoardRepo } from '../../../cloud/board/repo.js';
import { API_EDGE } from '../../../cloud/store/store.js';
import { type ApiCloud, startApiCloud } from '../../helpers/api-cloud.js';
import { movement } from '../../helpers/movements.js';
import { uniqueId, waitFor } from '../../helpers/procs.js';

/**
 * A board client that opens the stream and never reads (issue 12 #3: "each client has a bounded
 * queue; on overflow it gets `event: resync`; a stalled client never grows server memory"), on a
 * real ledger: a hub following the cloud's database fans frames out to a raw TCP client that
 * stops reading. Its socket buffers fill, then the hub's queue for it; past the bound the queue is
 * dropped (nothing more is held for it, however much the ledger moves), and once it reads again
 * it gets `event: resync` and the end of the stream. No timing is asserted: the test waits for
 * conditions.
 */
describe('board: a client that never reads', () => {
  let api: ApiCloud;
  let hub: BoardHub;
  let server: Server;
  let sock: Socket | undefined;
  const site = uniqueId('stall');
  const LIMITS = { maxFrames: 4, maxBytes: 1 << 20, stallMs: 3_600_000 };

  beforeAll(async () => {
    api = await startApiCloud('sqlite');
    // Short frames and polls so the test moves quickly; the bounds are what is under test.
    hub = new BoardHub({ repo: new BoardRepo(api.cloud.db.kysely), store: api.cloud.store }, { frameMs: 20, pollMs: 20, limits: LIMITS });
    await hub.start();
    const view: BoardView = { sites: [site] };
    server = createServer((_req, res) => {
      void hub.snapshot(view, { roles: ['admin'], canAck: true, canResolve: true, seesCost: true }).then((snapshot) => hub.attach(res, view, { snapshot }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    sock?.destroy();
    hub?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    await api?.stop();
  });

  /** 200 movements of 200 SKUs: a frame of about 40 KB. */
  let round = 0;
  const burst = async () => {
    round++;
    await api.cloud.ingester.submit(Array.from({ length: 200 }, (_, i) => movement({ site, edge: API_EDGE, seq: 0, sku: `S-${i}`, qty: round, kind: 'receive', uom: 'ea', raw: 'x' })));
  };

  it('bounds its queue, drops it on overflow, and resyncs it when it reads again', async () => {
    let text = '';
    sock = connect((server.address() as { port: number }).port, '127.0.0.1');
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text = (text + d).slice(-64 * 1024)));
    sock.write('GET /board/events HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n');
    await waitFor(() => hub.size === 1, 'the stream attached', 15_000);
    // The client stops reading: the kernel buffers fill, then the hub's queue, then it overflows.
    sock.pause();
    let maxHeld = 0;
    await waitFor(
      async () => {
        await burst();
        maxHeld = Math.max(maxHeld, hub.queuedBytes);
        return hub.stats.overflows > 0;
      },
      'the stalled stream overflowed',
      120_000,
    );
    expect(hub.stats.overflows).toBe(1);
    expect(hub.stats.resyncs).toBe(0);
    // While it held frames, never more than its bound (plus the frame that tipped it over).
    expect(maxHeld).toBeGreaterThan(0);
    expect(maxHeld).toBeLessThanOrEqual(LIMITS.maxBytes + 64 * 1024);
    // Overflowed: nothing is held for it any more, however much the ledger moves.
    const framesBefore = hub.stats.frames;
    for (let i = 0; i < 5; i++) await burst();
    await waitFor(() => hub.stats.frames > framesBefore, 'more frames for the stalled stream', 30_000);
    expect(hub.queuedBytes).toBe(0);
    expect(hub.size).toBe(1);

    // It reads again: the kernel's bytes, then `event: resync` and the end of the response (the
    // chunked encoding's last chunk; the connection itself may stay open for keep-alive).
    sock.resume();
    await waitFor(() => /event: resync\n[^]*\r\n0\r\n\r\n$/.test(text), 'resync and the end of the stream', 30_000);
    expect(text).toContain('data: {"reason":"overflow"}');
    expect(hub.stats.resyncs).toBe(1);
    expect(hub.size).toBe(0);
  });
});
