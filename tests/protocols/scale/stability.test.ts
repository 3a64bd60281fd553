import { describe, expect, it } from 'vitest';
import { StabilityDetector } from '../../../protocols/scale/stability.js';
import { ProtocolError } from '../../../protocols/errors.js';

describe('StabilityDetector', () => {
  it("default ('both', 1000 ms, d = 1 g): needs a full second within ±1 d and the device flag", () => {
    const s = new StabilityDetector();
    expect(s.push({ weightKg: 1.0, stable: true }, 0)).toBe(false); // window not covered yet
    expect(s.push({ weightKg: 1.001, stable: true }, 500)).toBe(false);
    expect(s.push({ weightKg: 1.0, stable: true }, 1000)).toBe(true);
    expect(s.stable).toBe(true);
    // The flag alone is not enough when a sample in the window is 2 d away.
    expect(s.push({ weightKg: 1.002, stable: true }, 1100)).toBe(false);
    // And the window alone is not enough when the device says motion.
    const t = new StabilityDetector();
    t.push({ weightKg: 5, stable: false }, 0);
    expect(t.push({ weightKg: 5, stable: false }, 1000)).toBe(false);
  });

  it('old samples leave the window: stable again one window after the last jump', () => {
    const s = new StabilityDetector({ windowMs: 1000, divisionKg: 0.01 });
    s.push({ weightKg: 2, stable: true }, 0);
    s.push({ weightKg: 3, stable: true }, 100);
    expect(s.push({ weightKg: 3, stable: true }, 1050)).toBe(false); // sample at 0 still marks the window start
    expect(s.push({ weightKg: 3.01, stable: true }, 1100)).toBe(true);
  });

  it('formats without a flag (XK3190) are judged on the window alone in mode both', () => {
    const s = new StabilityDetector({ windowSamples: 3, divisionKg: 0.5 });
    expect(s.push({ weightKg: 100 })).toBe(false);
    expect(s.push({ weightKg: 100.5 })).toBe(false);
    expect(s.push({ weightKg: 100 })).toBe(true);
    expect(s.push({ weightKg: 101 })).toBe(false);
  });

  it("mode 'device' trusts only the flag; mode 'window' ignores it", () => {
    const d = new StabilityDetector({ mode: 'device' });
    expect(d.push({ weightKg: 1, stable: true }, 0)).toBe(true);
    expect(d.push({ weightKg: 9 }, 1)).toBe(false);
    const w = new StabilityDetector({ mode: 'window', windowSamples: 2 });
    w.push({ weightKg: 1, stable: false });
    expect(w.push({ weightKg: 1, stable: false })).toBe(true);
  });

  it('both windows must be covered when both are given; tolerance is configurable', () => {
    const s = new StabilityDetector({ windowMs: 100, windowSamples: 4, divisionKg: 0.1, toleranceDivisions: 2 });
    s.push({ weightKg: 1 }, 0);
    s.push({ weightKg: 1.2 }, 200);
    expect(s.push({ weightKg: 1.1 }, 300)).toBe(false); // only 3 samples
    expect(s.push({ weightKg: 1.0 }, 310)).toBe(true); // ±0.2 kg around 1.0
  });

  it('a reading without weightKg clears the window; reset() forgets everything', () => {
    const s = new StabilityDetector({ windowSamples: 2 });
    s.push({ weightKg: 1 });
    expect(s.push({ stable: true })).toBe(false);
    expect(s.push({ weightKg: 1 })).toBe(false);
    expect(s.push({ weightKg: 1 })).toBe(true);
    s.reset();
    expect(s.stable).toBe(false);
    expect(s.push({ weightKg: 1 })).toBe(false);
  });

  it.each([[{ divisionKg: 0 }], [{ toleranceDivisions: -1 }], [{ windowSamples: 1 }], [{ windowMs: 0 }]])('rejects %j', (opts) => {
    expect(() => new StabilityDetector(opts)).toThrow(ProtocolError);
  });
});
