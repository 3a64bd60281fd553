import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when `socat` is on the PATH (Debian package `socat`). */
export function hasSocat(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

export interface PtyPair {
  /** The path a device driver opens (a symlink to one pty), as given. */
  devicePath: string;
  /** The other end: a simulator or test writes here. */
  peerPath: string;
  process: ChildProcess;
  /** Kill socat (the device end sees an unplug) and remove the links. */
  close(): Promise<void>;
}

/**
 * A real pseudo-terminal pair through socat (`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`),
 * so the serialport stack runs exactly as with a USB-serial device. Notes from the reference:
 * baud, parity and modem-line ioctls are not emulated; killing socat is an unplug.
 */
export async function openPtyPair(devicePath: string, peerPath?: string, timeoutMs = 5000): Promise<PtyPair> {
  let tmp: string | undefined;
  if (!peerPath) {
    tmp = mkdtempSync(join(tmpdir(), 'sg-pty-'));
    peerPath = join(tmp, 'peer');
  }
  const child = spawn('socat', [`pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${peerPath}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const deadline = Date.now() + timeoutMs;
  const ready = async () => {
    while (!(isLink(devicePath) && isLink(peerPath!))) {
      if (child.exitCode !== null) throw new Error(`socat exited with code ${child.exitCode} before creating ${devicePath}`);
      if (Date.now() > deadline) throw new Error(`socat did not create ${devicePath} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    await Promise.race([ready(), spawnError]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const pp = peerPath;
  // socat outlives its parent unless killed: make any exit of this process (process.exit after a
  // start-up error included) take it down. A SIGKILLed parent still leaks it; nothing can help that.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));
  return {
    devicePath,
    peerPath: pp,
    process: child,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      for (const p of [devicePath, pp]) if (isLink(p)) rmSync(p, { force: true });
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink() && existsSync(p);
  } catch {
    return false;
  }
}
