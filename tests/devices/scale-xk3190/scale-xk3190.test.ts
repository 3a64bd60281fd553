import { afterEach, describe, expect, it } from 'vitest';
import { LoadModel } from '../../../devices/simulators/load.js';
import { ContinuousScaleSimulator } from '../../../devices/simulators/scale.js';
import { encodeXk3190Reply } from '../../../protocols/scale/encode.js';
import { xk3190Command } from '../../../protocols/scale/xk3190.js';
import { loadCapture } from '../../helpers/replay.js';
import { ofKind, ptyRig, waitFor, type PtyRig } from '../helpers.js';

describe('driver scale-xk3190 over a pty', () => {
  let rig: PtyRig | undefined;
  let sim: ContinuousScaleSimulator | undefined;
  afterEach(async () => {
    sim?.stop();
    await rig?.close();
    rig = sim = undefined;
  });

  it('decodes the real truck-scale capture (tF=0); no stability flag', async () => {
    rig = await ptyRig('scale-xk3190');
    await rig.peer.write(loadCapture('scale/xk3190-tf0.hex'));
    await waitFor(() => rig!.readings.length >= 3, 'three frames');
    expect(rig.readings.map((r) => (r.kind === 'weight' ? r.weightKg : r.kind))).toEqual([0, 1560, 1650]);
    expect(rig.readings[1]).not.toHaveProperty('stable');
    expect(rig.readings[1]!.raw).toBe('022B30303135363030313903');
  });

  for (const variant of ['stx', 'reversed'] as const) {
    it(`streams ${variant} frames from the simulator in tonnes when ?unit=t`, async () => {
      const load = new LoadModel({ settleMs: 100, divisionKg: 0.01, capacityKg: 100 });
      rig = await ptyRig('scale-xk3190?unit=t', (peer) => (sim = new ContinuousScaleSimulator(peer, { protocol: 'xk3190', variant, load, rateMs: 30 })));
      sim!.start();
      load.place(31.25); // the simulator's numbers, read as tonnes by the driver
      await waitFor(() => ofKind(rig!.readings, 'weight').at(-1)?.weightKg === 31250, '31.25 t');
      expect(ofKind(rig.readings, 'weight').at(-1)!.unit).toBe('t');
    });
  }

  it('order method: polls command B at the address and decodes the replies', async () => {
    rig = await ptyRig('scale-xk3190?mode=order&address=C&intervalMs=50');
    const expected = Buffer.from(xk3190Command('C', 'B'));
    await waitFor(() => rig!.sent().includes(expected), 'a B command to address C');
    await rig.peer.write(encodeXk3190Reply({ kind: 'weight', weight: 1560, unit: 'kg' }, 'C'));
    await waitFor(() => rig!.readings.length >= 1, 'gross reply');
    expect(rig.readings[0]).toMatchObject({ kind: 'weight', weightKg: 1560 });
  });
});
