import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, requireBuild, ROOT, tempDir } from '../helpers/procs.js';

requireBuild();

/** The node command line of `stockgate <args>` run as a command (the launcher's shebang), while it runs. */
async function nodeArgsOf(args: string[], env: Record<string, string> = {}): Promise<string[]> {
  const child = spawn(BIN, args, { cwd: ROOT, env: { ...process.env, STOCKGATE_LOG_LEVEL: 'error', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    // Started once it prints anything (its ready line); the pid is the node process (exec).
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    return readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } finally {
    child.kill('SIGKILL');
  }
}

const edge = () => ['edge', '--data-dir', tempDir('sg-launch-'), '--broker', 'mqtt://127.0.0.1:1', '--site', 'launch', '--edge-id', 'e1', '--location', 'L'];

describe('bin/stockgate.js as a command (issue 14 §6)', () => {
  it('`stockgate edge` runs node with its own V8 limits', async () => {
    const argv = await nodeArgsOf(edge());
    expect(argv.slice(1, 3)).toEqual(['--max-semi-space-size=1', '--v8-pool-size=1']);
    expect(argv).toContain('edge');
  });

  it('a semi-space set in NODE_OPTIONS wins; other commands get no extra flags', async () => {
    const argv = await nodeArgsOf(edge(), { NODE_OPTIONS: '--max-semi-space-size=4' });
    expect(argv.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    const cloud = await nodeArgsOf(['cloud', '--data-dir', join(tempDir('sg-launch-'), 'c'), '--mqtt-port', '0', '--http-port', '0', '--insecure']);
    expect(cloud.some((a) => a.startsWith('--max-semi-space-size'))).toBe(false);
    expect(cloud).toContain('cloud');
  });
});
