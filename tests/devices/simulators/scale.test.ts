import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../../../devices/memory.js';
import { LoadModel } from '../../../devices/simulators/load.js';
import { ContinuousScaleSimulator, MtSicsScaleSimulator } from '../../../devices/simulators/scale.js';
import { createScaleParser } from '../../../protocols/scale/create-scale-parser.js';
import { parseMtSicsLine } from '../../../protocols/scale/mt-sics.js';
import { toledoChecksum } from '../../../protocols/scale/toledo.js';
import { waitFor } from '../../helpers/procs.js';

/** Talk to an MT-SICS simulator over an in-process link: send a command line, collect the reply lines. */
async function mtSicsPair(load: LoadModel, opts: { stableTimeoutMs?: number } = {}) {
  const [host, dev] = MemoryTransport.pair(`mtsics-${Math.random()}`);
  const sim = new MtSicsScaleSimulator(dev, { load, sirRateMs: 20, ...opts });
  const lines: string[] = [];
  let buf = '';
  host.onData((b) => {
    buf += Buffer.from(b).toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
  });
  await host.open();
  await dev.open();
  const ask = async (cmd: string, replies = 1) => {
    const n = lines.length;
    await host.write(Buffer.from(`${cmd}\r\n`));
    await waitFor(() => lines.length >= n + replies, `reply to ${cmd}`, 10_000, 5);
    return lines.slice(n, n + replies);
  };
  return { sim, lines, ask };
}

describe('MT-SICS scale simulator', () => {
  it('answers the level 0/1 commands with the manual formats', async () => {
    const load = new LoadModel({ weightKg: 1.25, settleMs: 0 });
    const { sim, ask } = await mtSicsPair(load);
    expect(await ask('SI')).toEqual(['S S      1.250 kg']);
    expect(await ask('S')).toEqual(['S S      1.250 kg']);
    expect(await ask('T')).toEqual(['T S      1.250 kg']);
    expect(await ask('SI')).toEqual(['S S      0.000 kg']); // net after the tare
    expect(await ask('TA')).toEqual(['TA A      1.250 kg']);
    expect(await ask('TAC')).toEqual(['TAC A']);
    expect(await ask('TA 0.5 kg')).toEqual(['TA A      0.500 kg']);
    expect(await ask('SI')).toEqual(['S S      0.750 kg']);
    expect(await ask('Z')).toEqual(['Z +']); // 1.25 kg is outside the ±2 % (1.2 kg) zero range
    expect(await ask('@')).toEqual(['I4 A "0123456789"']);
    expect(await ask('I4')).toEqual(['I4 A "0123456789"']);
    expect(await ask('XYZ')).toEqual(['ES']);
    // Every reply parses back with the protocol library.
    for (const l of ['S S      1.250 kg', 'T S      1.250 kg', 'TA A      1.250 kg']) expect(parseMtSicsLine(l)).toBeTruthy();
    sim.stop();
  });

  it('S waits for stability; T/Z answer I when the load does not settle in time', async () => {
    const load = new LoadModel({ settleMs: 60_000 });
    const { sim, ask } = await mtSicsPair(load, { stableTimeoutMs: 50 });
    load.place(2);
    const si = await ask('SI');
    expect(si[0]).toMatch(/^S D /);
    expect(await ask('S')).toEqual(['S I']);
    expect(await ask('T')).toEqual(['T I']);
    expect(await ask('Z')).toEqual(['Z I']);
    sim.stop();
  });

  it('SIR repeats until the next command; overload is S +', async () => {
    const load = new LoadModel({ weightKg: 100, settleMs: 0, capacityKg: 60 });
    const { sim, lines, ask } = await mtSicsPair(load);
    await ask('SIR', 4);
    expect(lines.slice(0, 4)).toEqual(['S +', 'S +', 'S +', 'S +']);
    await ask('TAC');
    const n = lines.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(lines.length).toBe(n); // the stream stopped
    sim.stop();
  });
});

describe('continuous scale simulator', () => {
  it('streams Toledo frames with a valid checksum that decode to the load', async () => {
    const [host, dev] = MemoryTransport.pair('toledo-sim');
    const load = new LoadModel({ weightKg: 12.5, settleMs: 0, divisionKg: 0.01 });
    const sim = new ContinuousScaleSimulator(dev, { protocol: 'toledo', load, rateMs: 10 });
    const bytes: number[] = [];
    host.onData((b) => bytes.push(...b));
    await host.open();
    await dev.open();
    sim.start();
    await waitFor(() => bytes.length >= 18 * 3, 'three frames');
    sim.stop();
    const first = bytes.slice(0, 18);
    expect(first[17]).toBe(toledoChecksum(first.slice(0, 17)));
    const p = createScaleParser('toledo');
    const frames = [...p.push(Uint8Array.from(bytes)), ...p.end()];
    expect(frames[0]).toMatchObject({ kind: 'weight', weightKg: 12.5, stable: true, division: 0.01 });
  });

  it('rejects a variant of another protocol', () => {
    const [, dev] = MemoryTransport.pair('bad-variant');
    expect(() => new ContinuousScaleSimulator(dev, { protocol: 'xk3190', variant: 'cas' })).toThrow(/does not belong to protocol xk3190/);
    expect(() => new ContinuousScaleSimulator(dev, { protocol: 'ascii', variant: 'stx' })).toThrow(/does not belong/);
  });

  it('skips frames a format cannot show (XK3190 has no overload flag)', () => {
    const [, dev] = MemoryTransport.pair('xk-sim');
    const sim = new ContinuousScaleSimulator(dev, { protocol: 'xk3190', load: new LoadModel({ divisionKg: 1 }) });
    expect(sim.frame({ status: 'overload', stable: true })).toBeUndefined();
    expect(Buffer.from(sim.frame({ grossKg: 1560, netKg: 1560, tareKg: 0, stable: true })!).toString('latin1')).toMatch(/^\x02\+0015600/);
    // A value that does not fit the format is an encoder error, which the streaming loop skips.
    const fine = new ContinuousScaleSimulator(dev, { protocol: 'xk3190', load: new LoadModel({ divisionKg: 0.001 }) });
    expect(() => fine.frame({ grossKg: 1560, netKg: 1560, tareKg: 0, stable: true })).toThrow(/does not fit 6 digits/);
  });
});
