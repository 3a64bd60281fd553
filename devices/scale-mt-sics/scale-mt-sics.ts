import { parseMtSicsLine } from '../../protocols/scale/mt-sics.js';
import { mtSics } from '../../protocols/scale/mt-sics-commands.js';
import type { ScaleStatus } from '../../protocols/scale/scale-frame.js';
import type { DeviceProfile, Reading } from '../driver.js';
import { LineDriver } from '../driver-kit.js';
import { resolveParams } from '../params.js';
import { scaleReading } from '../scale-readings.js';

export const scaleMtSicsProfile: DeviceProfile = {
  driver: 'scale-mt-sics',
  description: 'Mettler Toledo MT-SICS balance / weigh module / terminal: polled with SI (or SIR stream), tare T, zero Z',
  reads: 'weight',
  emits: ['weight', 'status'],
  units: { weight: 'kg' },
  transports: ['serial', 'tcp', 'memory'],
  line: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1 },
  params: {
    mode: { type: 'enum', values: ['poll', 'sir'], default: 'poll', description: 'poll = send SI every intervalMs; sir = one SIR, the scale repeats the weight by itself' },
    intervalMs: { type: 'int', min: 20, max: 60_000, default: 200, description: 'poll interval in ms (mode=poll)' },
    replyTimeoutMs: { type: 'int', min: 50, max: 60_000, default: 1000, description: 'an SI/SIR/TA unanswered this long is given up and re-sent' },
    commandTimeoutMs: { type: 'int', min: 500, max: 600_000, default: 10_000, description: 'tare()/zero() reject after this long without a reply' },
  },
  source: 'MT-SICS Reference Manual for Weigh Modules (11781363) §2.1 formats, command pages S, SI, SIR, T, TA, Z; device-protocols.md §1',
};

type Cmd = 'SI' | 'SIR' | 'T' | 'Z' | 'TA';

interface Outstanding {
  cmd: Cmd;
  sentAt: number;
  resolve?: (v: number | undefined) => void;
  reject?: (err: Error) => void;
}

/** Why a tare or zero failed: the scale's own answer (`T I`, `Z +`, `ES`, ...) or a time-out. */
export class ScaleCommandError extends Error {
  constructor(
    readonly code: 'SG_ERR_SCALE_COMMAND' | 'SG_ERR_DEVICE_TIMEOUT' | 'SG_ERR_DEVICE_NOT_CONNECTED',
    message: string,
    /** The scale's status, when it answered one. */
    readonly status?: ScaleStatus,
  ) {
    super(message);
    this.name = 'ScaleCommandError';
  }
}

/**
 * Driver `scale-mt-sics`. MT-SICS is strictly request/response, so the driver keeps the commands
 * it sent in order and pairs each reply with the oldest command it can answer (a weight answers
 * SI/SIR, `T S` answers T, `Z A` answers Z; a general error `ES`/`ET`/`EL` the oldest of all).
 *
 * - Weights: `S S` = stable, `S D` = dynamic. MT-SICS weights are net of the active tare, so the
 *   driver learns the tare (TA query on connect, then every T reply; Z clears it, per the Z page:
 *   "tare weight = 0" after zeroing) and sets `net`/`tareKg`; while unknown they are left out.
 * - Status readings: `S +` overload, `S -` underload, `S I`, and the general errors (`ET` = parity
 *   or baud wrong on the line).
 * - `tare()`/`zero()` send T/Z and resolve on the reply; polling pauses until then. In SIR mode the
 *   command ends the stream, so SIR is sent again afterwards.
 */
export class ScaleMtSicsDriver extends LineDriver {
  readonly profile = scaleMtSicsProfile;
  readonly mode: 'poll' | 'sir';
  private readonly intervalMs: number;
  private readonly replyTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private queue: Outstanding[] = [];
  private lastRx = 0;
  /** Current tare in kg when known (0 = none). */
  tareKg: number | undefined;

  constructor(params: Record<string, string> = {}) {
    super();
    const p = resolveParams(scaleMtSicsProfile, params);
    this.mode = p.mode as 'poll' | 'sir';
    this.intervalMs = p.intervalMs as number;
    this.replyTimeoutMs = p.replyTimeoutMs as number;
    this.commandTimeoutMs = p.commandTimeoutMs as number;
  }

  protected override async onStart(): Promise<void> {
    this.tareKg = undefined;
    this.lastRx = Date.now();
    await this.send('TA', mtSics.presetTare());
    if (this.mode === 'sir') await this.send('SIR', mtSics.weightRepeat());
    this.poller.every(this.mode === 'poll' ? this.intervalMs : Math.min(this.intervalMs, this.replyTimeoutMs), () => this.tick());
  }

  protected override onStop(): void {
    this.failAll(new ScaleCommandError('SG_ERR_DEVICE_NOT_CONNECTED', 'scale disconnected before it answered'));
  }

  /** Tare when stable (`T`); resolves with the tare in kg (undefined if its unit is not a mass). */
  tare(): Promise<number | undefined> {
    return this.command('T', mtSics.tare());
  }

  /** Zero when stable (`Z`); clears the tare. */
  async zero(): Promise<void> {
    await this.command('Z', mtSics.zero());
  }

  protected override onReset(): void {
    this.failAll(new ScaleCommandError('SG_ERR_DEVICE_NOT_CONNECTED', 'scale link reset before it answered'));
  }

  private command(cmd: 'T' | 'Z', bytes: Uint8Array): Promise<number | undefined> {
    const t = this.transport;
    if (!t) return Promise.reject(new ScaleCommandError('SG_ERR_DEVICE_NOT_CONNECTED', `scale not connected: cannot send ${cmd}`));
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, sentAt: Date.now(), resolve, reject });
      t.write(bytes).catch((err: Error) => this.settle(cmd, (o) => o.reject?.(err)));
    });
  }

  private async send(cmd: Cmd, bytes: Uint8Array): Promise<void> {
    const t = this.transport;
    if (!t) return;
    this.queue.push({ cmd, sentAt: Date.now() });
    await t.write(bytes);
  }

  private tick(): void {
    const now = Date.now();
    for (const o of [...this.queue]) {
      const limit = o.cmd === 'T' || o.cmd === 'Z' ? this.commandTimeoutMs : this.replyTimeoutMs;
      if (now - o.sentAt < limit) continue;
      this.queue.splice(this.queue.indexOf(o), 1);
      o.reject?.(new ScaleCommandError('SG_ERR_DEVICE_TIMEOUT', `scale did not answer ${o.cmd} within ${limit} ms`));
      if (o.cmd === 'T' || o.cmd === 'Z') this.afterCommand();
    }
    if (this.queue.length > 0) return;
    if (this.mode === 'poll') void this.send('SI', mtSics.weightImmediately()).catch(() => undefined);
    else if (now - this.lastRx >= this.replyTimeoutMs) void this.send('SIR', mtSics.weightRepeat()).catch(() => undefined);
  }

  private afterCommand(): void {
    if (this.mode === 'sir' && this.transport) void this.send('SIR', mtSics.weightRepeat()).catch(() => undefined);
  }

  /** Remove and return the oldest outstanding command among `cmds` (any when empty). */
  private settle(cmds: Cmd | Cmd[] | undefined, then?: (o: Outstanding) => void): Outstanding | undefined {
    const want = cmds === undefined ? undefined : Array.isArray(cmds) ? cmds : [cmds];
    const i = this.queue.findIndex((o) => !want || want.includes(o.cmd));
    if (i < 0) return undefined;
    const [o] = this.queue.splice(i, 1);
    then?.(o!);
    return o;
  }

  private failAll(err: Error): void {
    const q = this.queue;
    this.queue = [];
    for (const o of q) o.reject?.(err);
  }

  protected line(line: string, at: number, out: Reading[]): void {
    const frame = parseMtSicsLine(line);
    if (!frame) {
      this.rejected++;
      return;
    }
    this.frames++;
    this.lastRx = at;
    switch (frame.kind) {
      case 'weight':
      case 'count': {
        this.settle(['SI', 'SIR']);
        const r = scaleReading(frame, line, at, { tareKg: this.tareKg });
        if (r) out.push(r);
        else this.rejected++; // a count (piece-counting mode) or a unit we cannot convert
        return;
      }
      case 'tare': {
        const o = this.settle(['T', 'TA']);
        this.tareKg = frame.tareKg;
        if (o?.cmd === 'T') {
          o.resolve?.(frame.tareKg);
          this.afterCommand();
        }
        return;
      }
      case 'ack': {
        if (frame.command === 'Z' || frame.command === 'TAC' || frame.command === 'ZI') this.tareKg = 0;
        const o = frame.command === 'Z' ? this.settle('Z') : undefined;
        if (o) {
          o.resolve?.(undefined);
          this.afterCommand();
        }
        return;
      }
      case 'status': {
        const cmds: Cmd[] | undefined =
          frame.command === undefined ? undefined : frame.command === 'S' ? ['SI', 'SIR'] : frame.command === 'T' || frame.command === 'Z' || frame.command === 'TA' ? [frame.command] : [];
        const o = cmds && cmds.length === 0 ? undefined : this.settle(cmds);
        if (o?.cmd === 'TA') return; // TA not supported by this device: the tare stays unknown
        if (o && (o.cmd === 'T' || o.cmd === 'Z')) {
          o.reject?.(new ScaleCommandError('SG_ERR_SCALE_COMMAND', `scale answered ${o.cmd} with '${line.trim()}' (${frame.status})`, frame.status));
          this.afterCommand();
        }
        const r = scaleReading(frame, line, at);
        if (r) out.push(r);
        return;
      }
      default:
        return; // info (I4 serial number) and other replies are not readings
    }
  }
}
