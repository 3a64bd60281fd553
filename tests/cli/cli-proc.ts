import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BIN, ROOT, requireBuild, waitFor } from '../helpers/procs.js';

/** A running `stockgate` process whose stdout JSON lines are collected (for streaming commands). */
export interface CliProc {
  child: ChildProcess;
  /** Parsed stdout JSON lines so far. */
  lines: Array<Record<string, any>>;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Wait for a stdout line matching `pred`. */
  line(pred: (l: Record<string, any>) => boolean, what: string): Promise<Record<string, any>>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startCli(args: string[], env: Record<string, string> = {}): CliProc {
  requireBuild();
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, any>> = [];
  let err = '';
  child.stderr!.on('data', (b) => (err += b));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l));
    } catch {
      lines.push({ text: l });
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    line: (pred, what) =>
      waitFor<Record<string, any>>(() => {
        const l = lines.find(pred);
        if (!l && done) throw new Error(`process exited before ${what}: ${err}`);
        return l as Record<string, any>;
      }, what),
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}
