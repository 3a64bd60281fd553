import { afterEach, describe, expect, it } from 'vitest';
import type { WeightReading } from '../../../devices/driver.js';
import { ScaleCommandError, ScaleMtSicsDriver } from '../../../devices/scale-mt-sics/scale-mt-sics.js';
import { LoadModel } from '../../../devices/simulators/load.js';
import { MtSicsScaleSimulator } from '../../../devices/simulators/scale.js';
import { loadCapture } from '../../helpers/replay.js';
import { ofKind, ptyRig, waitFor, type PtyRig } from '../helpers.js';

/** The MT-SICS driver against the MT-SICS simulator across a real pty (serialport both sides). */
describe('driver scale-mt-sics over a pty', () => {
  let rig: PtyRig | undefined;
  let sim: MtSicsScaleSimulator | undefined;
  afterEach(async () => {
    sim?.stop();
    await rig?.close();
    rig = undefined;
    sim = undefined;
  });

  async function start(query: string, load: LoadModel, simOpts: { stableTimeoutMs?: number; sirRateMs?: number } = {}) {
    rig = await ptyRig(`scale-mt-sics?${query}`, (peer) => (sim = new MtSicsScaleSimulator(peer, { load, ...simOpts })));
    return { rig, driver: rig.dev.driver as ScaleMtSicsDriver };
  }
  const weights = () => ofKind(rig!.readings, 'weight');
  const lastWeight = () => weights().at(-1);

  it('polls SI: dynamic readings while the load settles, then stable ones; tare and zero resolve on the reply', async () => {
    const load = new LoadModel({ settleMs: 400, noiseKg: 0.05, divisionKg: 0.001 });
    const { driver } = await start('intervalMs=50', load);
    await waitFor(() => weights().length >= 2, 'first polled weights');
    // TA on connect told the driver there is no tare: readings are gross.
    expect(lastWeight()).toMatchObject({ kind: 'weight', weightKg: 0, stable: true, net: false, unit: 'kg' });
    expect(lastWeight()!.raw).toMatch(/^S S +0\.000 kg$/);

    load.place(2.5); // a container
    await waitFor(() => weights().some((w) => w.stable === false), 'a dynamic reading while it swings');
    await waitFor(() => lastWeight()?.stable === true && lastWeight()?.weightKg === 2.5, 'stable 2.5 kg');

    await expect(driver.tare()).resolves.toBe(2.5);
    await waitFor(() => lastWeight()?.weightKg === 0 && lastWeight()?.net === true, 'net zero after tare');
    expect(lastWeight()).toMatchObject({ net: true, tareKg: 2.5 });

    load.place(2.5 + 10.25); // 10.25 kg of parts into the container
    await waitFor(() => lastWeight()?.stable === true && lastWeight()?.weightKg === 10.25, 'stable net 10.25 kg');
    expect(lastWeight()).toMatchObject({ net: true, tareKg: 2.5 });

    load.place(0.3); // everything off but some dirt: zero it away
    await waitFor(() => lastWeight()?.stable === true, 'stable before zero');
    await expect(driver.zero()).resolves.toBeUndefined();
    await waitFor(() => lastWeight()?.stable === true && lastWeight()?.weightKg === 0 && lastWeight()?.net === false, 'zeroed, tare cleared');
    expect(driver.tareKg).toBe(0);

    const cmds = sim!.received;
    expect(cmds.slice(0, 2)).toEqual(['TA', 'SI']);
    expect(cmds).toContain('T');
    expect(cmds).toContain('Z');
    // Polling pauses while a command is outstanding: no SI between a T and its reply.
    expect(cmds[cmds.indexOf('T') + 1]).toBe('SI');
  });

  it('reports overload and underload as status readings', async () => {
    const load = new LoadModel({ settleMs: 50, capacityKg: 60 });
    await start('intervalMs=50', load);
    load.place(75);
    await waitFor(() => ofKind(rig!.readings, 'status').some((s) => s.status === 'overload'), 'overload');
    expect(ofKind(rig!.readings, 'status').find((s) => s.status === 'overload')).toMatchObject({ command: 'S', raw: 'S +' });
    load.place(-5);
    await waitFor(() => ofKind(rig!.readings, 'status').some((s) => s.status === 'underload'), 'underload');
  });

  it('rejects tare() with the scale\'s own answer when it cannot tare (T I: not stable in time)', async () => {
    const load = new LoadModel({ settleMs: 60_000, noiseKg: 0.2 });
    const { driver } = await start('intervalMs=50', load, { stableTimeoutMs: 150 });
    load.place(3);
    const err = await driver.tare().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScaleCommandError);
    expect(err).toMatchObject({ code: 'SG_ERR_SCALE_COMMAND', status: 'not-executable' });
    // Polling goes on afterwards.
    const n = weights().length;
    await waitFor(() => weights().length > n + 2, 'polling resumed');
  });

  it('SIR mode: one SIR, the scale streams; after a tare the driver sends SIR again', async () => {
    const load = new LoadModel({ settleMs: 100, weightKg: 1.2 });
    const { driver } = await start('mode=sir&intervalMs=100', load, { sirRateMs: 40 });
    await waitFor(() => weights().length >= 5, 'streamed weights');
    expect(sim!.received.filter((c) => c === 'SI')).toEqual([]);
    expect(sim!.received.filter((c) => c === 'SIR')).toHaveLength(1);
    await expect(driver.tare()).resolves.toBe(1.2);
    await waitFor(() => sim!.received.filter((c) => c === 'SIR').length === 2, 'SIR re-sent after the tare');
    const n = weights().length;
    await waitFor(() => weights().length >= n + 3 && lastWeight()!.net === true, 'the stream resumed, net');
  });

  it('decodes a recorded capture (mt-sics-s.hex) written into the pty', async () => {
    rig = await ptyRig('scale-mt-sics?intervalMs=60000');
    await rig.peer.write(loadCapture('scale/mt-sics-s.hex'));
    await waitFor(() => rig!.readings.length >= 5, 'five readings');
    const rs = rig.readings.map((r) => (r.kind === 'weight' ? [r.weightKg, r.stable] : r.kind === 'status' ? r.status : r.kind));
    expect(rs).toEqual([[0.1, true], [-0.1, true], 'not-executable', 'overload', 'underload']);
    const w = rig.readings[0] as WeightReading;
    expect(w).toMatchObject({ unit: 'g', raw: 'S S     100.00 g' });
  });
});
