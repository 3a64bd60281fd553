import { describe, expect, it } from 'vitest';
import type { ScanReading } from '../../devices/driver.js';
import { ScanSession } from '../../edge/scan-session.js';
import { Workflows, type WorkflowDevice, type WorkflowEffect, type WorkflowSettings } from '../../edge/workflows.js';
import { MemoryItems } from '../../edge/item-cache.js';

const DEVICE = { id: 'dock1', type: 'scanner' };
const T0 = Date.parse('2026-11-22T08:00:00.000Z');
const MIN = 60_000;

describe('ScanSession: PRJ clears the stage (issue 9)', () => {
  const s = () => new ScanSession({ mode: 'issue', location: 'L', uom: 'ea' });
  const h = (x: ScanSession, data: string) => x.handle({ kind: 'scan', data, raw: data, at: T0 }, DEVICE);

  it('PRJ: alone clears project and stage', () => {
    const x = s();
    h(x, 'stockgate:project/P-1/FOUNDATION');
    expect(h(x, 'PRJ:')).toMatchObject({ type: 'control', code: 'PRJ' });
    expect(x.context).not.toHaveProperty('project');
    expect(x.context).not.toHaveProperty('stage');
  });

  it('PRJ: with another project clears the stage; the same project keeps it (STAGE: then PRJ: order)', () => {
    const x = s();
    h(x, 'PRJ:P-1');
    h(x, 'STAGE:S-1');
    h(x, 'PRJ:P-1');
    expect(x.context).toMatchObject({ project: 'P-1', stage: 'S-1' });
    const out = h(x, 'PRJ:P-2');
    expect(out).toMatchObject({ type: 'control', context: { project: 'P-2' } });
    expect(out.type === 'control' && out.context).not.toHaveProperty('stage');
  });
});

describe('ScanSession: idle expiry of bindings (issue 9)', () => {
  const s = (idleMs = 30 * MIN) => new ScanSession({ mode: 'issue', location: 'L', uom: 'ea' }, { idleMs });
  const at = (x: ScanSession, data: string, t: number) => x.handle({ kind: 'scan', data, raw: data, at: t }, DEVICE);

  it('operator, crew, project and stage are dropped after idleMs without a scan; mode, qty and location stay', () => {
    const x = s();
    at(x, 'OP:W-7', T0);
    at(x, 'CREW:C-12', T0 + 1000);
    at(x, 'stockgate:project/P-1/S-2', T0 + 2000);
    at(x, 'QTY:5', T0 + 3000);
    expect(x.expireIdle(T0 + 3000 + 30 * MIN - 1)).toBeUndefined();
    expect(x.idleDeadline()).toBe(T0 + 3000 + 30 * MIN);
    expect(x.expireIdle(T0 + 3000 + 30 * MIN)).toEqual({ operator: 'W-7', crew: 'C-12', project: 'P-1', stage: 'S-2' });
    expect(x.context).toEqual({ mode: 'issue', qty: 5, location: 'L', uom: 'ea' });
    expect(x.expireIdle(T0 + 90 * MIN)).toBeUndefined(); // idempotent
    expect(x.idleDeadline()).toBeUndefined();
  });

  it('every scan (control or item) keeps the session alive; the scan after an idle gap carries no stale binding', () => {
    const x = s();
    at(x, 'OP:W-7', T0);
    at(x, 'SKU-1', T0 + 20 * MIN);
    const kept = at(x, 'SKU-1', T0 + 45 * MIN);
    expect(kept).toMatchObject({ type: 'movement', draft: { operator: 'W-7' } });
    const late = at(x, 'SKU-1', T0 + 80 * MIN);
    expect(late.type === 'movement' && late.draft).not.toHaveProperty('operator');
  });

  it('idleMs 0 never expires', () => {
    const x = s(0);
    at(x, 'OP:W-7', T0);
    expect(x.expireIdle(T0 + 1e9)).toBeUndefined();
    expect(x.context.operator).toBe('W-7');
  });
});

describe('Workflows: idle expiry reaches the operator', () => {
  const DEVICES: WorkflowDevice[] = [{ name: 'dock1', driver: 'scanner', reads: 'scan' }];
  const SETTINGS: WorkflowSettings = { mode: 'issue', location: 'L', uom: 'ea', issueRequires: ['crew'], unknownItems: 'accept', stations: [], rfid: [], sessionIdleMin: 30 };
  const ids = { inStock: () => false };

  it('tick() expires an idle session with a warning that beeps its scanner; the next issue needs the crew again', () => {
    const wf = new Workflows(DEVICES, SETTINGS, new MemoryItems(), ids);
    const scan = (data: string, t: number) => wf.handle('dock1', { kind: 'scan', data, raw: data, at: t } as ScanReading);
    scan('CREW:C-12', T0);
    expect(wf.nextDeadline()).toBe(T0 + 30 * MIN);
    expect(wf.tick(T0 + 29 * MIN)).toEqual([]);
    const out = wf.tick(T0 + 30 * MIN);
    expect(out).toEqual([
      expect.objectContaining({ type: 'warning', code: 'SG_WARN_SESSION_EXPIRED', device: 'dock1', feedback: ['dock1'], message: 'dock1: crew C-12 unbound after 30 min without a scan: scan them again' }),
    ]);
    expect(wf.tick(T0 + 31 * MIN)).toEqual([]);
    expect(scan('REBAR', T0 + 31 * MIN)).toEqual([expect.objectContaining({ type: 'refused', code: 'SG_ERR_SCAN_CONTEXT' })]);
  });

  it('a scan after the gap reports the expiry before handling the scan (no timer needed)', () => {
    const wf = new Workflows(DEVICES, { ...SETTINGS, issueRequires: [] }, new MemoryItems(), ids);
    const scan = (data: string, t: number) => wf.handle('dock1', { kind: 'scan', data, raw: data, at: t } as ScanReading);
    scan('OP:W-7', T0);
    const out: WorkflowEffect[] = scan('REBAR', T0 + 31 * MIN);
    expect(out.map((e) => e.type)).toEqual(['warning', 'movement']);
    expect(out[1]!.type === 'movement' && out[1]!.draft).not.toHaveProperty('operator');
  });

  it('a remote config changes the idle time live', () => {
    const wf = new Workflows(DEVICES, SETTINGS, new MemoryItems(), ids);
    wf.handle('dock1', { kind: 'scan', data: 'OP:W-7', raw: 'OP:W-7', at: T0 } as ScanReading);
    wf.configure({ ...SETTINGS, sessionIdleMin: 5 });
    expect(wf.tick(T0 + 5 * MIN)).toEqual([expect.objectContaining({ code: 'SG_WARN_SESSION_EXPIRED' })]);
  });
});

describe('sessionIdleMin: config file, remote config and flag names', () => {
  it('defaults to 30, accepts 0 (never) and refuses a negative or over-a-week value with the field named', async () => {
    const { parseEdgeConfig } = await import('../../edge/config.js');
    const { RemoteConfig } = await import('../../protocols/mqtt/index.js');
    const base = { dataDir: '/tmp/x', broker: 'mqtt://127.0.0.1:1', site: 's', edgeId: 'e', location: 'L' };
    expect(parseEdgeConfig(base).sessionIdleMin).toBe(30);
    expect(parseEdgeConfig({ ...base, sessionIdleMin: 0 }).sessionIdleMin).toBe(0);
    expect(() => parseEdgeConfig({ ...base, sessionIdleMin: -1 })).toThrow(/sessionIdleMin/);
    expect(() => parseEdgeConfig({ ...base, sessionIdleMin: 20_000 })).toThrow(/sessionIdleMin/);
    expect(RemoteConfig.safeParse({ v: 1, version: 2, sessionIdleMin: 5 }).success).toBe(true);
    expect(RemoteConfig.safeParse({ v: 1, version: 2, sessionIdleMin: 'x' }).success).toBe(false);
  });
});
