import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../../../devices/memory.js';
import { RfidSimulator, sgtinTags } from '../../../devices/simulators/rfid.js';
import { createRfidParser } from '../../../protocols/rfid/rfid-parser.js';
import type { RfidFrame } from '../../../protocols/rfid/rfid-frame.js';
import { m100MultiPollCommand, m100SinglePollCommand, m100StopCommand } from '../../../protocols/rfid/m100.js';
import { uhfReader18InventoryCommand } from '../../../protocols/rfid/uhfreader18.js';
import { decodeEpc } from '../../../protocols/rfid/epc.js';
import { waitFor } from '../../helpers/procs.js';

async function pair(protocol: 'uhfreader18' | 'm100', opts: Partial<ConstructorParameters<typeof RfidSimulator>[1]> = {}) {
  const [host, dev] = MemoryTransport.pair(`rfid-${Math.random()}`);
  const sim = new RfidSimulator(dev, { protocol, jitterDb: 0, ...opts });
  const parser = createRfidParser(protocol);
  const frames: RfidFrame[] = [];
  host.onData((b) => frames.push(...parser.push(b)));
  await host.open();
  await dev.open();
  return { host, sim, frames };
}

describe('RFID reader simulator', () => {
  it('sgtinTags encodes SGTIN-96 EPCs that decode back to the GTIN and serials', () => {
    const tags = sgtinTags(3, '80614141123458', 7);
    expect(tags.map((t) => decodeEpc(t.epc))).toMatchObject([
      { scheme: 'sgtin-96', gtin: '80614141123458', serial: '1001', filter: 1 },
      { serial: '1002' },
      { serial: '1003' },
    ]);
    expect(Object.keys(tags[0]!.rssi)).toEqual(['1', '2']);
    expect(Object.keys(tags[1]!.rssi)).toEqual(['1']);
  });

  it('uhfreader18: one reply per antenna (status 03 then 01), per-antenna RSSI; 0xFB when the field is empty', async () => {
    const { host, sim, frames } = await pair('uhfreader18', { tags: sgtinTags(2) });
    await host.write(uhfReader18InventoryCommand());
    await waitFor(() => frames.some((f) => f.kind === 'status'), 'end of round');
    expect(frames.map((f) => (f.kind === 'tag' ? `${f.antenna}:${f.epc.slice(-4)}:${f.rssiRaw}` : f.kind === 'status' ? `${f.status}:${f.code}` : f.kind))).toEqual([
      `1:${sim.tags[0]!.epc.slice(-4)}:80`,
      `1:${sim.tags[1]!.epc.slice(-4)}:77`,
      `2:${sim.tags[0]!.epc.slice(-4)}:68`,
      'done:1',
    ]);
    sim.setField([]);
    frames.length = 0;
    await host.write(uhfReader18InventoryCommand());
    await waitFor(() => frames.length > 0, 'no-tag reply');
    expect(frames).toEqual([{ kind: 'status', status: 'no-tag', code: 0xfb, cmd: 1, reader: 0 }]);
  });

  it('m100: single poll; multi-poll runs its rounds with repeats, then falls silent; stop answers', async () => {
    const { host, sim, frames } = await pair('m100', { tags: sgtinTags(2, undefined, undefined, [1]), repeats: 3, roundMs: 5 });
    await host.write(m100SinglePollCommand());
    await waitFor(() => frames.length === 6, 'one round: 2 tags × 3 repeats');
    expect(frames.every((f) => f.kind === 'tag' && f.rssi !== undefined)).toBe(true);
    frames.length = 0;
    await host.write(m100MultiPollCommand(4));
    await waitFor(() => sim.commands.includes(0x27), 'multi-poll received');
    await waitFor(() => !sim.polling, 'poll ends by itself');
    expect(frames.filter((f) => f.kind === 'tag')).toHaveLength(4 * 6);
    await host.write(m100MultiPollCommand(1000));
    await waitFor(() => sim.polling, 'polling');
    await host.write(m100StopCommand());
    await waitFor(() => frames.some((f) => f.kind === 'response' && f.cmd === 0x28), 'stop response');
    expect(sim.polling).toBe(false);
    sim.setField([]);
    frames.length = 0;
    await host.write(m100SinglePollCommand());
    await waitFor(() => frames.length === 1, 'no-tag error');
    expect(frames[0]).toMatchObject({ kind: 'status', status: 'no-tag', code: 0x15 });
  });
});
