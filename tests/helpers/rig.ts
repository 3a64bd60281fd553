import { join } from 'node:path';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { startCloudProc, startEdgeProc, tempDir, uniqueId, waitFor, type CloudProc, type Proc } from './procs.js';

export interface RigOptions {
  /** Use the Mosquitto on 127.0.0.1:1883 instead of the cloud's embedded broker. */
  external?: boolean;
  /** Extra `stockgate edge` flags. */
  edgeExtra?: string[];
  /** Site id prefix (a unique id is made from it). */
  sitePrefix?: string;
}

/**
 * The whole path with real processes: `stockgate cloud` + a socat pty pair + `stockgate edge`
 * with a `scanner` on the pty, and the test's end of the pty open for writing scans. Cloud and
 * edge can be restarted (after a kill) on the same data dirs and ports.
 */
export class Rig {
  cloud!: CloudProc;
  edge!: Proc;
  pty!: PtyPair;
  scanner!: SerialTransport;
  readonly site: string;
  readonly dir = tempDir();
  private ports: { mqttPort: number; httpPort: number } | undefined;

  constructor(private readonly o: RigOptions = {}) {
    this.site = uniqueId(o.sitePrefix ?? 'rig');
  }

  get brokerUrl(): string {
    return this.o.external ? 'mqtt://127.0.0.1:1883' : `mqtt://127.0.0.1:${this.cloud.mqttPort}`;
  }

  async start(): Promise<this> {
    await this.startCloud();
    this.pty = await openPtyPair(join(this.dir, 'ttyScanner'));
    await this.startEdge();
    this.scanner = new SerialTransport({ path: this.pty.peerPath });
    await this.scanner.open();
    return this;
  }

  /** Start (or restart, on the same data dir and ports) the cloud. */
  async startCloud(): Promise<CloudProc> {
    this.cloud = await startCloudProc({
      dataDir: join(this.dir, 'cloud'),
      ...(this.o.external ? { broker: 'mqtt://127.0.0.1:1883', sites: [this.site] } : {}),
      ...(this.ports ?? {}),
    });
    this.ports = { mqttPort: this.cloud.mqttPort, httpPort: this.cloud.httpPort };
    return this.cloud;
  }

  /** Start (or restart) the edge, and wait until its scanner is open. */
  async startEdge(): Promise<Proc> {
    this.edge = await startEdgeProc({
      dataDir: join(this.dir, 'edge'),
      broker: this.brokerUrl,
      site: this.site,
      edgeId: 'dock-1',
      devices: [`dock1=scanner@serial://${this.pty.devicePath}?baudRate=9600`],
      ...(this.o.edgeExtra ? { extra: this.o.edgeExtra } : {}),
    });
    await waitFor(() => this.edge.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner connected');
    return this.edge;
  }

  /** Write scanner text (lines with their terminators) into the pty. */
  scan(text: string): Promise<void> {
    return this.scanner.write(Buffer.from(text, 'latin1'));
  }

  async stop(): Promise<void> {
    await this.scanner?.close();
    await this.edge?.kill();
    await this.pty?.close();
    await this.cloud?.kill();
  }
}

/** Several pty pairs in `dir` (`tty-<name>`), each with the test's end open for writing. */
export interface PtyBank {
  /** Device-end paths, in the order of `names`, for `--device x=driver@serial://<path>`. */
  paths: string[];
  /** The test's ends, in the same order. */
  ends: SerialTransport[];
  close(): Promise<void>;
}

export async function openPtys(dir: string, names: readonly string[]): Promise<PtyBank> {
  const ptys: PtyPair[] = [];
  const ends: SerialTransport[] = [];
  for (const name of names) {
    const p = await openPtyPair(join(dir, `tty-${name}`));
    ptys.push(p);
    const t = new SerialTransport({ path: p.peerPath });
    // A pending read, so writes from the device side (polls, beeps) are drained.
    t.onData(() => undefined);
    await t.open();
    ends.push(t);
  }
  return {
    paths: ptys.map((p) => p.devicePath),
    ends,
    async close() {
      for (const e of ends) await e.close();
      for (const p of ptys) await p.close();
    },
  };
}
