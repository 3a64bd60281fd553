import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { runStockgate, spawnStockgate, tempDir } from '../helpers/procs.js';

function run(args: string[], env: Record<string, string> = {}) {
  return runStockgate(args, env);
}

describe('stockgate CLI', () => {
  it('--help lists every command', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const cmd of ['demo', 'cloud', 'edge', 'simulate', 'decode', 'count-by-weight']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });

  it('edge --help documents the contract flags', () => {
    const r = run(['edge', '--help']);
    for (const flag of ['--data-dir', '--broker', '--site', '--edge-id', '--location', '--mode', '--device', '--config']) expect(r.stdout).toContain(flag);
  });

  it('edge fails at start naming each bad field', () => {
    const r = run(['edge', '--data-dir', tempDir(), '--broker', 'http://x', '--site', 'a/b', '--edge-id', 'alerts', '--location', 'L', '--mode', 'sell', '--device', 'dock1=toaster@serial:///dev/null']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('SG_ERR_CONFIG');
    expect(r.stderr).toMatch(/--broker: expected mqtt:\/\/HOST:PORT/);
    expect(r.stderr).toMatch(/--site: /);
    expect(r.stderr).toMatch(/--edge-id: .*reserved/);
    expect(r.stderr).toMatch(/--mode must be one of/);
    expect(r.stderr).toMatch(/--device 'dock1=toaster@serial:\/\/\/dev\/null': .*unknown driver 'toaster'/);
  });

  it('edge reads a config file and flags win', async () => {
    const dir = tempDir();
    const file = `${dir}/edge.json`;
    writeFileSync(file, JSON.stringify({ dataDir: dir, broker: 'mqtt://127.0.0.1:1', site: 's1', edgeId: 'e1', location: 'L', batchSize: 5000 }));
    // batchSize 5000 from the file alone is invalid (max 1000): starting proves the flag's 10 won.
    // The broker on port 1 is unreachable; the agent starts anyway (the outbox works offline).
    const p = await spawnStockgate(['edge', '--config', file, '--batch-size', '10', '--site', 's2']);
    expect(p.ready).toMatchObject({ event: 'ready', service: 'edge', site: 's2', edge: 'e1', backlog: 0 });
    await p.kill();
  });

  it('edge reports a bad config file value by field', () => {
    const dir = tempDir();
    const file = `${dir}/edge.json`;
    writeFileSync(file, JSON.stringify({ dataDir: dir, broker: 'mqtt://127.0.0.1:1', site: 's1', edgeId: 'e1', location: 'L', window: 0 }));
    const r = run(['edge', '--config', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/window in .*edge\.json must be >= 1/);
  });

  it('cloud starts with authentication on without --insecure and says how to get an admin token', async () => {
    const dir = tempDir();
    const p = await spawnStockgate(['cloud', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0']);
    expect(p.logs.some((l) => typeof l.msg === 'string' && l.msg.includes(`stockgate admin init --data-dir ${dir}`))).toBe(true);
    expect(p.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('--insecure'))).toBe(false);
    expect((await fetch(`http://127.0.0.1:${p.ready.httpPort as number}/api/v1/stock`)).status).toBe(401);
    await p.kill();
  });

  it('cloud names a bad port', () => {
    const r = run(['cloud', '--data-dir', tempDir(), '--mqtt-port', 'abc', '--insecure']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--mqtt-port must be a port number/);
  });

  it('cloud names the missing ERP login flags, and ERP flags without --erp-url (issue 11 §5)', () => {
    const r = run(['cloud', '--data-dir', tempDir(), '--insecure', '--erp-url', 'http://127.0.0.1:9/k3cloud/', '--erp-acct-id', 'A1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--erp-user: required with erpUrl/);
    expect(r.stderr).toMatch(/--erp-app-id: required with erpUrl/);
    expect(r.stderr).toMatch(/--erp-app-secret \(or STOCKGATE_ERP_APP_SECRET\): required with erpUrl/);
    expect(r.stderr).not.toMatch(/--erp-acct-id/);
    const orphan = run(['cloud', '--data-dir', tempDir(), '--insecure', '--erp-user', 'sync']);
    expect(orphan.status).toBe(2);
    expect(orphan.stderr).toMatch(/--erp-user: only with erpUrl/);
    const help = run(['cloud', '--help']);
    for (const f of ['--erp-url', '--erp-acct-id', '--erp-user', '--erp-app-id', '--erp-app-secret', 'STOCKGATE_ERP_APP_SECRET']) expect(help.stdout).toContain(f);
  });
});
