import { afterEach, describe, expect, it } from 'vitest';
import { LoadModel } from '../../../devices/simulators/load.js';
import { ContinuousScaleSimulator, type ContinuousVariant } from '../../../devices/simulators/scale.js';
import { loadCapture } from '../../helpers/replay.js';
import { ofKind, ptyRig, waitFor, type PtyRig } from '../helpers.js';

describe('driver scale-ascii over a pty', () => {
  let rig: PtyRig | undefined;
  let sim: ContinuousScaleSimulator | undefined;
  afterEach(async () => {
    sim?.stop();
    await rig?.close();
    rig = sim = undefined;
  });

  for (const variant of ['and', 'generic', 'cas', 'ohaus', 'a12e'] as ContinuousVariant[]) {
    it(`decodes the simulator's ${variant} lines: stable weight after settling`, async () => {
      const load = new LoadModel({ settleMs: 200, divisionKg: 0.01 });
      rig = await ptyRig('scale-ascii', (peer) => (sim = new ContinuousScaleSimulator(peer, { protocol: 'ascii', variant, load, rateMs: 30 })));
      sim!.start();
      load.place(4.2);
      await waitFor(() => {
        const w = ofKind(rig!.readings, 'weight').at(-1);
        return w?.weightKg === 4.2 && w.stable !== false;
      }, `4.2 kg in ${variant}`);
      const last = ofKind(rig.readings, 'weight').at(-1)!;
      expect(last.raw).not.toMatch(/[\r\n]/);
      expect(rig.dev.health().droppedFrames).toBe(0);
    });
  }

  it('decodes the A&D capture and reports overload/underload; a count line is not a weight', async () => {
    rig = await ptyRig('scale-ascii');
    await rig.peer.write(loadCapture('scale/ascii-and.hex'));
    await waitFor(() => rig!.readings.some((r) => r.kind === 'status' && r.status === 'underload') && rig!.readings.length >= 6, 'readings');
    expect(rig.readings[0]).toMatchObject({ kind: 'weight', weightKg: 1.2345, unit: 'g', stable: true });
    expect(ofKind(rig.readings, 'status').map((s) => s.status)).toEqual(['overload', 'underload']);
    // The count (QT) and the % line have no weight in kg: counted as dropped, not emitted.
    expect(rig.readings.some((r) => r.kind === 'weight' && r.unit === '%')).toBe(false);
  });

  it('polls a print-on-request scale with ?poll=', async () => {
    rig = await ptyRig('scale-ascii?poll=Q&intervalMs=50');
    await waitFor(() => rig!.sent().toString('latin1').includes('Q\r\nQ\r\n'), 'two Q requests');
  });
});
