import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { FrameParser } from '../../protocols/framing/parser.js';
import { parseHexCapture } from '../../protocols/framing/capture.js';

export const CAPTURES = join(import.meta.dirname, '..', 'fixtures', 'captures');

/** Load `tests/fixtures/captures/<rel>` (a .hex capture) as bytes. */
export function loadCapture(rel: string): Uint8Array {
  return parseHexCapture(readFileSync(join(CAPTURES, rel), 'utf8'));
}

/** Load the expected frames stored beside a capture (`<name>.json`). */
export function loadExpected<T = unknown>(rel: string): T {
  return JSON.parse(readFileSync(join(CAPTURES, rel.replace(/\.hex$/, '.json')), 'utf8')) as T;
}

/** Feed `bytes` to a fresh parser in the given chunks and collect every frame. */
export function feed<F>(make: () => FrameParser<F>, chunks: Uint8Array[]): F[] {
  const p = make();
  const out: F[] = [];
  for (const c of chunks) out.push(...p.push(c));
  return out;
}

/**
 * The split invariant of issue 3: the capture fed whole, byte by byte, and split in two at every
 * offset must give identical frames each time. Returns the frames of the whole-buffer feed.
 */
export function expectSplitInvariant<F>(make: () => FrameParser<F>, bytes: Uint8Array): F[] {
  const whole = feed(make, [bytes]);
  for (let cut = 0; cut <= bytes.length; cut++) {
    expect(feed(make, [bytes.subarray(0, cut), bytes.subarray(cut)]), `split at byte ${cut}`).toEqual(whole);
  }
  expect(feed(make, Array.from(bytes, (b) => Uint8Array.of(b))), 'byte by byte').toEqual(whole);
  return whole;
}
