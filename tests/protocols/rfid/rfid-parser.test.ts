import { describe, expect, it } from 'vitest';
import { crc16Chafon, crc16Gen2, lrc8, sum8 } from '../../../protocols/rfid/checksums.js';
import { encodeM100TagNotice } from '../../../protocols/rfid/m100.js';
import { encodeR2000TagReply } from '../../../protocols/rfid/r2000.js';
import { type RfidProtocol, RFID_PROTOCOLS, hexToBytes, isHex, toHex } from '../../../protocols/rfid/rfid-frame.js';
import { createRfidParser } from '../../../protocols/rfid/rfid-parser.js';
import { encodeUhfReader18InventoryReply } from '../../../protocols/rfid/uhfreader18.js';
import { loadCapture, loadExpected } from '../../helpers/replay.js';
import { bytesOf } from './independent.js';

describe('createRfidParser', () => {
  it.each([
    ['uhfreader18', 'uhfreader18-inventory-antenna-rssi.hex'],
    ['m100', 'm100-tag-notice.hex'],
    ['r2000', 'r2000-realtime-inventory.hex'],
  ] as const)('%s parses its own fixture', (protocol, fixture) => {
    expect(createRfidParser(protocol).push(loadCapture(`rfid/${fixture}`))).toEqual(loadExpected(`rfid/${fixture}`));
  });

  it('passes the direction on (host commands)', () => {
    expect(createRfidParser('uhfreader18', { direction: 'host' }).push(loadCapture('rfid/uhfreader18-inventory-request.hex'))).toHaveLength(2);
    expect(createRfidParser('r2000', { direction: 'host' }).push(Uint8Array.from(bytesOf('A0 04 01 89 01 D1')))).toEqual([{ kind: 'command', cmd: 0x89, data: '01', reader: 1 }]);
  });

  it('throws SG_ERR_PROTO_UNKNOWN for another protocol name', () => {
    expect(() => createRfidParser('llrp' as RfidProtocol)).toThrow(expect.objectContaining({ code: 'SG_ERR_PROTO_UNKNOWN' }));
    expect(RFID_PROTOCOLS).toEqual(['uhfreader18', 'm100', 'r2000']);
  });
});

describe('LengthFramer behaviour (through the reader parsers)', () => {
  it('holds a valid frame behind a noise byte announcing a long frame until flush()', () => {
    const p = createRfidParser('uhfreader18');
    const valid = encodeUhfReader18InventoryReply({ tags: [{ epc: '1234' }] });
    // 0xF0 announces a 241-byte frame: the parser must wait, since those bytes may still come.
    expect(p.push(Uint8Array.of(0xf0, ...valid))).toEqual([]);
    expect(p.flush()).toEqual([
      { kind: 'tag', epc: '1234', reader: 0 },
      { kind: 'status', status: 'done', code: 1, cmd: 1, reader: 0 },
    ]);
    expect(p.stats).toEqual({ frames: 2, droppedBytes: 1, droppedFrames: 0 });
    expect(p.flush()).toEqual([]);
  });

  it('drops a truncated frame on flush without counting it as a bad frame', () => {
    const p = createRfidParser('m100');
    const notice = encodeM100TagNotice({ epc: '1234', rssi: -40 });
    expect(p.push(notice.subarray(0, 9))).toEqual([]);
    expect(p.flush()).toEqual([]);
    expect(p.stats).toEqual({ frames: 0, droppedBytes: 9, droppedFrames: 0 });
  });

  it('forgets a partial frame on reset() but keeps its counters', () => {
    const p = createRfidParser('r2000');
    const tag = encodeR2000TagReply({ address: 1, antenna: 1, epc: 'ABCD', rssi: -50 });
    p.push(Uint8Array.of(0xa0, 0x04, 0x01, 0x89, 0x00, 0x00)); // bad check: counted
    p.push(tag.subarray(0, 5));
    p.reset();
    expect(p.push(tag)).toHaveLength(1);
    expect(p.stats.droppedFrames).toBe(1);
  });

  it('takes the next valid frame at once when the rest of a corrupted frame announces a long one', () => {
    const p = createRfidParser('uhfreader18');
    const bad = encodeUhfReader18InventoryReply({ tags: [{ epc: 'F0F0' }] });
    bad[bad.length - 1] ^= 0xff;
    const good = encodeUhfReader18InventoryReply({ tags: [{ epc: '1234' }] });
    expect(p.push(Uint8Array.of(...bad, ...good))).toHaveLength(2);
    expect(p.stats.droppedFrames).toBe(1);
  });
});

describe('checksums and hex helpers', () => {
  it('match the verified frames in device-protocols.md', () => {
    expect(crc16Chafon(Uint8Array.of(0x04, 0x00, 0x01))).toBe(0x4bdb);
    expect(crc16Chafon(Uint8Array.of(0x04, 0xff, 0x01))).toBe(0xb41b);
    expect(crc16Gen2(Uint8Array.from(bytesOf('3400 30751FEB705C5904E3D50D70')))).toBe(0x3a76);
    expect(sum8(Uint8Array.from(bytesOf('00 B6 00 02 07 D0')))).toBe(0x8f);
    expect(lrc8(Uint8Array.from(bytesOf('A0 04 01 89 01')))).toBe(0xd1);
  });

  it('convert hex both ways', () => {
    expect(toHex(hexToBytes('00ff7e'))).toBe('00FF7E');
    expect([isHex(''), isHex('abc'), isHex('zz'), isHex('0aF9')]).toEqual([false, false, false, true]);
  });
});
