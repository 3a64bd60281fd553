import { afterEach, describe, expect, it } from 'vitest';
import { LoadModel } from '../../../devices/simulators/load.js';
import { ContinuousScaleSimulator } from '../../../devices/simulators/scale.js';
import { ScaleToledoDriver } from '../../../devices/scale-toledo/scale-toledo.js';
import { loadCapture } from '../../helpers/replay.js';
import { ofKind, ptyRig, waitFor, type PtyRig } from '../helpers.js';

describe('driver scale-toledo over a pty', () => {
  let rig: PtyRig | undefined;
  let sim: ContinuousScaleSimulator | undefined;
  afterEach(async () => {
    sim?.stop();
    await rig?.close();
    rig = sim = undefined;
  });

  it('opens the line 7E1 by default and decodes the 12.50 kg capture with its checksum', async () => {
    expect(new ScaleToledoDriver().profile.line).toEqual({ baudRate: 9600, dataBits: 7, parity: 'even', stopBits: 1 });
    rig = await ptyRig('scale-toledo');
    const frame = loadCapture('scale/toledo-12.50kg-chk.hex');
    await rig.peer.write(Uint8Array.from([...frame, ...frame])); // a stream: the second STX settles the first
    await waitFor(() => rig!.readings.length >= 2, 'two readings');
    expect(rig.readings[0]).toMatchObject({ kind: 'weight', weightKg: 12.5, stable: true, net: false, tareKg: 0, divisionKg: 0.01, unit: 'kg' });
    expect(rig.readings[0]!.raw).toBe('022C30203030313235303030303030300D2D');
  });

  it('streams from the simulator: motion flag while settling, then stable; tare and net from the status words', async () => {
    const load = new LoadModel({ settleMs: 300, divisionKg: 0.01, weightKg: 0 });
    rig = await ptyRig('scale-toledo', (peer) => (sim = new ContinuousScaleSimulator(peer, { protocol: 'toledo', load, rateMs: 30 })));
    sim!.start();
    await waitFor(() => ofKind(rig!.readings, 'weight').length > 3, 'a few frames');
    load.place(7.5);
    await waitFor(() => ofKind(rig!.readings, 'weight').some((w) => w.stable === false), 'motion');
    await waitFor(() => ofKind(rig!.readings, 'weight').at(-1)?.weightKg === 7.5 && ofKind(rig!.readings, 'weight').at(-1)?.stable === true, 'stable 7.5');
    load.tareKg = 1.5;
    await waitFor(() => ofKind(rig!.readings, 'weight').at(-1)?.net === true, 'net frames');
    expect(ofKind(rig.readings, 'weight').at(-1)).toMatchObject({ weightKg: 6, net: true, tareKg: 1.5 });
    load.place(99); // over the 60 kg capacity
    await waitFor(() => ofKind(rig!.readings, 'status').some((s) => s.status === 'overload'), 'overload');
    expect(rig.dev.health().droppedFrames).toBe(0);
  });
});
