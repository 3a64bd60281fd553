import { describe, expect, it } from 'vitest';
import { createScaleParser, isScaleProtocol } from '../../../protocols/scale/create-scale-parser.js';
import { SCALE_PROTOCOLS } from '../../../protocols/scale/scale-frame.js';
import { MtSicsParser } from '../../../protocols/scale/mt-sics.js';
import { ToledoContinuousParser } from '../../../protocols/scale/toledo.js';
import { AsciiScaleParser } from '../../../protocols/scale/ascii.js';
import { Xk3190Parser } from '../../../protocols/scale/xk3190.js';
import { ProtocolError } from '../../../protocols/errors.js';
import * as scale from '../../../protocols/scale/index.js';

describe('createScaleParser', () => {
  it('maps each protocol name to its parser and passes options on', () => {
    expect(createScaleParser('mt-sics')).toBeInstanceOf(MtSicsParser);
    expect(createScaleParser('toledo')).toBeInstanceOf(ToledoContinuousParser);
    expect(createScaleParser('ascii')).toBeInstanceOf(AsciiScaleParser);
    expect(createScaleParser('xk3190')).toBeInstanceOf(Xk3190Parser);
    const xk = createScaleParser('xk3190', { unit: 't' });
    expect(xk.push(Uint8Array.from(Buffer.from('=000.3000', 'latin1')))).toEqual([{ kind: 'weight', weight: 3, unit: 't', weightKg: 3000 }]);
    expect(SCALE_PROTOCOLS.every(isScaleProtocol)).toBe(true);
    expect(isScaleProtocol('keli')).toBe(false);
  });

  it('throws SG_ERR_PROTO_UNKNOWN for another name', () => {
    expect(() => createScaleParser('keli')).toThrow(ProtocolError);
    try {
      createScaleParser('keli');
    } catch (e) {
      expect((e as ProtocolError).code).toBe('SG_ERR_PROTO_UNKNOWN');
      expect((e as Error).message).toMatch(/keli/);
    }
  });

  it('the index re-exports the public API', () => {
    expect(typeof scale.createScaleParser).toBe('function');
    expect(typeof scale.encodeToledo).toBe('function');
    expect(typeof scale.countByWeight).toBe('function');
    expect(typeof scale.StabilityDetector).toBe('function');
    expect(typeof scale.mtSics.stableWeight).toBe('function');
  });
});
