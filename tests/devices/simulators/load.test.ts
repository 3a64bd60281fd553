import { describe, expect, it } from 'vitest';
import { LoadModel, parsePlacementScript } from '../../../devices/simulators/load.js';

describe('LoadModel (simulated load on a scale)', () => {
  it('plays a placement script: swings after each change, then is stable at the placed load', () => {
    let now = 1_000_000;
    const m = new LoadModel({ script: [{ atMs: 1000, kg: 12.5 }, { atMs: 5000, kg: 0 }], settleMs: 800, noiseKg: 0.05, divisionKg: 0.005, now: () => now });
    expect(m.sample()).toEqual({ grossKg: 0, netKg: 0, tareKg: 0, stable: true });
    now += 1100;
    const swinging = m.sample();
    expect(swinging.stable).toBe(false);
    expect(swinging.status).toBeUndefined();
    if (!swinging.status) {
      expect(Math.abs(swinging.grossKg - 12.5)).toBeLessThanOrEqual(0.05);
      expect(Math.round(swinging.grossKg * 1000) % 5).toBe(0); // on the 5 g division
    }
    expect(m.stableAt()).toBe(1_000_000 + 1000 + 800);
    now += 800;
    expect(m.sample()).toEqual({ grossKg: 12.5, netKg: 12.5, tareKg: 0, stable: true });
    now = 1_000_000 + 6000;
    expect(m.sample()).toMatchObject({ grossKg: 0, stable: true });
  });

  it('loops the script', () => {
    let now = 0;
    const m = new LoadModel({ script: [{ atMs: 100, kg: 2 }, { atMs: 200, kg: 0 }], loopMs: 300, settleMs: 10, now: () => now });
    now = 150;
    expect(m.current().kg).toBe(2);
    now = 250;
    expect(m.current().kg).toBe(0);
    now = 350; // next cycle, before its first placement: still the last load of the previous cycle
    expect(m.current().kg).toBe(0);
    now = 420;
    expect(m.current()).toEqual({ kg: 2, since: 400 });
  });

  it('tares, zeroes within ±2 % of capacity, and flags overload / underload', () => {
    let now = 0;
    const m = new LoadModel({ settleMs: 0, capacityKg: 60, now: () => now });
    m.place(3);
    now = 1;
    expect(m.tare()).toBe(3);
    m.place(10);
    now = 2;
    expect(m.sample()).toEqual({ grossKg: 10, netKg: 7, tareKg: 3, stable: true });
    expect(m.zero()).toBe('+'); // 10 kg is far outside the zero range
    m.place(0.4);
    now = 3;
    expect(m.zero()).toBe('A');
    expect(m.tareKg).toBe(0);
    expect(m.sample()).toMatchObject({ grossKg: 0, netKg: 0 });
    m.place(80);
    now = 4;
    expect(m.sample()).toEqual({ status: 'overload', stable: true });
    expect(m.tare()).toBe('+');
    m.place(-5);
    now = 5;
    expect(m.sample()).toMatchObject({ status: 'underload' });
  });

  it('parses placement scripts in both notations and names a bad item', () => {
    expect(parsePlacementScript('2000:12.5, 8000:0')).toEqual([{ atMs: 2000, kg: 12.5 }, { atMs: 8000, kg: 0 }]);
    expect(parsePlacementScript('[{"atMs":10,"kg":-1.5}]')).toEqual([{ atMs: 10, kg: -1.5 }]);
    expect(() => parsePlacementScript('2000:12.5,oops')).toThrow(/item 2 'oops'/);
    expect(() => parsePlacementScript('2000:1,1000:2')).toThrow(/times must not decrease/);
    expect(() => parsePlacementScript('[{"at":1}]')).toThrow(/item 0/);
  });
});
