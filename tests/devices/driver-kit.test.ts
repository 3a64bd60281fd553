import { afterEach, describe, expect, it, vi } from 'vitest';
import { PollTimer, countersOf } from '../../devices/driver-kit.js';
import { ScaleXk3190Driver } from '../../devices/scale-xk3190/scale-xk3190.js';
import type { Transport } from '../../devices/transport.js';

describe('driver kit', () => {
  afterEach(() => vi.useRealTimers());

  it('PollTimer: ticks until stopped, a rejected or throwing tick does not stop it, every() restarts', async () => {
    vi.useFakeTimers();
    const t = new PollTimer();
    let n = 0;
    t.every(100, () => {
      n++;
      if (n === 1) throw new Error('sync failure');
      return Promise.reject(new Error('write failed'));
    });
    await vi.advanceTimersByTimeAsync(350);
    expect(n).toBe(3);
    t.every(50, () => n++);
    await vi.advanceTimersByTimeAsync(100);
    expect(n).toBe(5);
    t.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(n).toBe(5);
  });

  it('countersOf adds refused frames to the dropped ones', () => {
    expect(countersOf({ frames: 4, droppedBytes: 2, droppedFrames: 1 }, 3)).toEqual({ frames: 4, droppedBytes: 2, droppedFrames: 4 });
  });

  it('a driver on the kit polls while started and stops writing after stop()', async () => {
    vi.useFakeTimers();
    const writes: Uint8Array[] = [];
    const transport = { write: async (b: Uint8Array) => void writes.push(b) } as unknown as Transport;
    const d = new ScaleXk3190Driver({ mode: 'order', intervalMs: '100' });
    await d.start(transport);
    await vi.advanceTimersByTimeAsync(250);
    expect(writes).toHaveLength(2);
    d.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(writes).toHaveLength(2);
  });
});
