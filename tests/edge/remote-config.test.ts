import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemoteConfigManager } from '../../edge/remote-config.js';
import { openStateDb } from '../../edge/state-db.js';
import type { RemoteConfig } from '../../protocols/mqtt/index.js';
import { tempDir } from '../helpers/procs.js';

const cfg = (version: number, over: Record<string, unknown> = {}) => JSON.stringify({ v: 1, version, ...over });

function setup(path = join(tempDir(), 'state.db'), failOn: (c: RemoteConfig | undefined) => boolean = () => false) {
  const db = openStateDb(path);
  const applied: Array<number | undefined> = [];
  const m = new RemoteConfigManager(db, (c) => {
    if (failOn(c)) throw new Error(`station scale9: no device 'scale9'`);
    applied.push(c?.version);
  });
  return { db, m, applied, path };
}

describe('RemoteConfigManager', () => {
  it('applies a newer version, persists it, and ignores the same or older versions', () => {
    const { m, applied, db } = setup();
    expect(m.restore()).toEqual({ result: 'ignored', reason: 'no remote config stored' });
    expect(applied).toEqual([undefined]);
    expect(m.receive(cfg(3, { mode: 'issue' }))).toEqual({ result: 'applied', version: 3 });
    expect(m.version).toBe(3);
    expect(m.config?.mode).toBe('issue');
    expect(m.receive(cfg(3))).toMatchObject({ result: 'ignored', reason: 'version 3 is not newer than 3' });
    expect(m.receive(Buffer.from(cfg(2)))).toMatchObject({ result: 'ignored' });
    expect(m.receive('')).toMatchObject({ result: 'ignored', reason: expect.stringMatching(/retained config cleared/) });
    expect(applied).toEqual([undefined, 3]);
    expect(db.prepare('SELECT version FROM remote_config').pluck().get()).toBe(3);
  });

  it('refuses invalid JSON and invalid schemas, naming the field, and keeps running the last good version', () => {
    const { m, applied } = setup();
    m.receive(cfg(1));
    expect(m.receive('{nope')).toMatchObject({ result: 'rejected', version: 1, error: expect.stringMatching(/^invalid JSON: .*; running version 1$/) });
    expect(m.receive(cfg(2, { mode: 'steal' }))).toEqual({
      result: 'rejected',
      version: 1,
      offered: 2,
      error: expect.stringMatching(/^version 2 invalid: mode: .*; running version 1$/),
    });
    expect(m.receive(cfg(3, { drainRatePerSec: 10, typo: 1 }))).toMatchObject({ result: 'rejected', error: expect.stringMatching(/typo/) });
    expect(m.receive(cfg(4, { items: [{ sku: 'A', gtin: '09506000134353' }] }))).toMatchObject({ result: 'rejected', error: expect.stringMatching(/wrong check digit/) });
    expect(m.receive(JSON.stringify({ v: 2, version: 5 }))).toMatchObject({ result: 'rejected' });
    expect(applied).toEqual([1]);
    expect(m.error).toMatch(/running version 1$/);
    // A later good version clears the error.
    expect(m.receive(cfg(6))).toEqual({ result: 'applied', version: 6 });
    expect(m.error).toBeUndefined();
  });

  it('rolls back to the last good version when a version fails to apply, and does not retry it', () => {
    const { m, applied } = setup(undefined, (c) => c?.version === 8);
    m.receive(cfg(7, { location: 'DOCK-7' }));
    const out = m.receive(cfg(8, { stations: [{ scanner: 'dock1', scale: 'scale9' }] }));
    expect(out).toEqual({ result: 'rejected', version: 7, offered: 8, error: "version 8 failed to apply: station scale9: no device 'scale9'; running version 7" });
    expect(applied).toEqual([7, 7]); // applied 7, tried 8 (threw), re-applied 7
    expect(m.version).toBe(7);
    expect(m.receive(cfg(8))).toMatchObject({ result: 'ignored', reason: 'version 8 already failed' });
    expect(m.receive(cfg(9))).toEqual({ result: 'applied', version: 9 });
  });

  it('falls back to the local config when the rollback fails too', () => {
    let calls = 0;
    const { m } = setup(undefined, (c) => c !== undefined && ++calls > 1);
    m.receive(cfg(1));
    expect(m.receive(cfg(2))).toMatchObject({ result: 'rejected', version: 0, error: expect.stringMatching(/last good version failed too/) });
    expect(m.version).toBe(0);
  });

  it('restores the last good version from the data dir at start, or reports why it cannot', () => {
    const path = join(tempDir(), 'state.db');
    const a = setup(path);
    a.m.receive(cfg(4, { telemetryMs: 1000 }));
    a.db.close();
    const b = setup(path);
    expect(b.m.restore()).toEqual({ result: 'applied', version: 4 });
    expect(b.applied).toEqual([4]);
    expect(b.m.config?.telemetryMs).toBe(1000);
    b.db.close();
    const c = setup(path, (x) => x?.version === 4);
    expect(c.m.restore()).toMatchObject({ result: 'rejected', version: 0, error: expect.stringMatching(/^stored remote config no longer applies: station scale9/) });
    expect(c.applied).toEqual([undefined]);
  });
});
