import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16Gen2 } from '../../../protocols/rfid/checksums.js';
import {
  createM100Parser,
  encodeM100Error,
  encodeM100Frame,
  encodeM100Response,
  encodeM100TagNotice,
  m100MultiPollCommand,
  m100SetTxPowerCommand,
  m100SinglePollCommand,
  m100StopCommand,
} from '../../../protocols/rfid/m100.js';
import { expectSplitInvariant, feed, loadCapture, loadExpected } from '../../helpers/replay.js';
import { bytesOf, refCrcGenibus, sumOf } from './independent.js';

const make = () => createM100Parser();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex').toUpperCase();

/** Split a capture into M100 frames by PL (skipping bytes until 0xBB), for independent checks. */
function framesOf(bytes: Uint8Array): number[][] {
  const out: number[][] = [];
  let i = 0;
  while (i < bytes.length) {
    if (bytes[i] !== 0xbb) {
      i++;
      continue;
    }
    const len = ((bytes[i + 3]! << 8) | bytes[i + 4]!) + 7;
    out.push(Array.from(bytes.subarray(i, i + len)));
    i += len;
  }
  return out;
}
const chkOk = (f: number[]) => f.at(-1) === 0x7e && (sumOf(f.slice(1, -2)) & 0xff) === f.at(-2);

describe('M100 fixtures', () => {
  it.each(['m100-tag-notice.hex', 'm100-tag-notice-7e.hex', 'm100-no-tag.hex', 'm100-commands.hex'])(
    '%s replays identically at every split',
    (name) => {
      const bytes = loadCapture(`rfid/${name}`);
      for (const f of framesOf(bytes)) expect(chkOk(f), `checksum of ${f}`).toBe(true);
      const frames = expectSplitInvariant(make, bytes);
      expect(frames).toEqual(loadExpected(`rfid/${name}`));
      const p = make();
      p.push(bytes);
      expect(p.stats).toEqual({ frames: frames.length, droppedBytes: 0, droppedFrames: 0 });
    },
  );

  it('the 7E fixture carries a real Gen2 EPC CRC (independent CRC-16/GENIBUS)', () => {
    const f = Array.from(loadCapture('rfid/m100-tag-notice-7e.hex'));
    expect(f.indexOf(0x7e)).toBeLessThan(f.length - 1); // 0x7E really occurs inside the frame
    const pcEpc = f.slice(6, 20);
    expect(refCrcGenibus(pcEpc)).toBe((f[20]! << 8) | f[21]!);
    // and the verified notice's CRC, 3A76, is the same function of its PC+EPC
    expect(refCrcGenibus(bytesOf('3400 30751FEB705C5904E3D50D70'))).toBe(0x3a76);
  });

  it('drops the notice with a corrupted checksum, counts it once, and skips the noise', () => {
    const name = 'rfid/m100-stream-bad-checksum.hex';
    const bytes = loadCapture(name);
    expect(framesOf(bytes).map(chkOk)).toEqual([true, false, true, true, true]);
    expect(expectSplitInvariant(make, bytes)).toEqual(loadExpected(name));
    const p = make();
    p.push(bytes);
    expect(p.stats.droppedFrames).toBe(1);
    expect(p.stats.droppedBytes).toBe(3 + 24 + 3);
  });

  it('reports other error codes as errors and unknown notices as responses', () => {
    const frames = feed(make, [encodeM100Error(0x17), encodeM100Frame(2, 0x39, [1, 2]), encodeM100Frame(2, 0x22, [0xc9])]);
    expect(frames).toEqual([
      { kind: 'status', status: 'error', code: 0x17 },
      { kind: 'response', cmd: 0x39, data: '0102' },
      { kind: 'response', cmd: 0x22, data: 'C9' },
    ]);
  });

  it('treats a header with an unknown type or an over-long PL as noise', () => {
    const p = createM100Parser({ maxPayload: 4 });
    const frames = p.push(Uint8Array.of(0xbb, 0x05, 0x22, 0x00, 0x00, 0xbb, 0x01, 0x22, 0x00, 0x05, ...encodeM100Response(0x28, [0])));
    expect(frames).toEqual([{ kind: 'response', cmd: 0x28, data: '00' }]);
    expect(p.stats).toEqual({ frames: 1, droppedBytes: 10, droppedFrames: 0 });
  });
});

describe('M100 encoders', () => {
  it('produce the documented commands byte for byte', () => {
    expect(hex(m100SinglePollCommand())).toBe('BB00220000227E');
    expect(hex(m100MultiPollCommand(10000))).toBe('BB00270003222710837E');
    expect(hex(m100StopCommand())).toBe('BB00280000287E');
    expect(hex(m100SetTxPowerCommand(20))).toBe('BB00B6000207D08F7E');
    expect(hex(encodeM100Error())).toBe('BB01FF000115167E');
  });

  it('reproduce the verified tag notice from its fields (PC given, CRC computed)', () => {
    const f = encodeM100TagNotice({ epc: '30751FEB705C5904E3D50D70', rssi: -55, pc: 0x3400 });
    expect(Array.from(f)).toEqual(bytesOf('BB 02 22 00 11 C9 3400 30751FEB705C5904E3D50D70 3A76 EF 7E'));
  });

  it('reject bad arguments', () => {
    const bad = [
      () => encodeM100Frame(3, 0x22),
      () => encodeM100Frame(0, 256),
      () => encodeM100Frame(0, 1, new Uint8Array(0x10000)),
      () => m100MultiPollCommand(0),
      () => m100SetTxPowerCommand(40),
      () => encodeM100TagNotice({ epc: 'ABC', rssi: -50 }),
      () => encodeM100TagNotice({ epc: 'ABCD', rssi: -200 }),
      () => encodeM100TagNotice({ epc: 'ABCD', rssi: -50, pc: 0x10000 }),
      () => encodeM100Error(300),
    ];
    for (const f of bad) expect(f).toThrow(expect.objectContaining({ code: expect.stringMatching(/^SG_ERR_PROTO_(ARGUMENT|RANGE)$/) }));
  });

  it('compute the EPC CRC like the independent CRC-16/GENIBUS', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        expect(crc16Gen2(b)).toBe(refCrcGenibus(b));
      }),
    );
  });
});

const noticeArb = fc.record({
  epc: fc.uint8Array({ minLength: 1, maxLength: 31 }).chain((w) => fc.uint8Array({ minLength: w.length * 2, maxLength: w.length * 2 })).map(hex),
  rssi: fc.integer({ min: -128, max: 127 }),
});

describe('M100 parser properties', () => {
  it('never throws on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const p = make();
        for (const c of chunks) p.push(c);
        p.flush();
        expect(p.stats.frames).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('finds every encoded notice between noise without 0xBB, at any chunking', () => {
    const noise = fc.uint8Array({ maxLength: 8 }).map((b) => b.map((x) => (x === 0xbb ? 0x7e : x)));
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, noticeArb), { minLength: 1, maxLength: 6 }), noise, fc.integer({ min: 1, max: 50 }), (parts, tail, chunk) => {
        const bytes = Buffer.concat(parts.flatMap(([n, t]) => [n, encodeM100TagNotice(t)]).concat([tail]));
        const p = make();
        const got = [];
        for (let i = 0; i < bytes.length; i += chunk) got.push(...p.push(bytes.subarray(i, i + chunk)));
        expect(got).toEqual(parts.map(([, t]) => ({ kind: 'tag', epc: t.epc, rssi: t.rssi, pc: hex(Uint8Array.of((t.epc.length / 4) << 3, 0)) })));
        expect(p.stats.droppedFrames).toBe(0);
      }),
    );
  });
});
