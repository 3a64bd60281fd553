import type { Command } from 'commander';
import { createScaleParser, isScaleProtocol } from '../../protocols/scale/create-scale-parser.js';
import { SCALE_PROTOCOLS, type ScaleFrame } from '../../protocols/scale/scale-frame.js';
import { failFromError, parseHexArg, printJson } from '../output.js';

/** Options of `stockgate decode scale`. */
export interface DecodeScaleOptions {
  /** mt-sics | toledo | ascii | xk3190. */
  protocol?: string;
  /** `<data>` is hex bytes rather than text. */
  hex?: boolean;
  /** Toledo: checksum byte after CR: auto | true | false (default auto). */
  checksum?: string;
  /** XK3190: unit to report (the formats carry none; default kg). */
  unit?: string;
}

/** What {@link decodeScale} returns: the frames and what the parser dropped. */
export interface DecodeScaleResult {
  frames: ScaleFrame[];
  droppedBytes: number;
  droppedFrames: number;
}

/** Protocols whose frames are CR LF lines: text input without a terminator gets one. */
const LINE_PROTOCOLS = new Set(['mt-sics', 'ascii']);

const argError = (message: string, code = 'SG_ERR_ARGUMENT'): Error => Object.assign(new Error(message), { code });

/**
 * Turn shell text into bytes: `\r`, `\n`, `\t`, `\\` and `\xNN` are interpreted; characters up to
 * U+00FF become one byte each (latin1, so `\xE4` and a typed `ä` are both 0xE4), anything above is
 * UTF-8. Any other backslash stays as typed.
 */
export function unescapeText(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      const n = text[i + 1]!;
      const simple: Record<string, number> = { r: 0x0d, n: 0x0a, t: 0x09, '\\': 0x5c };
      if (n in simple) {
        out.push(simple[n]!);
        i++;
        continue;
      }
      const hex = /^x([0-9a-fA-F]{2})/.exec(text.slice(i + 1, i + 4));
      if (hex) {
        out.push(parseInt(hex[1]!, 16));
        i += 3;
        continue;
      }
    }
    const code = text.codePointAt(i)!;
    if (code <= 0xff) out.push(code);
    else {
      out.push(...Buffer.from(String.fromCodePoint(code), 'utf8'));
      if (code > 0xffff) i++;
    }
  }
  return Uint8Array.from(out);
}

/**
 * The command's logic without process I/O: decode `data` with the protocol's parser, as one
 * complete capture (`end()` settles whatever the last bytes left open). Throws coded errors.
 */
export function decodeScale(data: string | undefined, opts: DecodeScaleOptions = {}): DecodeScaleResult {
  if (!opts.protocol) throw argError(`--protocol is required (${SCALE_PROTOCOLS.join(', ')})`);
  if (!isScaleProtocol(opts.protocol)) {
    throw argError(`--protocol: '${opts.protocol}' is not one of ${SCALE_PROTOCOLS.join(', ')}`, 'SG_ERR_PROTO_UNKNOWN');
  }
  if (data === undefined) throw argError('<data> is required: the bytes as text, or as hex with --hex');
  let checksum: 'auto' | boolean | undefined;
  if (opts.checksum !== undefined) {
    const map: Record<string, 'auto' | boolean> = { auto: 'auto', true: true, false: false };
    if (!(opts.checksum in map)) throw argError(`--checksum: '${opts.checksum}' is not auto, true or false`);
    checksum = map[opts.checksum];
  }
  let bytes: Uint8Array;
  if (opts.hex) bytes = parseHexArg(data);
  else {
    bytes = unescapeText(data);
    const last = bytes[bytes.length - 1];
    if (LINE_PROTOCOLS.has(opts.protocol) && last !== 0x0d && last !== 0x0a) bytes = Uint8Array.from([...bytes, 0x0d, 0x0a]);
  }
  const parser = createScaleParser(opts.protocol, {
    ...(checksum !== undefined ? { checksum } : {}),
    ...(opts.unit !== undefined ? { unit: opts.unit } : {}),
  });
  const frames = [...parser.push(bytes), ...parser.end()];
  return { frames, droppedBytes: parser.stats.droppedBytes, droppedFrames: parser.stats.droppedFrames };
}

/** `stockgate decode scale --protocol <p> [--hex] <data>`. */
export function registerDecodeScale(parent: Command): void {
  parent
    .command('scale')
    .description(
      'decode scale output (MT-SICS, Toledo continuous, A&D/CAS/Ohaus ASCII, Yaohua XK3190) to a JSON array of frames; ' +
        'text may use \\r \\n \\xNN, and line protocols get CR LF appended when missing; ' +
        'dropped bytes/frames are reported on stderr as {"dropped":N,"droppedBytes":B} when non-zero',
    )
    .argument('[data]', 'the bytes as text (escapes allowed), or as hex with --hex')
    .option('--protocol <name>', `scale protocol: ${SCALE_PROTOCOLS.join(' | ')}`)
    .option('--hex', '<data> is hex bytes (spaces, colons, 0x allowed)')
    .option('--checksum <mode>', 'toledo: checksum byte after CR: auto | true | false', undefined)
    .option('--unit <unit>', 'xk3190: unit of the weights (the formats carry none)', undefined)
    .action((data: string | undefined, opts: DecodeScaleOptions) => {
      try {
        const result = decodeScale(data, opts);
        printJson(result.frames);
        if (result.droppedFrames > 0 || result.droppedBytes > 0) {
          process.stderr.write(`${JSON.stringify({ dropped: result.droppedFrames, droppedBytes: result.droppedBytes })}\n`);
        }
      } catch (err) {
        failFromError(err);
      }
    });
}
