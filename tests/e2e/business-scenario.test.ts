import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { BIN, requireBuild, spawnStockgate, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';

/**
 * Issue 10's acceptance scenario through real processes: `stockgate cloud` with authentication
 * on, `stockgate edge` with a scanner on a socat pty, and the HTTP API as each user would call it.
 *
 * 1. Item master and suppliers over the API.
 * 2. Project A: stage S1 planned from a BOM x2, stage S2 from direct lines.
 * 3. Approval bands [0, 5000) PM; [5000, 50000) PM -> procurement; [50000, 1000000) PM ->
 *    procurement -> finance: 4999.99 / 5000.00 / 50000.00 need 1 / 2 / 3 approvals, 1000000.00
 *    has no band (422), the PM approving their own requisition is 403.
 * 4. POs raised from approved requisitions, received at the pty scanner from GS1 labels (GTIN,
 *    batch, expiry, count) after scanning the PO's QR (`stockgate:po/ID` pins it: the ledger rows
 *    carry `po`); the second PO in two partial receipts, with a landed cost.
 * 5. Cement issued to project A stage S1 with a crew badge.
 * 6. The cost report: 34.50 average, 4140.00 material, 9900.00 total, 10100.00 margin (50.50%).
 */

const CEMENT_GTIN = '09506000134352';
/** A GS1-128 label as the scanner sends it: ]C1, GTIN (01), expiry (17), batch (10, then GS), count (37). */
const gs1 = (gtin: string, expiry: string, batch: string, count: number) => `]C101${gtin}17${expiry}10${batch}\x1d37${count}`;

interface Res {
  status: number;
  body: any;
}

describe('e2e: issue 10 scenario (projects, approvals, dock receiving, issue to a crew, project cost)', () => {
  const dir = tempDir('sg-biz-e2e-');
  const site = uniqueId('biz');
  const A = `A-${process.pid}`;
  let cloud: Proc;
  let edge: Proc;
  let pty: PtyPair;
  let scanner: SerialTransport;
  let api = '';
  let admin = '';
  const tokens: Record<string, string> = {};

  const call = async (who: string, method: string, path: string, body?: unknown): Promise<Res> => {
    const token = who === 'admin' ? admin : tokens[who]!;
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* CSV */
    }
    return { status: res.status, body: parsed };
  };
  const ok = async (who: string, method: string, path: string, body?: unknown): Promise<any> => {
    const r = await call(who, method, path, body);
    if (r.status >= 300) throw new Error(`${who} ${method} ${path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 400)}`);
    return r.body;
  };
  const scan = (...lines: string[]) => scanner.write(Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1'));
  const movements = async () => (await ok('admin', 'GET', `/api/v1/movements?site=${site}&limit=1000`)).items as Array<Record<string, unknown>>;

  beforeAll(async () => {
    requireBuild();
    const init = spawnSync(process.execPath, [BIN, 'admin', 'init', '--data-dir', join(dir, 'cloud')], { encoding: 'utf8', timeout: 30_000 });
    expect(init.status).toBe(0);
    admin = (JSON.parse(init.stdout) as { token: string }).token;
    cloud = await spawnStockgate(['cloud', '--data-dir', join(dir, 'cloud'), '--mqtt-port', '0', '--http-port', '0']);
    api = `http://127.0.0.1:${cloud.ready.httpPort as number}`;
    const creds = (await ok('admin', 'POST', '/api/v1/edges', { site, edgeId: 'dock-1' })) as { username: string; password: string };
    pty = await openPtyPair(join(dir, 'ttyScanner'));
    // The edge's item cache: the GTIN on the labels is a bag of CEMENT (the cloud's item master says the same).
    writeFileSync(join(dir, 'items.json'), JSON.stringify({ items: [{ sku: 'CEMENT', gtin: CEMENT_GTIN, uom: 'bag' }] }));
    edge = await spawnStockgate(
      ['edge', '--data-dir', join(dir, 'edge'), '--broker', `mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`, '--site', site, '--edge-id', 'dock-1',
        '--location', 'DOCK-1', '--mode', 'receive', '--device', `dock1=scanner@serial://${pty.devicePath}`, '--ack-timeout-ms', '3000', '--items', join(dir, 'items.json'), '--username', creds.username],
      { env: { STOCKGATE_MQTT_PASSWORD: creds.password } },
    );
    scanner = new SerialTransport({ path: pty.peerPath });
    await scanner.open();
    await waitFor(() => edge.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner connected');

    // Users and their tokens: the project's manager, another project's manager, a buyer, finance, a site manager, an operator.
    const users: Array<[string, string[], Record<string, unknown>]> = [
      ['pm-a', ['project-manager'], {}],
      ['pm-b', ['project-manager'], {}],
      ['buyer', ['procurement'], { sites: [site] }],
      ['fin', ['finance'], {}],
      ['sm', ['site-manager'], { sites: [site] }],
      ['op', ['operator'], { sites: [site] }],
    ];
    for (const [id, roles, extra] of users) {
      await ok('admin', 'POST', '/api/v1/users', { id, name: id, roles, ...extra });
      tokens[id] = ((await ok('admin', 'POST', '/api/v1/tokens', { user: id })) as { token: string }).token;
    }
  });

  afterAll(async () => {
    await scanner?.close();
    await edge?.kill();
    await pty?.close();
    await cloud?.kill();
  });

  it('1-2: item master, suppliers, project A with a BOM x2 plan (S1) and direct lines (S2)', async () => {
    await ok('buyer', 'PUT', '/api/v1/items/CEMENT', { name: 'Cement P.O 42.5, 50 kg', uom: 'bag', gtins: [CEMENT_GTIN], tracking: 'batch', standardCost: '33.00' });
    await ok('buyer', 'PUT', '/api/v1/items/REBAR', { name: 'Rebar HRB400 12 mm', uom: 'ea', standardCost: '45.00' });
    await ok('buyer', 'PUT', '/api/v1/items/SAND', { name: 'Sand, m3', uom: 'm3', standardCost: '120.00' });
    await ok('buyer', 'PUT', '/api/v1/suppliers/SUP-1', { name: 'Huaxin Cement', leadTimeDays: 3 });
    expect((await ok('buyer', 'GET', '/api/v1/suppliers/SUP-1')).leadTimeDays).toBe(3);

    await ok('admin', 'POST', '/api/v1/projects', {
      code: A,
      name: 'Warehouse extension',
      site,
      manager: 'pm-a',
      contractRevenue: '20000.00',
      stages: [
        { code: 'S1', name: 'Foundation', needBy: '2027-01-15' },
        { code: 'S2', name: 'Slab', needBy: '2027-02-15' },
      ],
    });
    await ok('admin', 'PUT', '/api/v1/boms/FOOTING', { name: 'Footing', lines: [{ sku: 'CEMENT', qtyPer: 60 }, { sku: 'REBAR', qtyPer: 10 }] });
    await ok('pm-a', 'PUT', `/api/v1/projects/${A}/stages/S1/plan`, { lines: [{ bom: 'FOOTING', multiplier: 2 }] });
    await ok('pm-a', 'PUT', `/api/v1/projects/${A}/stages/S2/plan`, { lines: [{ sku: 'SAND', qty: 5 }] });
    const plan = await ok('pm-a', 'GET', `/api/v1/projects/${A}/stages/S1/plan`);
    expect(JSON.stringify(plan)).toContain('CEMENT');
    expect(plan.lines.find((l: { sku: string }) => l.sku === 'CEMENT')).toMatchObject({ planned: 120 });
    // Another project's manager does not see that A exists.
    expect((await call('pm-b', 'GET', `/api/v1/projects/${A}`)).status).toBe(404);
  });

  let reqCement32 = '';
  let reqCement35 = '';
  it('3: approval bands: 4999.99 / 5000.00 / 50000.00 need 1 / 2 / 3 approvals; 1000000.00 has no band; the PM may not approve their own', async () => {
    await ok('admin', 'PUT', `/api/v1/sites/${site}/approval-rules`, {
      rules: [
        { docType: 'requisition', minAmount: '0', maxAmount: '5000', steps: ['project-manager'] },
        { docType: 'requisition', minAmount: '5000', maxAmount: '50000', steps: ['project-manager', 'procurement'] },
        { docType: 'requisition', minAmount: '50000', maxAmount: '1000000', steps: ['project-manager', 'procurement', 'finance'] },
      ],
    });
    const requisition = async (who: string, amount: string, lines?: unknown[]) =>
      (await ok(who, 'POST', '/api/v1/requisitions', { kind: 'purchase', project: A, stage: 'S2', lines: lines ?? [{ sku: 'SAND', qty: 1, unitPrice: amount }] })) as { id: string };
    const chain = async (amount: string, approvers: string[]) => {
      // Raised by the admin: the site manager may raise one but sees no amount (purchasing prices are not its business).
      const r = await requisition('admin', amount);
      const submitted = await ok('admin', 'POST', `/api/v1/requisitions/${r.id}/submit`);
      expect(submitted).toMatchObject({ status: 'pending', amount });
      for (const [i, who] of approvers.entries()) {
        // Steps are decided in order: the next approver cannot jump the queue.
        if (i + 1 < approvers.length) expect((await call(approvers[i + 1]!, 'POST', `/api/v1/requisitions/${r.id}/approve`, {})).status).toBeGreaterThanOrEqual(403);
        const after = await ok(who, 'POST', `/api/v1/requisitions/${r.id}/approve`, {});
        expect(after.status).toBe(i + 1 === approvers.length ? 'approved' : 'pending');
      }
      const done = await ok('admin', 'GET', `/api/v1/requisitions/${r.id}`);
      expect(done.approvals.map((a: { state: string }) => a.state)).toEqual(approvers.map(() => 'approved'));
      return r.id;
    };
    await chain('4999.99', ['pm-a']);
    await chain('5000.00', ['pm-a', 'buyer']);
    await chain('50000.00', ['pm-a', 'buyer', 'fin']);
    const big = await requisition('admin', '1000000.00');
    const refused = await call('admin', 'POST', `/api/v1/requisitions/${big.id}/submit`);
    expect(refused).toMatchObject({ status: 422, body: { code: 'SG_ERR_NO_APPROVAL_RULE' } });

    const own = await requisition('pm-a', '100.00');
    await ok('pm-a', 'POST', `/api/v1/requisitions/${own.id}/submit`);
    expect(await call('pm-a', 'POST', `/api/v1/requisitions/${own.id}/approve`, {})).toMatchObject({ status: 403, body: { code: 'SG_ERR_SELF_APPROVAL' } });

    // The cement for stage S1: 100 @ 32.00 and 100 @ 35.00, each one approval.
    for (const [price, set] of [['32.00', (id: string) => (reqCement32 = id)], ['35.00', (id: string) => (reqCement35 = id)]] as const) {
      const r = (await ok('admin', 'POST', '/api/v1/requisitions', { kind: 'purchase', project: A, stage: 'S1', lines: [{ sku: 'CEMENT', qty: 100, unitPrice: price }] })) as { id: string };
      await ok('admin', 'POST', `/api/v1/requisitions/${r.id}/submit`);
      expect((await ok('pm-a', 'POST', `/api/v1/requisitions/${r.id}/approve`, {})).status).toBe('approved');
      set(r.id);
    }
  });

  let po32 = '';
  let po35 = '';
  it('4: POs from the approved requisitions, received at the pty scanner from GS1 labels after their QR (stockgate:po/ID); the second in two partial receipts with 200.00 landed', async () => {
    // Receipts match the open PO lines of the site and SKU, earliest expectedAt first.
    const fromReq = async (id: string, expectedAt: string) => {
      const po = (await ok('buyer', 'POST', '/api/v1/purchase-orders/from-requisitions', { requisitions: [id], supplier: 'SUP-1', expectedAt })) as { id: string; site: string };
      expect(po.site).toBe(site);
      expect((await ok('buyer', 'POST', `/api/v1/purchase-orders/${po.id}/submit`)).status).toBe('approved');
      return po.id;
    };
    po32 = await fromReq(reqCement32, '2027-01-08');
    po35 = await fromReq(reqCement35, '2027-01-10');
    // The landed cost (freight) of the second PO is known before it arrives.
    expect(await ok('buyer', 'POST', `/api/v1/purchase-orders/${po35}/landed-costs`, { amount: '200.00', allocate: 'value' })).toMatchObject({ pending: '200.00' });

    const lineOf = async (po: string) => (await ok('buyer', 'GET', `/api/v1/purchase-orders/${po}`)) as { status: string; lines: Array<{ received: number; qty: number }> };
    const receiptRows = async () => (await movements()).filter((m) => m.kind === 'receive').reverse();
    // The dock clerk scans the later PO's QR first (issue 10 §3: it pins the PO for the session):
    // without the pin, this delivery would fill the earlier PO (earliest expectedAt first).
    await scan(`stockgate:po/${po35}`, gs1(CEMENT_GTIN, '270430', 'LOT-35', 60));
    await waitFor(async () => (await lineOf(po35)).status === 'partially-received', `${po35} partially received`);
    expect((await lineOf(po35)).lines[0]).toMatchObject({ qty: 100, received: 60 });
    expect((await lineOf(po32)).lines[0]).toMatchObject({ qty: 100, received: 0 });
    expect((await lineOf(po32)).status).toBe('approved');
    // Then the earlier PO's QR and its delivery, then the rest of the later one: two partial receipts of it.
    await scan(`stockgate:po/${po32}`, gs1(CEMENT_GTIN, '270331', 'LOT-32', 100));
    await waitFor(async () => (await lineOf(po32)).status === 'received', `${po32} received`);
    expect((await lineOf(po32)).lines[0]).toMatchObject({ received: 100 });
    expect((await lineOf(po35)).lines[0]).toMatchObject({ received: 60 });
    await scan(`stockgate:po/${po35}`, gs1(CEMENT_GTIN, '270430', 'LOT-35', 40));
    await waitFor(async () => (await lineOf(po35)).status === 'received', `${po35} received`);
    expect((await lineOf(po35)).lines[0]).toMatchObject({ qty: 100, received: 100 });
    // Every ledger row carries the PO that was pinned, with the GS1 label's GTIN, batch, expiry and count.
    expect((await receiptRows()).map((m) => ({ sku: m.sku, gtin: m.gtin, qty: m.qty, batch: m.batch, expiry: m.expiry, po: m.po }))).toEqual([
      { sku: 'CEMENT', gtin: CEMENT_GTIN, qty: 60, batch: 'LOT-35', expiry: '2027-04-30', po: po35 },
      { sku: 'CEMENT', gtin: CEMENT_GTIN, qty: 100, batch: 'LOT-32', expiry: '2027-03-31', po: po32 },
      { sku: 'CEMENT', gtin: CEMENT_GTIN, qty: 40, batch: 'LOT-35', expiry: '2027-04-30', po: po35 },
    ]);
    // Receipts against POs are not flagged as receipts without one.
    const flagged = ((await ok('admin', 'GET', `/api/v1/exceptions?site=${site}&state=all`)).items as Array<{ type: string }>).filter((e) => e.type === 'NO_PO_RECEIPT');
    expect(flagged).toEqual([]);
  });

  it('5: 120 bags issued to project A stage S1 with a crew badge', async () => {
    await scan('MODE:ISSUE', 'CREW:C-12', `stockgate:project/${A}/S1`, 'QTY:120', `]E0${CEMENT_GTIN.slice(1)}`);
    await waitFor(async () => (await movements()).some((m) => m.kind === 'issue'), 'issue applied');
    expect((await movements()).find((m) => m.kind === 'issue')).toMatchObject({ sku: 'CEMENT', qty: 120, project: A, stage: 'S1', crew: 'C-12' });
  });

  it('6: the cost report: average 34.50, material 4140.00, total 9900.00 against 20000.00, margin 10100.00 (50.50%)', async () => {
    await ok('pm-a', 'POST', `/api/v1/projects/${A}/costs`, { category: 'labour', amount: '2160.00', date: '2026-12-05', stage: 'S1', note: 'crew C-12, 3 days' });
    await ok('fin', 'POST', `/api/v1/projects/${A}/costs`, { category: 'equipment', amount: '3600.00', date: '2026-12-05', note: 'crane hire' });
    const report = await waitFor(async () => {
      const r = await ok('pm-a', 'GET', `/api/v1/projects/${A}/cost-report`);
      return r.cost.material === '4140.00' ? r : undefined;
    }, 'material cost posted by the follower');
    expect(report).toEqual({
      contractRevenue: '20000.00',
      cost: { material: '4140.00', labour: '2160.00', equipment: '3600.00', other: '0.00', total: '9900.00' },
      margin: '10100.00',
      marginPct: '50.50',
      stages: [
        // 120 bags planned at the 34.50 average; the rebar of the BOM at its standard cost (20 x 45.00).
        { stage: 'S1', plannedValue: '5040.00', actualMaterial: '4140.00' },
        { stage: 'S2', plannedValue: '600.00', actualMaterial: '0.00' },
      ],
    });
    const csv = await call('fin', 'GET', `/api/v1/projects/${A}/cost-report?format=csv`);
    expect(csv.status).toBe(200);
    expect(String(csv.body)).toContain(`${A},,cost.total,9900.00`);
    expect(String(csv.body)).toContain(`${A},,marginPct,50.50`);
    // B's manager: 404, as if A did not exist; an operator: no cost report at all.
    expect((await call('pm-b', 'GET', `/api/v1/projects/${A}/cost-report`)).status).toBe(404);
    expect((await call('op', 'GET', `/api/v1/projects/${A}/cost-report`)).status).toBe(403);
  });
});
