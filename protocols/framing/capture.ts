/**
 * Hex capture files: the text format of recorded device bytes, used by test fixtures
 * (`tests/fixtures/captures/`) and by `stockgate devices record` / replay.
 *
 * Format: hex byte pairs separated by any whitespace; `#` starts a comment running to the end of
 * the line. Example:
 *
 *     # MT-SICS "S S     100.00 g" [MT-SICS 2.3]
 *     53 20 53 20 20 20 20 20 31 30 30 2E 30 30 20 67 0D 0A
 */
import { ProtocolError } from '../errors.js';

/** Parse a hex capture; throws a coded error naming the line and column of the first bad character. */
export function parseHexCapture(text: string): Uint8Array {
  const out: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln]!.replace(/#.*$/, '');
    const re = /\S+/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(line))) {
      const tok = m[0];
      if (tok.length % 2 !== 0 || /[^0-9a-fA-F]/.test(tok)) {
        throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `capture line ${ln + 1} column ${m.index + 1}: '${tok}' is not hex bytes`);
      }
      for (let i = 0; i < tok.length; i += 2) out.push(parseInt(tok.slice(i, i + 2), 16));
    }
  }
  return Uint8Array.from(out);
}

/** Format bytes as a capture: 16 bytes a line, upper-case hex, optional leading comment. */
export function formatHexCapture(bytes: Uint8Array, comment?: string): string {
  const lines: string[] = [];
  if (comment) for (const c of comment.split('\n')) lines.push(`# ${c}`);
  for (let i = 0; i < bytes.length; i += 16) {
    lines.push(Array.from(bytes.subarray(i, i + 16), (b) => b.toString(16).toUpperCase().padStart(2, '0')).join(' '));
  }
  return `${lines.join('\n')}\n`;
}
