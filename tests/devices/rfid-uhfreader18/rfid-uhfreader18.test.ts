import { afterEach, describe, expect, it } from 'vitest';
import { RfidSimulator, sgtinTags, simulatedChafonRssiRaw } from '../../../devices/simulators/rfid.js';
import { encodeUhfReader18InventoryReply, uhfReader18InventoryCommand } from '../../../protocols/rfid/uhfreader18.js';
import { decodeEpc } from '../../../protocols/rfid/epc.js';
import { loadCapture } from '../../helpers/replay.js';
import { ofKind, ptyRig, waitFor, type PtyRig } from '../helpers.js';

describe('driver rfid-uhfreader18 over a pty', () => {
  let rig: PtyRig | undefined;
  let sim: RfidSimulator | undefined;
  afterEach(async () => {
    sim?.stop();
    await rig?.close();
    rig = sim = undefined;
  });

  it('polls inventory and emits every read with antenna and raw RSSI; repeats are emitted as read', async () => {
    const tags = sgtinTags(3, '04012345678901', 7, [1, 2]);
    rig = await ptyRig('rfid-uhfreader18?intervalMs=40', (peer) => (sim = new RfidSimulator(peer, { protocol: 'uhfreader18', tags, jitterDb: 0 })));
    // Per round: 3 tags on antenna 1, tags 0 and 2 also on antenna 2.
    await waitFor(() => ofKind(rig!.readings, 'tag').length >= 5 * 5, 'five rounds of tags');
    const reads = ofKind(rig.readings, 'tag');
    // Broadcast inventory command, as verified in device-protocols.md: 04 FF 01 1B B4.
    expect(rig.sent().subarray(0, 5)).toEqual(Buffer.from(uhfReader18InventoryCommand(0xff)));
    const first = reads.find((r) => r.epc === tags[0]!.epc && r.antenna === 1)!;
    expect(first).toMatchObject({ kind: 'tag', antenna: 1, rssiRaw: simulatedChafonRssiRaw(tags[0]!.rssi[1]!) });
    expect(first).not.toHaveProperty('rssi'); // Chafon's RSSI byte has no documented unit
    expect(decodeEpc(first.epc)).toMatchObject({ scheme: 'sgtin-96', gtin: '04012345678901', serial: '1001' });
    // Tag 0 and 2 are seen by antenna 2 too; tag 1 is not.
    expect(reads.some((r) => r.epc === tags[2]!.epc && r.antenna === 2)).toBe(true);
    expect(reads.some((r) => r.epc === tags[1]!.epc && r.antenna === 2)).toBe(false);
    // Not de-duplicated: the same tag on the same antenna comes once per round.
    expect(reads.filter((r) => r.epc === tags[0]!.epc && r.antenna === 1).length).toBeGreaterThanOrEqual(5);
    expect(first.raw).toMatch(/^[0-9A-F]+$/);
    // One round at a time: every command was answered before the next was sent.
    expect(sim!.rounds).toBeGreaterThanOrEqual(5);

    sim!.setField([]);
    const n = ofKind(rig.readings, 'tag').length;
    await waitFor(() => sim!.rounds > 12, 'more rounds with an empty field');
    expect(ofKind(rig.readings, 'tag').length).toBeLessThanOrEqual(n + 5); // at most the round in flight
  });

  it('a corrupted length byte does not hold back the next frame: the idle flush lets it through', async () => {
    rig = await ptyRig('rfid-uhfreader18?intervalMs=60000');
    // 0x30 announces a 49-byte frame that never comes; the valid reply behind it waits for the flush.
    const reply = encodeUhfReader18InventoryReply({ antenna: 4, tags: [{ epc: 'E28068940000500A9D2298C6', rssiRaw: 90 }] });
    await rig.peer.write(Uint8Array.from([0x30, ...reply]));
    await waitFor(() => ofKind(rig!.readings, 'tag').length === 1, 'the tag behind the bad length byte');
    expect(ofKind(rig.readings, 'tag')[0]).toMatchObject({ epc: 'E28068940000500A9D2298C6', antenna: 4, rssiRaw: 90 });
  });

  it('decodes the multi-frame capture with a bad CRC, counting the corrupted frame once', async () => {
    rig = await ptyRig('rfid-uhfreader18?intervalMs=60000');
    await rig.peer.write(loadCapture('rfid/uhfreader18-stream-bad-crc.hex'));
    await waitFor(() => ofKind(rig!.readings, 'tag').length >= 2, 'two tags');
    expect(ofKind(rig.readings, 'tag').map((t) => t.epc)).toEqual(['E28068940000500A9D2298C6', '000000000000000000000313']);
    expect(rig.dev.health().droppedFrames).toBe(1);
  });
});
