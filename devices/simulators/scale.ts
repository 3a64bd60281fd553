import { LineFramer } from '../../protocols/framing/line.js';
import { tokenizeMtSics } from '../../protocols/scale/mt-sics.js';
import { encodeAscii, encodeMtSics, encodeToledo, encodeXk3190, type AsciiFormat } from '../../protocols/scale/encode.js';
import type { ScaleFrame } from '../../protocols/scale/scale-frame.js';
import { fromKg, parseDecimal, toKg } from '../../protocols/scale/units.js';
import type { Transport } from '../transport.js';
import { LoadModel, type LoadSample } from './load.js';

export interface MtSicsSimOptions {
  load?: LoadModel;
  /** Unit the balance shows. Default kg. */
  unit?: 'kg' | 'g';
  /** Repeat interval of SIR, ms. Default 100. */
  sirRateMs?: number;
  /** S, T and Z wait this long for stability, then answer `I`. Default 3000 ms. */
  stableTimeoutMs?: number;
  /** Serial number in the reply to `@` and `I4`. */
  serialNumber?: string;
}

/**
 * An MT-SICS balance on the far end of a link [MT-SICS reference manual, command pages]: S (waits
 * for stability, else `S I`), SI, SIR (repeats until the next command), Z / ZI, T / TI, TA (query
 * or preset), TAC, @ and I4; anything else is `ES`. Commands are served one at a time, in order,
 * as a real balance does. The load comes from a {@link LoadModel}.
 */
export class MtSicsScaleSimulator {
  readonly load: LoadModel;
  /** Commands received, in order (for tests and the CLI's log). */
  readonly received: string[] = [];
  private readonly framer = new LineFramer({ maxLength: 256 });
  private readonly o: Required<Omit<MtSicsSimOptions, 'load'>>;
  private chain: Promise<void> = Promise.resolve();
  private sir: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly link: Transport,
    opts: MtSicsSimOptions = {},
  ) {
    this.load = opts.load ?? new LoadModel();
    this.o = { unit: 'kg', sirRateMs: 100, stableTimeoutMs: 3000, serialNumber: '0123456789', ...opts };
    link.onData((bytes) => {
      for (const line of this.framer.push(bytes)) {
        if (line.trim() === '') continue;
        this.received.push(line);
        this.chain = this.chain.then(() => this.handle(line)).catch(() => undefined);
      }
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sir);
  }

  private get decimals(): number {
    return this.load.decimals - (this.o.unit === 'g' ? 3 : 0);
  }

  private inUnit(kg: number): number {
    return fromKg(kg, this.o.unit, Math.max(0, this.decimals))!;
  }

  private send(frame: ScaleFrame): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.link.write(encodeMtSics(frame, { decimals: Math.max(0, this.decimals) })).catch(() => undefined);
  }

  private weightFrame(s: LoadSample): ScaleFrame {
    if (s.status) return { kind: 'status', status: s.status, command: 'S' };
    return { kind: 'weight', weight: this.inUnit(s.netKg), unit: this.o.unit, stable: s.stable };
  }

  /** Wait until the load is stable (true) or the stability time-out passes (false). */
  private async whenStable(): Promise<boolean> {
    const deadline = Date.now() + this.o.stableTimeoutMs;
    for (;;) {
      const at = this.load.stableAt();
      if (Date.now() >= at) return true;
      if (at > deadline) {
        await sleep(Math.max(0, deadline - Date.now()));
        return Date.now() >= this.load.stableAt();
      }
      await sleep(at - Date.now());
    }
  }

  private async handle(line: string): Promise<void> {
    const tokens = tokenizeMtSics(line) ?? [];
    const [cmd, ...args] = tokens;
    if (cmd !== undefined) {
      clearInterval(this.sir); // [MT-SICS SIR] any command ends the repetition
      this.sir = undefined;
    }
    switch (cmd) {
      case 'S':
        if (!(await this.whenStable())) return this.send({ kind: 'status', status: 'not-executable', command: 'S' });
        return this.send(this.weightFrame(this.load.sample()));
      case 'SI':
        return this.send(this.weightFrame(this.load.sample()));
      case 'SIR':
        await this.send(this.weightFrame(this.load.sample()));
        this.sir = setInterval(() => void this.send(this.weightFrame(this.load.sample())), this.o.sirRateMs);
        return;
      case 'Z': {
        if (!(await this.whenStable())) return this.send({ kind: 'status', status: 'not-executable', command: 'Z' });
        const r = this.load.zero();
        return this.send(r === 'A' ? { kind: 'ack', command: 'Z' } : { kind: 'status', status: r === '+' ? 'overload' : 'underload', command: 'Z' });
      }
      case 'ZI': {
        const stable = this.load.sample().stable;
        const r = this.load.zero();
        return this.send(r === 'A' ? { kind: 'ack', command: 'ZI', stable } : { kind: 'status', status: r === '+' ? 'overload' : 'underload', command: 'ZI' });
      }
      case 'T':
      case 'TI': {
        if (cmd === 'T' && !(await this.whenStable())) return this.send({ kind: 'status', status: 'not-executable', command: 'T' });
        const stable = this.load.sample().stable;
        const r = this.load.tare();
        if (typeof r !== 'number') return this.send({ kind: 'status', status: r === '+' ? 'overload' : 'underload', command: cmd });
        const value = this.inUnit(r);
        if (cmd === 'T') return this.send({ kind: 'tare', tare: value, unit: this.o.unit, stable: true });
        return this.send({ kind: 'reply', command: 'TI', status: stable ? 'S' : 'D', values: [value.toFixed(Math.max(0, this.decimals)), this.o.unit] });
      }
      case 'TA': {
        if (args.length === 2) {
          const n = parseDecimal(args[0]!);
          const kg = n && toKg(n.value, args[1]!, n.decimals);
          if (kg === undefined || kg === null) return this.send({ kind: 'status', status: 'logic-error', command: 'TA' });
          this.load.tareKg = kg;
        } else if (args.length !== 0) return this.send({ kind: 'status', status: 'logic-error', command: 'TA' });
        return this.send({ kind: 'tare', tare: this.inUnit(this.load.tareKg), unit: this.o.unit, preset: true });
      }
      case 'TAC':
        this.load.tareKg = 0;
        return this.send({ kind: 'ack', command: 'TAC' });
      case '@':
      case 'I4':
        return this.send({ kind: 'info', command: 'I4', values: [this.o.serialNumber] });
      default:
        return this.send({ kind: 'status', status: 'syntax-error' });
    }
  }
}

export type ContinuousProtocol = 'toledo' | 'ascii' | 'xk3190';
export type ContinuousVariant = AsciiFormat | 'stx' | 'reversed';

export interface ContinuousSimOptions {
  protocol: ContinuousProtocol;
  /** ascii: and | generic | cas | ohaus | yaohua-w | a12e (default and); xk3190: stx | reversed (default stx). */
  variant?: ContinuousVariant;
  load?: LoadModel;
  /** One frame every this many ms. Default 100. */
  rateMs?: number;
  /** Toledo: send the checksum byte. Default true. */
  checksum?: boolean;
}

/**
 * An indicator that streams its display continuously (Toledo continuous, A&D/CAS/Ohaus-style
 * ASCII lines, XK3190 frames) at a fixed rate, from a {@link LoadModel}. Formats without a status
 * (Ohaus, the Yaohua w line, XK3190) skip frames while over- or underloaded, as their displays
 * show no number then.
 */
export class ContinuousScaleSimulator {
  readonly load: LoadModel;
  /** Frames written so far. */
  sent = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly o: Required<Omit<ContinuousSimOptions, 'load'>>;

  constructor(
    private readonly link: Transport,
    opts: ContinuousSimOptions,
  ) {
    this.load = opts.load ?? new LoadModel();
    const variant = opts.variant ?? (opts.protocol === 'ascii' ? 'and' : 'stx');
    this.o = { rateMs: 100, checksum: true, ...opts, variant };
    const ok = opts.protocol === 'ascii' ? !['stx', 'reversed'].includes(variant) : opts.protocol === 'xk3190' ? ['stx', 'reversed'].includes(variant) : opts.variant === undefined || opts.variant === 'stx';
    if (!ok) throw Object.assign(new Error(`variant '${variant}' does not belong to protocol ${opts.protocol}`), { code: 'SG_ERR_CONFIG' });
  }

  start(): void {
    this.stop();
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.rateMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The bytes for one sample, or undefined when the format cannot show it. */
  frame(s: LoadSample): Uint8Array | undefined {
    const decimals = this.load.decimals;
    const { protocol, variant } = this.o;
    if (s.status) {
      if (protocol === 'toledo') return encodeToledo({ kind: 'status', status: s.status }, { checksum: this.o.checksum });
      if (protocol === 'ascii' && ['and', 'generic', 'cas', 'a12e'].includes(variant)) return encodeAscii({ kind: 'status', status: s.status }, variant as AsciiFormat);
      return undefined;
    }
    const net = s.tareKg !== 0;
    const weight = net ? s.netKg : s.grossKg;
    if (protocol === 'toledo') {
      return encodeToledo({ kind: 'weight', weight, unit: 'kg', stable: s.stable, net, tare: s.tareKg }, { decimals, checksum: this.o.checksum });
    }
    if (protocol === 'ascii') return encodeAscii({ kind: 'weight', weight, unit: 'kg', stable: s.stable, net }, variant as AsciiFormat, { decimals });
    return encodeXk3190({ kind: 'weight', weight, unit: 'kg' }, variant as 'stx' | 'reversed', { decimals });
  }

  private async tick(): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.frame(this.load.sample());
    } catch {
      return; // a value the format cannot carry (7 digits in a 6-digit field): the display would show no number either
    }
    if (!bytes) return;
    this.sent++;
    await this.link.write(bytes).catch(() => undefined);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
