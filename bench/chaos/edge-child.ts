/**
 * One chaos edge as its own process, so it can be SIGKILLed, run in a network namespace, or
 * given a wrong clock (issue 14 §4). It is the edge's real store-and-forward path: the SQLite
 * outbox (synchronous=FULL) and the Publisher that `stockgate edge` runs; instead of devices it
 * appends `--rate` movements/s until SIGUSR2 (or until the outbox holds `--total`), so traffic
 * flows through every fault; "sent" is then exactly seqs 1..lastSeq of its outbox (a restart after
 * SIGKILL resumes from the outbox's last seq).
 *
 * `--clock-offset-ms`: the clock seam. Every clock read of this process (Date.now, new Date(),
 * so movement ts, status and outbox times) is shifted, as on an edge whose RTC is wrong; timers
 * and MQTT keepalive run on the monotonic clock and are unaffected, as on a real machine.
 *
 * Prints `{"event":"progress","lastSeq","backlog","rejected","appending"}` every 250 ms on stdout.
 */
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    broker: { type: 'string' },
    site: { type: 'string' },
    edge: { type: 'string' },
    db: { type: 'string' },
    total: { type: 'string', default: '100000000' },
    rate: { type: 'string', default: '500' },
    'clock-offset-ms': { type: 'string', default: '0' },
    'ack-timeout-ms': { type: 'string', default: '3000' },
  },
});

const offset = Number(a['clock-offset-ms']);
if (offset !== 0) {
  const RealDate = Date;
  const realNow = RealDate.now.bind(RealDate);
  class OffsetDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(realNow() + offset);
      else super(...(args as [number]));
    }
    static override now(): number {
      return realNow() + offset;
    }
  }
  globalThis.Date = OffsetDate as DateConstructor;
}

// Loaded after the clock seam is in place.
const { SqliteOutbox } = await import('../../edge/outbox/sqlite.js');
const { Publisher } = await import('../../edge/publisher.js');

const total = Number(a.total);
const rate = Number(a.rate);
const outbox = new SqliteOutbox({ path: a.db!, site: a.site!, edge: a.edge! });
const pub = new Publisher(outbox, {
  broker: a.broker!,
  site: a.site!,
  edge: a.edge!,
  batchSize: 250,
  window: 8,
  ackTimeoutMs: Number(a['ack-timeout-ms']),
  reconnectMaxMs: 1000,
});
pub.on('error', () => undefined);
pub.on('unreachable', () => undefined);
pub.start();

const started = Date.now();
const startSeq = outbox.lastSeq();
let i = startSeq;
let appending = true;
process.on('SIGUSR2', () => {
  appending = false;
  clearInterval(tick);
});
const tick = setInterval(() => {
  const due = Math.min(total, startSeq + Math.floor(((Date.now() - started) / 1000) * rate));
  if (due > i) {
    const n = due - i;
    outbox.append(
      Array.from({ length: n }, (_, k) => ({
        ts: new Date().toISOString(),
        location: 'DOCK-1',
        kind: 'receive' as const,
        sku: `SKU-${(i + k) % 300}`,
        qty: 1,
        uom: 'ea',
        device: { id: 'chaos', type: 'scanner' as const },
        raw: `]C0SKU-${(i + k) % 300}`,
      })),
    );
    i = due;
    pub.kick();
  }
}, 20);

const report = setInterval(() => {
  process.stdout.write(`${JSON.stringify({ event: 'progress', lastSeq: outbox.lastSeq(), backlog: outbox.backlog().count, rejected: outbox.rejected(1_000_000).length, appending })}\n`);
}, 250);

process.on('SIGTERM', () => {
  appending = false;
  clearInterval(tick);
  clearInterval(report);
  void pub.stop().then(() => {
    outbox.close();
    process.exit(0);
  });
});
