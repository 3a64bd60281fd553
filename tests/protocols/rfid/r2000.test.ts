import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createR2000Parser,
  encodeR2000Error,
  encodeR2000Frame,
  encodeR2000InventorySummary,
  encodeR2000TagReply,
  r2000DbmToRssi,
  r2000FrequencyMhz,
  r2000RealTimeInventoryCommand,
  r2000RssiToDbm,
} from '../../../protocols/rfid/r2000.js';
import { expectSplitInvariant, feed, loadCapture, loadExpected } from '../../helpers/replay.js';
import { sumOf } from './independent.js';

const reader = () => createR2000Parser();
const host = () => createR2000Parser({ direction: 'host' });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

function framesOf(bytes: Uint8Array): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < bytes.length; i += bytes[i + 1]! + 2) out.push(Array.from(bytes.subarray(i, i + bytes[i + 1]! + 2)));
  return out;
}
/** Two's complement check: all bytes, Check included, sum to 0 mod 256. */
const chkOk = (f: number[]) => f[0] === 0xa0 && (sumOf(f) & 0xff) === 0;

describe('R2000 fixtures', () => {
  it.each([
    ['r2000-inventory-request.hex', host],
    ['r2000-realtime-inventory.hex', reader],
  ])('%s replays identically at every split', (name, make) => {
    const bytes = loadCapture(`rfid/${name}`);
    for (const f of framesOf(bytes)) expect(chkOk(f), `check of ${f}`).toBe(true);
    const frames = expectSplitInvariant(make, bytes);
    expect(frames).toEqual(loadExpected(`rfid/${name}`));
    const p = make();
    p.push(bytes);
    expect(p.stats).toEqual({ frames: frames.length, droppedBytes: 0, droppedFrames: 0 });
  });

  it('drops the reply with a corrupted check byte, counts it once, and keeps the rest', () => {
    const name = 'rfid/r2000-stream-bad-checksum.hex';
    const bytes = loadCapture(name);
    expect(framesOf(bytes).map(chkOk)).toEqual([false, true, true, true, true]);
    expect(expectSplitInvariant(reader, bytes)).toEqual(loadExpected(name));
    const p = reader();
    p.push(bytes);
    expect(p.stats.droppedFrames).toBe(1);
    expect(p.stats.droppedBytes).toBe(21);
  });

  it('keeps other commands and odd inventory payloads as responses', () => {
    const version = encodeR2000Frame(1, 0x72, [0x01, 0x08]);
    const odd = encodeR2000Frame(1, 0x89, [0x00, 0x30, 0x00]); // 3 bytes: neither tag, summary nor error
    const session = encodeR2000Frame(1, 0x8b, [0x36]);
    expect(feed(reader, [version, odd, session])).toEqual([
      { kind: 'response', cmd: 0x72, data: '0108', reader: 1 },
      { kind: 'response', cmd: 0x89, data: '003000', reader: 1 },
      { kind: 'status', status: 'no-tag', code: 0x36, cmd: 0x8b, reader: 1 },
    ]);
  });

  it('leaves out the frequency for an index above the table and treats Len < 3 as noise', () => {
    const tag = encodeR2000TagReply({ address: 1, antenna: 4, frequencyIndex: 63, epc: 'ABCD', rssi: -60 });
    const p = reader();
    expect(p.push(Uint8Array.of(0xa0, 0x02, ...tag))).toEqual([{ kind: 'tag', epc: 'ABCD', antenna: 4, rssi: -60, pc: '0800', reader: 1 }]);
    expect(p.stats.droppedBytes).toBe(2);
  });
});

describe('R2000 codings', () => {
  it('produce the verified inventory command', () => {
    expect(hex(r2000RealTimeInventoryCommand({ address: 1, repeat: 1 }))).toBe('A004018901D1');
    expect(hex(r2000RealTimeInventoryCommand())).toBe(hex(encodeR2000Frame(0xff, 0x89, [1])));
  });

  it('reproduce the fixture frames from their fields', () => {
    const [t1, t2, sum] = framesOf(loadCapture('rfid/r2000-realtime-inventory.hex'));
    expect(Array.from(encodeR2000TagReply({ address: 1, antenna: 1, frequencyIndex: 7, epc: '3074257BF7194E4000001A85', rssi: -39 }))).toEqual(t1);
    expect(Array.from(encodeR2000TagReply({ address: 1, antenna: 2, epc: 'E28068940000500A9D2298C6', pc: 0x3000, rssi: -34 }))).toEqual(t2);
    expect(Array.from(encodeR2000InventorySummary({ address: 1, antenna: 1, readRate: 16, totalRead: 2 }))).toEqual(sum);
    expect(hex(encodeR2000Error({ address: 1, code: 0x36 }))).toBe('A004018936' + '9C');
  });

  it('map RSSI per the manual table as read by rust-invelion (skips -40 dBm)', () => {
    expect([98, 90, 89, 31].map(r2000RssiToDbm)).toEqual([-31, -39, -41, -99]);
    for (let raw = 31; raw <= 98; raw++) expect(r2000DbmToRssi(r2000RssiToDbm(raw))).toBe(raw);
    expect(r2000DbmToRssi(-40)).toBe(90 - 1);
  });

  it('map the frequency index: 0..6 = 865..868 MHz, 7..59 = 902..928 MHz', () => {
    expect([0, 6, 7, 59, 60].map(r2000FrequencyMhz)).toEqual([865, 868, 902, 928, undefined]);
  });

  it('reads a summary TotalRead above 2^31 as unsigned', () => {
    const f = encodeR2000InventorySummary({ antenna: 4, readRate: 65535, totalRead: 0xfffffffe });
    expect(feed(reader, [f])).toEqual([{ kind: 'status', status: 'done', cmd: 0x89, reader: 255, antenna: 4, readRate: 65535, totalRead: 4294967294 }]);
  });

  it('reject bad arguments', () => {
    const bad = [
      () => encodeR2000Frame(0, 0x89, new Uint8Array(253)),
      () => encodeR2000Frame(256, 0x89),
      () => encodeR2000TagReply({ antenna: 5, epc: 'ABCD', rssi: -50 }),
      () => encodeR2000TagReply({ antenna: 1, epc: 'ABC', rssi: -50 }),
      () => encodeR2000TagReply({ antenna: 1, epc: 'ABCD', rssi: -50.5 }),
      () => encodeR2000InventorySummary({ antenna: 1, readRate: 70000, totalRead: 0 }),
      () => r2000RealTimeInventoryCommand({ repeat: 256 }),
    ];
    for (const f of bad) expect(f).toThrow(expect.objectContaining({ code: 'SG_ERR_PROTO_ARGUMENT' }));
  });
});

const tagArb = fc.record({
  address: fc.integer({ min: 0, max: 255 }),
  antenna: fc.integer({ min: 1, max: 4 }),
  frequencyIndex: fc.integer({ min: 0, max: 59 }),
  epc: fc.integer({ min: 1, max: 31 }).chain((w) => fc.uint8Array({ minLength: w * 2, maxLength: w * 2 })).map(hex),
  rssi: fc.integer({ min: -99, max: -31 }).filter((d) => d !== -40),
});

describe('R2000 parser properties', () => {
  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const p = reader();
        for (const c of chunks) p.push(c);
        p.flush();
        expect(p.stats.droppedFrames).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('finds every encoded tag reply between noise without 0xA0, at any chunking', () => {
    const noise = fc.uint8Array({ maxLength: 8 }).map((b) => b.map((x) => (x === 0xa0 ? 0 : x)));
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, tagArb), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 40 }), (parts, chunk) => {
        const bytes = Buffer.concat(parts.flatMap(([n, t]) => [n, encodeR2000TagReply(t)]));
        const p = reader();
        const got = [];
        for (let i = 0; i < bytes.length; i += chunk) got.push(...p.push(bytes.subarray(i, i + chunk)));
        expect(got).toEqual(
          parts.map(([, t]) => ({
            kind: 'tag',
            epc: t.epc,
            antenna: t.antenna,
            rssi: t.rssi,
            pc: hex(Uint8Array.of((t.epc.length / 4) << 3, 0)),
            reader: t.address,
            frequencyMhz: t.frequencyIndex < 7 ? 865 + t.frequencyIndex / 2 : 902 + (t.frequencyIndex - 7) / 2,
          })),
        );
      }),
    );
  });
});
