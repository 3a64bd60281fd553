import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../protocols/errors.js';
import { crc16Chafon } from '../../../protocols/rfid/checksums.js';
import type { RfidFrame } from '../../../protocols/rfid/rfid-frame.js';
import {
  createUhfReader18Parser,
  encodeUhfReader18Frame,
  encodeUhfReader18InventoryReply,
  encodeUhfReader18NoTag,
  encodeUhfReader18Reply,
  uhfReader18InventoryCommand,
} from '../../../protocols/rfid/uhfreader18.js';
import { expectSplitInvariant, feed, loadCapture, loadExpected } from '../../helpers/replay.js';
import { bytesOf, refCrcMcrf4xx } from './independent.js';

const reader = () => createUhfReader18Parser();
const host = () => createUhfReader18Parser({ direction: 'host' });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

/** Split a capture into its Chafon frames by Len, for checking each CRC independently. */
function framesOf(bytes: Uint8Array): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < bytes.length; i += bytes[i]! + 1) out.push(Array.from(bytes.subarray(i, i + bytes[i]! + 1)));
  return out;
}
const crcOk = (f: number[]) => refCrcMcrf4xx(f.slice(0, -2)) === (f.at(-2)! | (f.at(-1)! << 8));

describe('UHFReader18 fixtures', () => {
  it.each([
    ['uhfreader18-inventory-request.hex', host],
    ['uhfreader18-inventory-antenna-rssi.hex', reader],
    ['uhfreader18-inventory-classic.hex', reader],
  ])('%s replays identically at every split', (name, make) => {
    const bytes = loadCapture(`rfid/${name}`);
    for (const f of framesOf(bytes)) expect(crcOk(f), `CRC of ${f}`).toBe(true);
    const frames = expectSplitInvariant(make, bytes);
    expect(frames).toEqual(loadExpected(`rfid/${name}`));
    const p = make();
    p.push(bytes);
    expect(p.stats).toEqual({ frames: frames.length, droppedBytes: 0, droppedFrames: 0 });
  });

  it('drops the frame with a corrupted CRC, counts it once, and finds every frame after it', () => {
    const name = 'rfid/uhfreader18-stream-bad-crc.hex';
    const bytes = loadCapture(name);
    // Independent check: exactly the second frame fails its CRC.
    expect(framesOf(bytes).map(crcOk)).toEqual([true, false, true, true, true]);
    expect(expectSplitInvariant(reader, bytes)).toEqual(loadExpected(name));
    const p = reader();
    p.push(bytes);
    expect(p.stats.droppedFrames).toBe(1);
    expect(p.stats.droppedBytes).toBe(22);
  });

  it('reports a status other than done/more/no-tag as an error, and other commands as responses', () => {
    const p = reader();
    const antennaError = encodeUhfReader18Reply(0, 0x01, 0xf8);
    const info = encodeUhfReader18Reply(3, 0x21, 0x00, [0x03, 0x01, 0x08]);
    expect(p.push(Uint8Array.of(...antennaError, ...info))).toEqual([
      { kind: 'status', status: 'error', code: 0xf8, cmd: 1, reader: 0 },
      { kind: 'response', cmd: 0x21, status: 0, data: '030108', reader: 3 },
    ]);
  });

  it('keeps an inventory reply whose data fits neither layout as a response', () => {
    const odd = encodeUhfReader18Reply(0, 0x01, 0x01, [0x02, 0x0c, 0xaa]);
    expect(feed(reader, [odd])).toEqual([{ kind: 'response', cmd: 1, status: 1, data: '020CAA', reader: 0 }]);
  });

  it('omits the antenna when the mask has several bits, and reads timeout (0x02) as done', () => {
    const f = encodeUhfReader18Reply(0, 0x01, 0x02, [0x05, 0x01, 0x02, 0xab, 0xcd, 0x30]);
    expect(feed(reader, [f])).toEqual([
      { kind: 'tag', epc: 'ABCD', rssiRaw: 0x30, reader: 0 },
      { kind: 'status', status: 'done', code: 2, cmd: 1, reader: 0 },
    ]);
  });

  it('reads an inventory reply without data as a finished round', () => {
    expect(feed(reader, [encodeUhfReader18Reply(0, 0x01, 0x01)])).toEqual([{ kind: 'status', status: 'done', code: 1, cmd: 1, reader: 0 }]);
  });

  it('decodes real-time mode reports (reCmd 0xEE, status 0x00: Ant Len EPC RSSI)', () => {
    const tag = encodeUhfReader18Reply(0, 0xee, 0x00, [0x04, 0x02, 0x12, 0x34, 0x50]);
    const heartbeat = encodeUhfReader18Reply(0, 0xee, 0x28, [0, 0, 0, 1]);
    const bad = encodeUhfReader18Reply(0, 0xee, 0x00, [0x04, 0x09, 0x12]);
    expect(feed(reader, [tag, heartbeat, bad])).toEqual([
      { kind: 'tag', epc: '1234', antenna: 3, rssiRaw: 0x50, reader: 0 },
      { kind: 'response', cmd: 0xee, status: 0x28, data: '00000001', reader: 0 },
      { kind: 'response', cmd: 0xee, status: 0, data: '040912', reader: 0 },
    ]);
  });
});

describe('UHFReader18 encoders', () => {
  it('produce the verified inventory commands', () => {
    expect(hex(uhfReader18InventoryCommand())).toBe('04FF011BB4');
    expect(hex(uhfReader18InventoryCommand(0))).toBe('040001DB4B');
  });

  it('reproduce the verified antenna+RSSI reply byte for byte', () => {
    const f = encodeUhfReader18InventoryReply({ status: 0x03, antenna: 1, tags: [{ epc: 'E28068940000500A9D2298C6', rssiRaw: 0x48 }] });
    expect(Array.from(f)).toEqual(bytesOf('15 00 01 03 01 01 0C E28068940000500A9D2298C6 48 25 7E'));
  });

  it('reproduce the chafon-rfid classic reply and the no-tag reply', () => {
    const f = encodeUhfReader18InventoryReply({ status: 0x03, tags: [{ epc: '000000000000000000000313' }] });
    expect(hex(f)).toBe('13000103010C0000000000000000000003133F39');
    expect(Array.from(encodeUhfReader18NoTag())).toEqual(bytesOf('05 00 01 FB F2 3D'));
  });

  it('reject bad arguments with SG_ERR_PROTO_ARGUMENT', () => {
    const bad = [
      () => encodeUhfReader18Frame(256, 1),
      () => encodeUhfReader18Frame(0, -1),
      () => encodeUhfReader18Frame(0, 1, new Uint8Array(252)),
      () => encodeUhfReader18InventoryReply({ antenna: 9, tags: [] }),
      () => encodeUhfReader18InventoryReply({ tags: [{ epc: 'XYZ' }] }),
      () => encodeUhfReader18InventoryReply({ antenna: 1, tags: [{ epc: 'AB', rssiRaw: 300 }] }),
    ];
    for (const f of bad) expect(f).toThrow(expect.objectContaining({ code: 'SG_ERR_PROTO_ARGUMENT' }));
    expect(bad[0]).toThrow(ProtocolError);
  });

  it('compute the same CRC as the independent table implementation', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(crc16Chafon(b)).toBe(refCrcMcrf4xx(b));
      }),
    );
  });
});

const epcArb = fc.uint8Array({ minLength: 2, maxLength: 31 }).map((b) => hex(b));
interface ReplyCase {
  address: number;
  status: number;
  antenna: number | undefined;
  tags: Array<{ epc: string; rssiRaw: number }>;
}
const replyArb: fc.Arbitrary<ReplyCase> = fc.record({
  address: fc.integer({ min: 0, max: 255 }),
  status: fc.constantFrom(0x01, 0x02, 0x03, 0x04),
  antenna: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
  tags: fc.array(fc.record({ epc: epcArb, rssiRaw: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
});

/** What a reply encoded from `r` must decode to, per the layouts in the manual. */
function expectedFrames(r: ReplyCase): RfidFrame[] {
  const out: RfidFrame[] = r.tags.map((t) => ({
    kind: 'tag',
    epc: t.epc,
    ...(r.antenna !== undefined && { antenna: r.antenna, rssiRaw: t.rssiRaw }),
    reader: r.address,
  }));
  if (r.status !== 0x03) out.push({ kind: 'status', status: 'done', code: r.status, cmd: 1, reader: r.address });
  return out;
}

describe('UHFReader18 parser properties', () => {
  it('never throws on random bytes, and counts what it returns', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const p = reader();
        let frames = 0;
        for (const c of chunks) frames += p.push(c).length;
        frames += p.flush().length;
        expect(p.stats.frames).toBe(frames);
      }),
    );
  });

  it('finds every encoded reply between noise bytes (noise < 5 can start no frame)', () => {
    const noise = fc.uint8Array({ maxLength: 6 }).map((b) => b.map((x) => x % 5));
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, replyArb), { minLength: 1, maxLength: 5 }), noise, fc.integer({ min: 1, max: 40 }), (parts, tail, chunk) => {
        const bytes = Buffer.concat(parts.flatMap(([n, r]) => [n, encodeUhfReader18InventoryReply(r)]).concat([tail]));
        const chunks: Uint8Array[] = [];
        for (let i = 0; i < bytes.length; i += chunk) chunks.push(bytes.subarray(i, i + chunk));
        const p = reader();
        const got = chunks.flatMap((c) => p.push(c));
        expect(got).toEqual(parts.flatMap(([, r]) => expectedFrames(r)));
        expect(p.stats.droppedFrames).toBe(0);
      }),
    );
  });

  it('after a corrupted frame, still finds the valid frames around it once flushed', () => {
    fc.assert(
      fc.property(replyArb, replyArb, replyArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (a, b, c, at, flip) => {
        const fb = encodeUhfReader18InventoryReply(b);
        const i = 1 + (at % (fb.length - 1)); // keep Len intact: a corrupted Len announces another frame
        fb[i] = fb[i]! ^ flip;
        const p = reader();
        const got = [...p.push(Buffer.concat([encodeUhfReader18InventoryReply(a), fb, encodeUhfReader18InventoryReply(c)])), ...p.flush()];
        const before = expectedFrames(a);
        const after = expectedFrames(c);
        expect(got.slice(0, before.length)).toEqual(before);
        // CRC-16 catches every single-byte error, so the corrupted frame never passes. A candidate
        // starting inside it can still pass by chance (2^-16); only then may the frame after it be
        // swallowed, and the chance frame shows up in its place.
        if (got.length === before.length + after.length) expect(got.slice(before.length)).toEqual(after);
        else expect(got.length).toBeGreaterThan(before.length);
        expect(p.stats.droppedFrames).toBeGreaterThanOrEqual(1);
      }),
    );
  });
});
