import { ProtocolError } from '../errors.js';
import type { FrameParser } from '../framing/parser.js';
import { createM100Parser } from './m100.js';
import { createR2000Parser } from './r2000.js';
import { type RfidDirection, type RfidFrame, type RfidProtocol, RFID_PROTOCOLS } from './rfid-frame.js';
import { createUhfReader18Parser } from './uhfreader18.js';

/** A reader-stream parser; `flush()` gives up on incomplete candidates when the line goes idle. */
export interface RfidParser extends FrameParser<RfidFrame> {
  /**
   * The stream ended or went idle (e.g. after an inter-byte timeout): abandon incomplete frames,
   * return any frame found behind them, keep nothing buffered.
   */
  flush(): RfidFrame[];
}

export interface RfidParserOptions {
  /** `reader` (default): decode reader output; `host`: decode commands sent to the reader. */
  direction?: RfidDirection;
}

/**
 * Parser for one reader protocol. Throws `SG_ERR_PROTO_UNKNOWN` for a protocol name not in
 * {@link RFID_PROTOCOLS} (a caller mistake, e.g. a bad `--protocol` flag; never device data).
 */
export function createRfidParser(protocol: RfidProtocol, opts: RfidParserOptions = {}): RfidParser {
  switch (protocol) {
    case 'uhfreader18':
      return createUhfReader18Parser(opts);
    case 'm100':
      return createM100Parser();
    case 'r2000':
      return createR2000Parser(opts);
    default:
      throw new ProtocolError('SG_ERR_PROTO_UNKNOWN', `protocol: '${String(protocol)}' is not one of ${RFID_PROTOCOLS.join(', ')}`);
  }
}
