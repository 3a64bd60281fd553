import type { Command } from 'commander';
import { type RfidDirection, type RfidProtocol, RFID_PROTOCOLS } from '../../protocols/rfid/rfid-frame.js';
import { createRfidParser } from '../../protocols/rfid/rfid-parser.js';
import { failFromError, failJson, parseHexArg, printJson } from '../output.js';

interface DecodeRfidOptions {
  protocol?: string;
  hex?: string;
  direction?: string;
}

/**
 * `stockgate decode rfid --protocol uhfreader18|m100|r2000 --hex <bytes>`: a captured reader stream
 * to a JSON array of frames on stdout. Frames failing their CRC / checksum are left out and counted:
 * `{"dropped":N}` always goes to stderr, 0 included, so scripts can rely on it. A missing or unknown
 * protocol, or bad hex, exits 2 with `{"error":{"code","message"}}` on stderr.
 */
export function registerDecodeRfid(parent: Command): void {
  parent
    .command('rfid')
    .description('decode UHF RFID reader bytes (Chafon UHFReader18, M100, R2000) to JSON frames; dropped frame count on stderr')
    .option('--protocol <name>', `reader protocol: ${RFID_PROTOCOLS.join(' | ')}`)
    .option('--hex <data>', 'captured bytes as hex (spaces, colons, 0x allowed)')
    .option('--direction <side>', 'reader: replies from the reader; host: commands sent to it', 'reader')
    .action((opts: DecodeRfidOptions) => {
      try {
        if (!opts.protocol) failJson('SG_ERR_ARGUMENT', `--protocol is required (${RFID_PROTOCOLS.join(', ')})`);
        if (!RFID_PROTOCOLS.includes(opts.protocol as RfidProtocol)) {
          failJson('SG_ERR_PROTO_UNKNOWN', `--protocol: '${opts.protocol}' is not one of ${RFID_PROTOCOLS.join(', ')}`);
        }
        if (opts.direction !== 'reader' && opts.direction !== 'host') {
          failJson('SG_ERR_ARGUMENT', `--direction: '${opts.direction}' is not reader or host`);
        }
        if (opts.hex === undefined) failJson('SG_ERR_ARGUMENT', '--hex is required');
        const bytes = parseHexArg(opts.hex);
        const parser = createRfidParser(opts.protocol as RfidProtocol, { direction: opts.direction as RfidDirection });
        // The capture is complete: flush() gives up on any truncated frame at its end.
        const frames = [...parser.push(bytes), ...parser.flush()];
        printJson(frames);
        process.stderr.write(`${JSON.stringify({ dropped: parser.stats.droppedFrames })}\n`);
      } catch (err) {
        failFromError(err);
      }
    });
}
