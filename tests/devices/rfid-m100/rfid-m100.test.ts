import { afterEach, describe, expect, it } from 'vitest';
import type { RfidM100Driver } from '../../../devices/rfid-m100/rfid-m100.js';
import { RfidSimulator, sgtinTags } from '../../../devices/simulators/rfid.js';
import { M100_CMD, m100MultiPollCommand, m100StopCommand } from '../../../protocols/rfid/m100.js';
import { loadCapture } from '../../helpers/replay.js';
import { ofKind, ptyRig, waitFor, type PtyRig } from '../helpers.js';

describe('driver rfid-m100 over a pty', () => {
  let rig: PtyRig | undefined;
  let sim: RfidSimulator | undefined;
  afterEach(async () => {
    sim?.stop();
    await rig?.close();
    rig = sim = undefined;
  });

  it('multi-polls, emits tag notices with RSSI in dBm, and re-issues the multi-poll when it ends', async () => {
    const tags = sgtinTags(2, '04012345678901', 7, [1]);
    rig = await ptyRig('rfid-m100?pollCount=3&restartMs=200', (peer) => (sim = new RfidSimulator(peer, { protocol: 'm100', tags, roundMs: 20, repeats: 2, jitterDb: 0 })));
    // Stop first (a poll left running by a previous session), then a multi-poll of 3 rounds.
    await waitFor(() => rig!.sent().length >= 17, 'stop + multi-poll');
    expect(rig.sent().subarray(0, 17)).toEqual(Buffer.from([...m100StopCommand(), ...m100MultiPollCommand(3)]));
    // 3 rounds × 2 tags × 2 repeats, then silence, then the driver starts the next multi-poll.
    await waitFor(() => sim!.commands.filter((c) => c === M100_CMD.MULTI_POLL).length >= 2, 'multi-poll re-issued');
    await waitFor(() => ofKind(rig!.readings, 'tag').length >= 12 + 1, 'tags from the second poll');
    const reads = ofKind(rig.readings, 'tag');
    expect(reads[0]).toMatchObject({ epc: tags[0]!.epc, rssi: tags[0]!.rssi[1], antenna: 1 });
    expect(reads.slice(0, 12).filter((r) => r.epc === tags[1]!.epc)).toHaveLength(6);
    expect((rig.dev.driver as RfidM100Driver).polls).toBeGreaterThanOrEqual(2);
  });

  it('decodes a tag notice whose EPC contains 0x7E and 0xBB (framed by length, not by 0x7E)', async () => {
    rig = await ptyRig('rfid-m100?restartMs=60000');
    await rig.peer.write(loadCapture('rfid/m100-tag-notice-7e.hex'));
    await waitFor(() => rig!.readings.length >= 1, 'the notice');
    expect(rig.readings[0]).toMatchObject({ kind: 'tag', epc: '307EBB7E0000000000007E01', rssi: -80, antenna: 1 });
  });
});
