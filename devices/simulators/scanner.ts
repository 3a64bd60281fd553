import type { Transport } from '../transport.js';

/** One line a simulated scanner sends: data plus an optional AIM id. */
export interface SimScan {
  data: string;
  aim?: string;
}

/**
 * A barcode scanner on the far end of a link: writes `[AIM]data CR LF` like a USB-CDC scanner
 * configured with AIM prefixes and a CR LF suffix.
 */
export class ScannerSimulator {
  constructor(
    private readonly link: Transport,
    /** Line terminator. Default CR LF. */
    private readonly terminator = '\r\n',
  ) {}

  async scan(s: SimScan | string): Promise<void> {
    const { data, aim } = typeof s === 'string' ? { data: s, aim: undefined } : s;
    await this.link.write(Buffer.from(`${aim ?? ''}${data}${this.terminator}`, 'latin1'));
  }
}

/**
 * The demo's script: an operator badges in, receives deliveries at the dock, then issues
 * material to a project crew. Loops forever so the board keeps moving.
 */
export function* demoScript(): Generator<SimScan> {
  const items = ['CEM-42.5-50KG', 'REBAR-HRB400-12', 'PIPE-PPR-DN25', 'BOLT-M16x80', 'CABLE-YJV-3x95'];
  for (let round = 0; ; round++) {
    const item = items[round % items.length]!;
    yield { data: 'OP:W-1024' };
    yield { data: 'MODE:RECEIVE' };
    yield { data: 'PRJ:' };
    yield { data: 'QTY:1' };
    for (const sku of items) yield { data: sku, aim: ']C0' };
    // Material bought for a project is that project's stock; issuing to the project consumes it.
    yield { data: 'PRJ:P-2026-017' };
    yield { data: 'QTY:5' };
    yield { data: item, aim: ']C0' };
    yield { data: 'MODE:ISSUE' };
    yield { data: 'QTY:2' };
    yield { data: item, aim: ']C0' };
  }
}
