import { createRfidParser, type RfidParser } from '../../protocols/rfid/rfid-parser.js';
import { encodeUhfReader18InventoryReply, encodeUhfReader18NoTag, UHFREADER18_CMD, UHFREADER18_STATUS } from '../../protocols/rfid/uhfreader18.js';
import { encodeM100Error, encodeM100Response, encodeM100TagNotice, M100_CMD } from '../../protocols/rfid/m100.js';
import { encodeSgtin96 } from '../../protocols/rfid/epc.js';
import type { Transport } from '../transport.js';
import { seededRandom } from './random.js';

/** A tag in the simulated field: its EPC and the RSSI (dBm) each antenna sees it with. */
export interface SimTag {
  epc: string;
  /** Antenna port (1-based) → RSSI in dBm. A tag an antenna does not see is absent here. */
  rssi: Record<number, number>;
}

export interface RfidSimOptions {
  protocol: 'uhfreader18' | 'm100';
  tags?: SimTag[];
  /** M100 multi-poll: one inventory round every this many ms. Default 50. */
  roundMs?: number;
  /** Notices per tag per round (M100), i.e. how often a tag is read repeatedly. Default 1. */
  repeats?: number;
  /** RSSI jitter, ± dB. Default 2. */
  jitterDb?: number;
  /** Reader address (Chafon). Default 0. */
  address?: number;
  seed?: number;
}

/**
 * SGTIN-96 tags for a simulated field: `count` serials of `gtin` (filter 1 = POS item), seen by
 * antenna 1 (and the even ones also by antenna 2, weaker), as a dock portal would.
 */
export function sgtinTags(count: number, gtin = '04012345678901', companyPrefixLength = 7, antennas: number[] = [1, 2]): SimTag[] {
  return Array.from({ length: count }, (_, i) => {
    const rssi: Record<number, number> = {};
    antennas.forEach((a, k) => {
      if (k === 0 || i % 2 === 0) rssi[a] = -48 - 3 * i - 12 * k;
    });
    return { epc: encodeSgtin96({ gtin, serial: 1001 + i, filter: 1, companyPrefixLength }), rssi };
  });
}

/** Chafon reports an RSSI byte without a documented unit; the simulator writes dBm + 128 into it. */
export const simulatedChafonRssiRaw = (dbm: number): number => Math.max(0, Math.min(255, Math.round(dbm + 128)));

/**
 * A UHF reader on the far end of a link. `uhfreader18` answers each inventory command (0x01) with
 * one reply per antenna that sees tags (UHFReader288 layout: antenna mask + RSSI byte; status 0x03
 * "more frames" except the last, 0x01) or 0xFB "no tag". `m100` answers single poll (0x22) with tag
 * notices or error 0x15, runs multi-poll (0x27) rounds every `roundMs` until the count is done or
 * stop (0x28) arrives, then falls silent, as the module does. The field can change at any time
 * (`setField`).
 */
export class RfidSimulator {
  /** Host commands received (command byte), for tests and logs. */
  readonly commands: number[] = [];
  /** Inventory rounds answered or run. */
  rounds = 0;
  private field: SimTag[];
  private readonly parser: RfidParser;
  private readonly rnd: () => number;
  private readonly o: Required<Omit<RfidSimOptions, 'tags'>>;
  private poll: { timer: NodeJS.Timeout; left: number } | undefined;
  private stopped = false;

  constructor(
    private readonly link: Transport,
    opts: RfidSimOptions,
  ) {
    this.o = { roundMs: 50, repeats: 1, jitterDb: 2, address: 0, seed: 7, ...opts };
    this.field = opts.tags ?? sgtinTags(3);
    this.rnd = seededRandom(this.o.seed);
    this.parser = createRfidParser(opts.protocol, { direction: 'host' });
    link.onData((bytes) => {
      for (const f of this.parser.push(bytes)) if (f.kind === 'command') this.onCommand(f.cmd, f.data);
    });
  }

  /** Replace the tags in the field. */
  setField(tags: SimTag[]): void {
    this.field = tags;
  }

  get tags(): readonly SimTag[] {
    return this.field;
  }

  /** True while an M100 multi-poll is running. */
  get polling(): boolean {
    return this.poll !== undefined;
  }

  stop(): void {
    this.stopped = true;
    this.endPoll();
  }

  private jitter(dbm: number): number {
    return Math.round(dbm + (this.rnd() * 2 - 1) * this.o.jitterDb);
  }

  private write(bytes: Uint8Array[]): void {
    if (this.stopped || bytes.length === 0) return;
    void this.link.write(Uint8Array.from(bytes.flatMap((b) => [...b]))).catch(() => undefined);
  }

  private onCommand(cmd: number, data: string): void {
    this.commands.push(cmd);
    if (this.o.protocol === 'uhfreader18') {
      if (cmd === UHFREADER18_CMD.INVENTORY) this.write(this.chafonInventory());
      return;
    }
    if (cmd === M100_CMD.SINGLE_POLL) {
      const notices = this.m100Round();
      this.write(notices.length ? notices : [encodeM100Error()]);
    } else if (cmd === M100_CMD.MULTI_POLL && data.length === 6) {
      this.endPoll();
      const left = parseInt(data.slice(2), 16);
      const timer = setInterval(() => {
        if (!this.poll) return;
        this.write(this.m100Round());
        if (--this.poll.left <= 0) this.endPoll();
      }, this.o.roundMs);
      this.poll = { timer, left };
    } else if (cmd === M100_CMD.STOP) {
      this.endPoll();
      this.write([encodeM100Response(M100_CMD.STOP, [0x00])]);
    }
  }

  private endPoll(): void {
    if (this.poll) clearInterval(this.poll.timer);
    this.poll = undefined;
  }

  private chafonInventory(): Uint8Array[] {
    this.rounds++;
    const antennas = [...new Set(this.field.flatMap((t) => Object.keys(t.rssi).map(Number)))].sort((a, b) => a - b);
    const replies: Array<{ antenna: number; tags: { epc: string; rssiRaw: number }[] }> = [];
    for (const antenna of antennas) {
      const seen = this.field.filter((t) => t.rssi[antenna] !== undefined);
      // A reply carries at most 251 data bytes: 15 tags of 12-byte EPCs fit comfortably.
      for (let i = 0; i < seen.length; i += 15) {
        replies.push({ antenna, tags: seen.slice(i, i + 15).map((t) => ({ epc: t.epc, rssiRaw: simulatedChafonRssiRaw(this.jitter(t.rssi[antenna]!)) })) });
      }
    }
    if (replies.length === 0) return [encodeUhfReader18NoTag(this.o.address)];
    return replies.map((r, i) =>
      encodeUhfReader18InventoryReply({
        address: this.o.address,
        status: i === replies.length - 1 ? UHFREADER18_STATUS.DONE : UHFREADER18_STATUS.MORE,
        antenna: r.antenna,
        tags: r.tags,
      }),
    );
  }

  /** One M100 round: each tag in the field (strongest antenna, the module has one port) `repeats` times. */
  private m100Round(): Uint8Array[] {
    this.rounds++;
    const out: Uint8Array[] = [];
    for (const t of this.field) {
      const values = Object.values(t.rssi);
      if (values.length === 0) continue;
      const best = Math.max(...values);
      for (let k = 0; k < this.o.repeats; k++) out.push(encodeM100TagNotice({ epc: t.epc, rssi: Math.max(-128, Math.min(127, this.jitter(best))) }));
    }
    return out;
  }
}
