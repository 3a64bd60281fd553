/**
 * MT-SICS commands as bytes, for drivers to write to the port. [MT-SICS 2.1.1]: commands are
 * upper case, parameters are separated by one space, "text" parameters are quoted, and every
 * command ends CR LF.
 */
import { ProtocolError } from '../errors.js';

/** A command parameter: a number, a raw token (e.g. a unit `g`), or `{ text }` sent quoted. */
export type MtSicsParam = number | string | { text: string };

/**
 * Build any MT-SICS command: `name [param ...] CR LF`.
 * Throws SG_ERR_PROTO_ARGUMENT for a malformed name or a parameter that would break the line.
 */
export function mtSicsCommand(name: string, ...params: MtSicsParam[]): Uint8Array {
  if (!/^(@|[A-Z][A-Z0-9]*)$/.test(name)) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `MT-SICS command name must be '@' or upper-case letters/digits, got '${name}'`);
  }
  const parts = [name];
  params.forEach((p, i) => {
    if (typeof p === 'number') {
      if (!Number.isFinite(p)) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `parameter ${i + 1} of ${name} must be a finite number`);
      parts.push(String(p));
    } else if (typeof p === 'string') {
      if (!/^[\x21-\x7e]+$/.test(p) || p.includes('"')) {
        throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `parameter ${i + 1} of ${name} must be one printable token without quotes; use { text } for text`);
      }
      parts.push(p);
    } else {
      if (/["\r\n]/.test(p.text) || /[^\x20-\xff]/.test(p.text)) {
        throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `text parameter ${i + 1} of ${name} may not contain quotes, CR, LF or non-latin1 characters`);
      }
      parts.push(`"${p.text}"`);
    }
  });
  return Uint8Array.from(Buffer.from(`${parts.join(' ')}\r\n`, 'latin1'));
}

/** The MT-SICS level 0/1 commands an edge driver needs, by what they do. */
export const mtSics = {
  /** `S`: send the next stable weight (reply `S S ...`, or `S I` on stability timeout). */
  stableWeight: (): Uint8Array => mtSicsCommand('S'),
  /** `SI`: send the current weight immediately, stable or not (`S S` / `S D`). */
  weightImmediately: (): Uint8Array => mtSicsCommand('SI'),
  /** `SIR`: send the weight immediately and repeat until another command (or `@`). */
  weightRepeat: (): Uint8Array => mtSicsCommand('SIR'),
  /** `Z`: zero when stable (`Z A`, `Z I`, `Z +`, `Z -`). */
  zero: (): Uint8Array => mtSicsCommand('Z'),
  /** `ZI`: zero immediately (`ZI S` / `ZI D` tells under which condition). */
  zeroImmediately: (): Uint8Array => mtSicsCommand('ZI'),
  /** `T`: tare when stable (`T S <tare> <unit>`). */
  tare: (): Uint8Array => mtSicsCommand('T'),
  /** `TI`: tare immediately (`TI S|D <tare> <unit>`). */
  tareImmediately: (): Uint8Array => mtSicsCommand('TI'),
  /** `TA`: query the tare (no value) or preset it (`TA 100.00 g`). */
  presetTare: (value?: number, unit?: string): Uint8Array =>
    value === undefined ? mtSicsCommand('TA') : mtSicsCommand('TA', value, unit ?? 'kg'),
  /** `TAC`: clear the tare (`TAC A`). */
  clearTare: (): Uint8Array => mtSicsCommand('TAC'),
  /** `@`: cancel everything, like power-on; the reply is `I4 A "<serial number>"`. */
  reset: (): Uint8Array => mtSicsCommand('@'),
  /** `I0`: list the implemented commands (`I0 B ...` lines, then `I0 A`). */
  listCommands: (): Uint8Array => mtSicsCommand('I0'),
  /** `I1`: MT-SICS level and versions. */
  level: (): Uint8Array => mtSicsCommand('I1'),
  /** `I2`: balance data (type, capacity). */
  balanceData: (): Uint8Array => mtSicsCommand('I2'),
  /** `I3`: software version. */
  softwareVersion: (): Uint8Array => mtSicsCommand('I3'),
  /** `I4`: serial number (`I4 A "<SN>"`). */
  serialNumber: (): Uint8Array => mtSicsCommand('I4'),
} as const;
