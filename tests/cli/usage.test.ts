import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/main.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { ROOT, runStockgate, tempDir } from '../helpers/procs.js';

/**
 * Issue 8, finding 12: flag errors spoke zod and camelCase (`dataDir: Invalid input`), a typo was
 * reported as a missing flag under 40 lines of help, flag errors exited 1 and config errors 2.
 * Now: every command names the flag as typed, a typo gets "did you mean", usage errors exit 2 and
 * runtime failures 1, and --help marks the required flags.
 */
const dir = tempDir();
const EDGE_OK = ['--data-dir', join(dir, 'e'), '--broker', 'mqtt://127.0.0.1:1', '--site', 's1', '--edge-id', 'e1', '--location', 'L'];

/** [args, text stderr must contain]: one or more per command in cli/commands/*. */
const CASES: Array<[string[], string]> = [
  [['clod'], "unknown command 'clod': did you mean cloud?"],
  [['demo', '--http-port', 'x'], '--http-port must be a port number'],
  [['demo', '--intervall-ms', '5'], 'unknown flag --intervall-ms: did you mean --interval-ms?'],
  [['cloud'], '--data-dir is required'],
  [['cloud', '--data-dir', dir, '--http-port', '99999'], '--http-port must be a port number'],
  [['cloud', '--data-dir', dir, '--mqtt-port', 'abc'], '--mqtt-port must be a port number'],
  [['cloud', '--data-dir', dir, '--insecure', '--max-conn-per-user', '0'], '--max-conn-per-user must be >= 1'],
  [['cloud', '--data-dir', dir, '--insecur'], 'unknown flag --insecur: did you mean --insecure?'],
  [['cloud', '--data-dir', dir, '--broker', 'http://x', '--insecure'], '--broker: expected mqtt://HOST:PORT'],
  [['cloud', '--data-dir', dir, '--http-port'], '--http-port needs a value'],
  [['admin', 'init'], '--data-dir is required'],
  [['admin', 'init', '--data-dir', dir, '--rotat'], 'did you mean --rotate?'],
  [['admin', 'int'], "unknown command 'int': did you mean init?"],
  [['edge'], '--data-dir is required'],
  [['edge', ...EDGE_OK.slice(2)], '--data-dir is required'],
  [['edge', '--edgeid', 'e1'], 'did you mean --edge-id?'],
  [['edge', ...EDGE_OK, '--window', '0'], '--window must be >= 1'],
  [['edge', ...EDGE_OK, '--batch-size', '1.5'], '--batch-size must be a whole number'],
  [['edge', ...EDGE_OK, '--mode', 'sell'], '--mode must be one of receive, issue, return, count'],
  [['edge', ...EDGE_OK, '--device', 'dock1=toaster@serial:///dev/null'], "--device 'dock1=toaster@serial:///dev/null': device 'dock1': unknown driver 'toaster'"],
  [['edge', ...EDGE_OK, '--unknown-items', 'maybe'], '--unknown-items must be one of accept, reject'],
  [['simulate', 'scanner'], '--link is required'],
  [['simulate', 'scanner', '--link', join(dir, 't'), '--interval-ms', '-1'], '--interval-ms must be >= 0'],
  [['simulate', 'scale', '--link', join(dir, 't'), '--protocol', 'x'], "--protocol: 'x' is not mt-sics"],
  [['simulate', 'scale', '--link', join(dir, 't'), '--weight-kg', '12kg'], '--weight-kg must be a number'],
  [['simulate', 'rfid', '--link', join(dir, 't'), '--antennas', '9'], "--antennas: '9' is not a list of ports"],
  [['simulate', 'rfid', '--link', join(dir, 't'), '--tags', 'many'], '--tags must be a whole number'],
  [['simulate', 'scaner'], "unknown command 'scaner': did you mean scanner?"],
  [['devices', 'list', '--bogus'], 'unknown flag --bogus'],
  [['devices', 'drivers', '--jsno'], 'unknown flag --jsno'],
  [['devices', 'sniff'], '--device is required'],
  [['devices', 'sniff', '--device', 'foo'], "--device 'foo'"],
  [['devices', 'sniff', '--device', 'd=scanner@memory://x', '--count', 'x'], '--count: expected a positive number'],
  [['devices', 'record', '--device', 'd=scanner@memory://x'], '--out is required'],
  [['devices', 'replay', '--driver', 'scanner'], '--file is required'],
  [['devices', 'replay', '--driver', 'scanner', '--file', join(dir, 'nope.hex')], '--file: cannot read'],
  [['decode', 'gs1', '--now', 'yesterday', '0101234567890128'], "--now: 'yesterday' is not a date"],
  [['decode', 'gs1', '--hex'], '--hex needs a value'],
  [['decode', 'epc'], '<hex> is required'],
  [['decode', 'scale', '--protocol', 'x', 'ab'], "--protocol: 'x' is not one of"],
  [['decode', 'rfid', '--hex', '00'], '--protocol is required'],
  [['decode', 'rfid', '--protocl', 'm100'], 'did you mean --protocol?'],
  [['count-by-weight'], '--sample-kg is required'],
  [['count-by-weight', '--sample-kg', '1', '--sample-pieces', '10', '--net-kg', 'ten'], "--net-kg: 'ten' is not a number"],
];

const CAMEL_KEY = /\b[a-z]+[A-Z]\w*:/; // dataDir: ...

describe('command-line usage errors (issue 8, finding 12)', () => {
  it.each(CASES)('stockgate %j', async (args, expected) => {
    const r = await runCliInProcess(args);
    expect(r.stderr).toContain(expected);
    expect(r.status).toBe(2);
    expect(r.stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(r.stderr).not.toMatch(CAMEL_KEY);
    expect(r.stderr).not.toMatch(/Invalid input|expected string, received/);
    expect(r.stderr).not.toContain('Options:'); // no help dump
    expect(r.stderr.length).toBeLessThan(1200);
  });

  it('covers every command in cli/commands/*', () => {
    const leaves: string[] = [];
    const walk = (c: Command, path: string[]) => {
      if (c.commands.length === 0) leaves.push(path.join(' '));
      for (const s of c.commands) walk(s, [...path, s.name()]);
    };
    for (const c of buildProgram().commands) walk(c, [c.name()]);
    const covered = new Set(CASES.map(([a]) => a.filter((x) => !x.startsWith('-')).slice(0, 2).join(' ')));
    for (const leaf of leaves) expect([...covered].some((c) => c === leaf || c.startsWith(`${leaf} `) || c === leaf.split(' ')[0]), leaf).toBe(true);
  });

  it('a key from the --config file is named as that key, a missing one as its flag', async () => {
    const file = join(dir, 'edge.json');
    writeFileSync(file, JSON.stringify({ dataDir: dir, broker: 'mqtt://127.0.0.1:1', site: 's1', location: 'L', window: 0, windw: 3 }));
    const r = await runCliInProcess(['edge', '--config', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`window in ${file} must be >= 1`);
    expect(r.stderr).toContain('--edge-id is required (or edgeId in the --config file)');
    expect(r.stderr).toContain(`unknown key 'windw' (did you mean window?)`);
  });

  it('--help marks the required flags of every command', async () => {
    const check = async (c: Command, path: string[]) => {
      const mandatory = c.options.filter((o) => o.mandatory);
      if (mandatory.length) {
        const r = await runCliInProcess([...path, '--help']);
        expect(r.status).toBe(0);
        for (const o of mandatory) expect(r.stdout, `${path.join(' ')} ${o.long}`).toMatch(new RegExp(`${o.long}[^\\n]*(\\n {4,}[^\\n]*)*\\(required\\)`));
      }
      for (const s of c.commands) await check(s, [...path, s.name()]);
    };
    await check(buildProgram(), []);
    const edge = await runCliInProcess(['edge', '--help']);
    for (const f of ['--data-dir', '--broker', '--site', '--edge-id', '--location']) expect(edge.stdout).toMatch(new RegExp(`${f} [^\\n]*(\\n {4,}[^\\n]*)*\\(required`));
    const cbw = await runCliInProcess(['count-by-weight', '--help']);
    expect(cbw.stdout.match(/\(required\)/g)).toHaveLength(3);
  });

  it('the real binary: usage errors exit 2 without help, a runtime failure exits 1, neither prints a stack', async () => {
    const usage = runStockgate(['edge', '--data-dri', dir]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('did you mean --data-dir?');
    expect(usage.stderr.split('\n').length).toBeLessThan(4);

    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const rt = runStockgate(['cloud', '--data-dir', join(dir, 'rt'), '--insecure', '--mqtt-port', '0', '--http-port', String(port)]);
      expect(rt.stderr).toMatch(/EADDRINUSE/);
      expect(rt.status).toBe(1);
      expect(rt.stderr).not.toMatch(/^\s+at /m);
    } finally {
      busy.close();
    }
  });

  it('the README says how to run stockgate (npx or npm link)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/npx stockgate /);
    expect(readme).toMatch(/npm link/);
  });
});
