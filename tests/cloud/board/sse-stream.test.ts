import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SseStream } from '../../../cloud/board/stream.js';
import { waitFor } from '../../helpers/procs.js';

/**
 * A stalled board client never grows the server's memory (issue 12 #3): over a real socket whose
 * reader stops reading, the stream's queue stays within its bounds, and once the reader reads
 * again it gets `event: resync` and the end of the stream.
 */
describe('SseStream bounded queue', () => {
  let server: Server | undefined;
  let sock: Socket | undefined;
  afterEach(async () => {
    sock?.destroy();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
  });

  const serve = async (): Promise<{ res: Promise<ServerResponse>; port: number }> => {
    let got!: (r: ServerResponse) => void;
    const res = new Promise<ServerResponse>((r) => (got = r));
    server = createServer((_req, r) => {
      r.writeHead(200, { 'content-type': 'text/event-stream' });
      got(r);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { res, port: (server.address() as { port: number }).port };
  };

  it('drops the queue of a stalled reader and resyncs it when it reads again', async () => {
    const { res, port } = await serve();
    let text = '';
    sock = connect(port, '127.0.0.1');
    sock.setEncoding('utf8');
    sock.on('data', (d) => (text += d));
    sock.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    const r = await res;
    // The reader stalls: the kernel buffers fill, then write() returns false.
    sock.pause();
    let closed = false;
    const s = new SseStream(r, { maxFrames: 4, maxBytes: 1 << 20, stallMs: 60_000 }, () => (closed = true));
    const frame = 'x'.repeat(64 * 1024);
    let maxHeld = 0;
    for (let i = 0; i < 400; i++) {
      s.event('frame', frame, i);
      maxHeld = Math.max(maxHeld, s.held);
      if (s.dropped > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    expect(s.dropped).toBeGreaterThan(0);
    // Never more than maxFrames (+ the one that tipped it) frames held.
    expect(maxHeld).toBeLessThanOrEqual(5 * (frame.length + 40));
    expect(s.held).toBe(0);
    // More frames while overflowed are not held at all.
    for (let i = 0; i < 50; i++) s.event('frame', frame, 1000 + i);
    expect(s.held).toBe(0);
    sock.resume();
    await waitFor(() => closed && text.includes('event: resync'), 'resync after the reader resumed', 10_000);
    expect(text).toContain('"reason":"overflow"');
    // Nothing queued after the overflow reached the reader.
    expect(text).not.toContain('id: 1000\n');
  });

  it('destroys a stream that has not drained for stallMs at its heartbeat', async () => {
    const { res, port } = await serve();
    sock = connect(port, '127.0.0.1');
    sock.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    const r = await res;
    sock.pause();
    let closed = false;
    const s = new SseStream(r, { maxFrames: 1000, maxBytes: 1 << 30, stallMs: 50 }, () => (closed = true));
    const frame = 'y'.repeat(64 * 1024);
    for (let i = 0; i < 400 && r.writableNeedDrain === false; i++) {
      s.event('frame', frame);
      await new Promise((r) => setImmediate(r));
    }
    expect(r.writableNeedDrain).toBe(true);
    await new Promise((r) => setTimeout(r, 80));
    s.heartbeat(Date.now());
    await waitFor(() => closed, 'the stalled stream closed', 5000);
    expect(r.destroyed).toBe(true);
  });

  it('writes heartbeats as comment lines while the reader keeps up', async () => {
    const { res, port } = await serve();
    let text = '';
    sock = connect(port, '127.0.0.1');
    sock.setEncoding('utf8');
    sock.on('data', (d) => (text += d));
    sock.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    const s = new SseStream(await res, { maxFrames: 4, maxBytes: 1024, stallMs: 1000 }, () => undefined);
    s.heartbeat(Date.now());
    s.event('frame', '{"pos":7}', 7);
    await waitFor(() => text.includes('event: frame\nid: 7\ndata: {"pos":7}\n\n'), 'the frame', 5000);
    expect(text).toContain(': hb\n\n');
  });
});
