import { afterEach, describe, expect, it } from 'vitest';
import { ScannerSimulator } from '../../../devices/simulators/scanner.js';
import { ptyRig, waitFor, ofKind, type PtyRig } from '../helpers.js';

describe('driver scanner over a pty', () => {
  let rig: PtyRig | undefined;
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
  });

  it('decodes simulated scans with AIM ids', async () => {
    rig = await ptyRig('scanner');
    const sim = new ScannerSimulator(rig.peer);
    await sim.scan({ data: '0109506000134352', aim: ']C1' });
    await sim.scan('PLAIN');
    await waitFor(() => rig!.readings.length === 2, 'two scans');
    expect(ofKind(rig.readings, 'scan').map((s) => [s.aim, s.data, s.raw])).toEqual([
      [']C1', '0109506000134352', ']C10109506000134352'],
      [undefined, 'PLAIN', 'PLAIN'],
    ]);
  });

  it('has no feedback without a beep command set', async () => {
    rig = await ptyRig('scanner');
    expect(rig.dev.driver.feedback).toBeUndefined();
    await expect(rig.dev.feedback('ok')).resolves.toBe(false);
  });

  it('beeps with the Honeywell host escape commands (ESC 7 , / ESC 8 ,)', async () => {
    rig = await ptyRig('scanner?beep=honeywell');
    await expect(rig.dev.feedback('ok')).resolves.toBe(true);
    await rig.dev.feedback('error');
    await waitFor(() => rig!.sent().length === 6, 'both commands on the wire');
    expect(rig.sent().toString('latin1')).toBe('\x1b7,\x1b8,');
  });

  it('beeps with the Datalogic host commands (B; F then E)', async () => {
    rig = await ptyRig('scanner?beep=datalogic');
    await rig.dev.feedback('ok');
    await rig.dev.feedback('error');
    await waitFor(() => rig!.sent().length === 3, 'commands on the wire');
    expect(rig.sent().toString('latin1')).toBe('BFE');
  });
});
