import { describe, expect, it } from 'vitest';
import { TagTracker } from '../../edge/rfid-events.js';

const EPC = '3074257BF7194E4000001A85';
const EPC2 = '3034F4E4E4424C800012D687';
const read = (at: number, antenna?: number, epc = EPC) => ({ epc, at, raw: `BB02-${at}`, ...(antenna === undefined ? {} : { antenna }) });

describe('TagTracker: zone', () => {
  it('makes one arrival of 50 reads in the read window, and one departure after the timeout', () => {
    const t = new TagTracker({ readWindowMs: 2000, departureMs: 5000 });
    const events = [];
    for (let i = 0; i < 50; i++) events.push(...t.push(read(1000 + i * 20, 1)));
    expect(events).toEqual([{ type: 'arrived', epc: EPC, at: 1000, antenna: 1, raw: 'BB02-1000' }]);
    expect(t.present).toBe(1);
    expect(t.tick(1980 + 4999)).toEqual([]);
    expect(t.tick(1980 + 5000)).toEqual([{ type: 'departed', epc: EPC, at: 1980, firstAt: 1000, reads: 50, raw: 'BB02-1000' }]);
    expect(t.present).toBe(0);
    expect(t.stats).toEqual({ reads: 50, events: 2 });
  });

  it('keeps a tag present while it is read, however long', () => {
    const t = new TagTracker({ readWindowMs: 1000, departureMs: 3000 });
    let n = 0;
    for (let at = 0; at < 60_000; at += 500) n += t.push(read(at)).length;
    expect(n).toBe(1);
    expect(t.tick(60_000)).toEqual([]);
  });

  it('settles a departure on the next read when tick() was not called, then arrives again', () => {
    const t = new TagTracker({ departureMs: 3000 });
    t.push(read(0));
    const evs = t.push(read(10_000, 2));
    expect(evs.map((e) => e.type)).toEqual(['departed', 'arrived']);
    expect(evs[1]).toMatchObject({ at: 10_000, antenna: 2 });
  });

  it('tracks EPCs independently and reports the next deadline', () => {
    const t = new TagTracker({ departureMs: 2000 });
    t.push(read(0, 1, EPC));
    t.push(read(500, 1, EPC2));
    expect(t.nextDeadline()).toBe(2000);
    expect(t.tick(2000).map((e) => e.epc)).toEqual([EPC]);
    expect(t.tick(2500).map((e) => e.epc)).toEqual([EPC2]);
    expect(t.nextDeadline()).toBeUndefined();
  });

  it('never lets the departure timeout be shorter than the read window', () => {
    expect(new TagTracker({ readWindowMs: 4000, departureMs: 1000 }).departureMs).toBe(4000);
  });
});

describe('TagTracker: portal', () => {
  const portal = () => new TagTracker({ role: 'portal', readWindowMs: 2000, outsideAntenna: 1, insideAntenna: 2 });

  it('outside -> inside is one pass in, after the window closes', () => {
    const t = portal();
    const evs = [...t.push(read(0, 1)), ...t.push(read(100, 1)), ...t.push(read(300, 2)), ...t.push(read(400, 2))];
    expect(evs).toEqual([]);
    expect(t.tick(2399)).toEqual([]);
    expect(t.tick(2400)).toEqual([{ type: 'passed', epc: EPC, at: 400, firstAt: 0, direction: 'in', antennas: [1, 2], reads: 4, raw: 'BB02-0' }]);
  });

  it('inside -> outside is out; one antenna only is unknown', () => {
    const t = portal();
    t.push(read(0, 2));
    t.push(read(50, 1));
    t.push(read(0, 1, EPC2));
    t.push(read(40, 1, EPC2));
    const evs = t.tick(5000);
    expect(evs.map((e) => [e.epc, e.type === 'passed' && e.direction])).toEqual([
      [EPC2, 'unknown'],
      [EPC, 'out'],
    ]);
  });

  it('50 reads across the doorway are one pass', () => {
    const t = portal();
    for (let i = 0; i < 50; i++) t.push(read(i * 10, i < 25 ? 1 : 2));
    const evs = t.tick(10_000);
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ direction: 'in', reads: 50 });
  });

  it('a read after the window starts a new pass (and ends the old one)', () => {
    const t = portal();
    t.push(read(0, 1));
    t.push(read(100, 2));
    const evs = t.push(read(5000, 2));
    expect(evs).toEqual([expect.objectContaining({ type: 'passed', direction: 'in' })]);
    t.push(read(5100, 1));
    expect(t.tick(8000)).toEqual([expect.objectContaining({ direction: 'out', firstAt: 5000 })]);
  });

  it('refuses a portal without two different antennas', () => {
    expect(() => new TagTracker({ role: 'portal', outsideAntenna: 1 })).toThrow(/two different antennas/);
    expect(() => new TagTracker({ role: 'portal', outsideAntenna: 1, insideAntenna: 1 })).toThrow(/two different antennas/);
  });
});
