import { ProtocolError } from '../errors.js';
import { AsciiScaleParser } from './ascii.js';
import { MtSicsParser } from './mt-sics.js';
import type { ScaleParser, LineScaleParserOptions } from './scale-parser.js';
import { SCALE_PROTOCOLS, type ScaleProtocol } from './scale-frame.js';
import { ToledoContinuousParser, type ToledoOptions } from './toledo.js';
import { Xk3190Parser, type Xk3190Options } from './xk3190.js';

/** Options for {@link createScaleParser}; each parser reads the ones it knows. */
export type ScaleParserOptions = LineScaleParserOptions & ToledoOptions & Xk3190Options;

/** Is `name` one of the protocols {@link createScaleParser} knows? */
export function isScaleProtocol(name: string): name is ScaleProtocol {
  return (SCALE_PROTOCOLS as readonly string[]).includes(name);
}

/**
 * A fresh parser for `protocol`:
 * - `'mt-sics'`: Mettler Toledo MT-SICS replies ({@link MtSicsParser});
 * - `'toledo'`: Toledo continuous output ({@link ToledoContinuousParser}; option `checksum`);
 * - `'ascii'`: A&D, CAS 22-byte, Ohaus, generic `ST,GS,...`, XK3190-A12 lines ({@link AsciiScaleParser});
 * - `'xk3190'`: Yaohua XK3190 STX frames and the '=' reversed stream ({@link Xk3190Parser}; option `unit`).
 *
 * Throws SG_ERR_PROTO_UNKNOWN for any other name.
 */
export function createScaleParser(protocol: ScaleProtocol | string, opts: ScaleParserOptions = {}): ScaleParser {
  switch (protocol) {
    case 'mt-sics':
      return new MtSicsParser(opts);
    case 'toledo':
      return new ToledoContinuousParser(opts);
    case 'ascii':
      return new AsciiScaleParser(opts);
    case 'xk3190':
      return new Xk3190Parser(opts);
    default:
      throw new ProtocolError('SG_ERR_PROTO_UNKNOWN', `unknown scale protocol '${protocol}'; expected one of ${SCALE_PROTOCOLS.join(', ')}`);
  }
}
